"""The member's pages for a phone and a shared computer (issue 15): no page is kept by the
browser, the position opens with what the member owes next, a mistyped address keeps the menu,
the portal can be installed on a phone's home screen."""

import re
from html import unescape

import pytest

from services.credit.service import CreditService
from services.deposit.service import DepositService
from services.reports.service import ReportsService
from tests.conftest import load_demo
from tests.helpers import api_login, start_auth_stack, start_gateway

MEMBER_PAGES = (
    "/",
    "/estado-de-cuenta",
    "/estado-de-cuenta?cuenta=4100234001",
    "/creditos",
    "/creditos/CR-100234-02",
    "/creditos/simulacion",
    "/creditos/solicitud",
    "/creditos/solicitudes",
    "/creditos/garantias",
    "/plazo-fijo",
    "/plazo-fijo/simulacion",
    "/opciones/cambiar-contrasena",
    "/no-existe",
)


@pytest.fixture
def maria(service_config, container_factory, today, http_session):
    start_auth_stack(container_factory, service_config, today)
    load_demo(service_config, today, services=["credit", "deposit"], count=2)
    for cls in (CreditService, DepositService, ReportsService):
        container_factory(cls, service_config).start()
    start_gateway(container_factory, service_config)
    http_session.cookies.set("portal_session", api_login(http_session, "maria", "Socia-2026!"))
    return http_session


def visible(html):
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_no_member_page_is_kept_by_the_browser_and_after_salir_they_lead_to_login(maria):
    for path in MEMBER_PAGES:
        page = maria.get(path, allow_redirects=False)
        assert page.status_code in (200, 404), (path, page.status_code)
        assert "no-store" in page.headers.get("Cache-Control", ""), path
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', maria.get("/").text)[1]
    out = maria.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert out.status_code in (302, 303)
    assert "no-store" in out.headers.get("Cache-Control", "")
    # what Back asks the server again (nothing was kept): the login page, no balance
    back = maria.get("/", allow_redirects=False)
    assert back.status_code in (302, 303) and back.headers["Location"].startswith("/login")
    assert "no-store" in back.headers.get("Cache-Control", "")
    login = maria.get(back.headers["Location"])
    assert "Ingresar" in login.text or "Usuario" in login.text
    assert "$ " not in visible(login.text)


def test_the_position_opens_with_what_the_member_owes_next(maria):
    html = maria.get("/").text
    first = html.index('id="next-payments"')
    assert first < html.index('id="position-totals"') < html.index('id="loans"')
    overdue = visible(
        re.search(r'<li class="due overdue" id="due-CR-100234-02">.*?</li>', html, re.S)[0]
    )
    token = maria.cookies.get("portal_session")
    loan = maria.get(
        "/api/v1/loans/CR-100234-02", headers={"Authorization": f"Bearer {token}"}
    ).json()
    late = [r for r in loan["rows"] if r["status"] == "vencida"]
    assert late, "the demo's CR-100234-02 has an overdue installment"
    since = "/".join(reversed(late[0]["due_date"].split("-")))
    assert f"Cuota vencida desde {since}" in overdue
    # what the core says it costs today (the demo's loan_dues.csv), on its date
    due = float(loan["total_due"])
    assert f"$ {due:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".") in overdue
    on = "/".join(reversed(loan["due_as_of"].split("-")))
    assert f"según la cooperativa al {on}" in overdue
    assert "Páguelo" in overdue  # what to do
    assert (
        'href="/creditos/CR-100234-02"'
        in re.search(r'id="due-CR-100234-02">.*?</li>', html, re.S)[0]
    )
    # the loan that is up to date says when and how much is next
    current = visible(re.search(r'<li class="due" id="due-CR-100234-01">.*?</li>', html, re.S)[0])
    assert "Próxima cuota el " in current and "$ " in current
    # every row leads to its details
    assert '<a href="/creditos/CR-100234-01">CR-100234-01</a>' in html
    assert re.search(r'<a href="/plazo-fijo#DPF-100234-01">DPF-100234-01</a>', html)
    assert 'href="/estado-de-cuenta?cuenta=4100234001"' in html


def test_a_mistyped_address_answers_404_with_the_menu(maria):
    page = maria.get("/creditos/no/existe")
    assert page.status_code == 404
    assert 'id="menu"' in page.text and "Simulación de créditos" in page.text
    assert "Página no encontrada" in page.text


def test_the_portal_can_be_installed_on_a_phone(http_session, service_config, container_factory):
    start_gateway(container_factory, service_config)
    manifest = http_session.get("/manifest.webmanifest")
    assert manifest.status_code == 200
    assert manifest.headers["Content-Type"].startswith("application/manifest+json")
    data = manifest.json()
    assert data["display"] == "standalone" and data["start_url"] == "/"
    assert data["theme_color"] == "#0b5d3b" and "Cooperativa" in data["name"]
    sizes = {icon["sizes"] for icon in data["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in data["icons"]:
        answer = http_session.get(icon["src"])
        assert answer.status_code == 200 and answer.headers["Content-Type"].startswith(icon["type"])
    login = http_session.get("/login").text
    assert '<link rel="manifest" href="/manifest.webmanifest">' in login
    assert 'rel="icon"' in login
    assert http_session.get("/favicon.ico").status_code == 200


def test_a_taken_user_name_says_so_once(maria):
    page = maria.get("/registro")
    form = {
        "member_number": "101245",
        "identification": "1803456787",
        "first_name": "elena",
        "last_name": "LEMA",
        "email": "carmen.quishpe@example.com",
        "username": "maria",
        "password": "Nevado-Chimborazo-3",
        "password2": "Nevado-Chimborazo-3",
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1],
    }
    answer = maria.post("/registro", data=form)
    assert answer.status_code == 409
    assert answer.text.count("El nombre de usuario ya está en uso") == 1
    assert 'id="username-error"' in answer.text
