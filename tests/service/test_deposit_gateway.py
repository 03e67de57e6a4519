"""Plazo fijo through the gateway: JSON API, pages and the simulation PDF, on the real broker."""

import io
import re
from datetime import timedelta

import pytest
from pypdf import PdfReader

from services.deposit.service import DepositService
from services.reports.service import ReportsService
from tests.conftest import load_demo
from tests.helpers import api_login, bearer, start_auth_stack, start_gateway

SIMULATION = "/api/v1/deposit/simulations"


@pytest.fixture
def stack(service_config, container_factory, today):
    start_auth_stack(container_factory, service_config, today, catch_codes=True)  # ana registers
    load_demo(service_config, today, services=["deposit"], count=2)
    for cls in (DepositService, ReportsService):
        container_factory(cls, service_config).start()
    start_gateway(container_factory, service_config)
    return service_config


@pytest.fixture
def maria(stack, http_session):
    return bearer(api_login(http_session, "maria", "Socia-2026!"))


@pytest.fixture
def jose(stack, http_session):
    return bearer(api_login(http_session, "jose", "Socio-2026!"))


@pytest.fixture
def chart_743(stack, rpc_proxy, today):
    """The chart of the "done when" check: 121–180 days at 7.43 %, in force from today."""
    rpc_proxy("deposit").configure_rates(
        {
            "valid_from": today.isoformat(),
            "bands": [
                {"min_days": 30, "max_days": 120, "annual_rate": "6.00"},
                {"min_days": 121, "max_days": 180, "annual_rate": "7.43"},
                {"min_days": 181, "max_days": None, "annual_rate": "8.00"},
            ],
            "withholding_rate": "2.00",
        }
    )


def pdf_text(content):
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_maria_sees_her_deposit(http_session, maria, today):
    answer = http_session.get("/api/v1/deposits", headers=maria)
    assert answer.status_code == 200
    body = answer.json()
    assert body["message"] is None
    [dep] = body["deposits"]
    assert dep["deposit_number"] == "DPF-100234-01"
    assert (dep["amount"], dep["annual_rate"], dep["days_left"]) == ("5000.00", "7.00", 120)
    assert dep["opened_on"] == (today - timedelta(days=60)).isoformat()
    assert dep["maturity_date"] == (today + timedelta(days=120)).isoformat()
    assert dep["accrued_interest"] == "58.33"
    assert (dep["interest"], dep["withholding"], dep["net_interest"]) == (
        "175.00",
        "3.50",
        "171.50",
    )
    assert dep["interest_payment"] == "maturity"


def test_jose_has_no_deposit(http_session, jose):
    answer = http_session.get("/api/v1/deposits", headers=jose)
    assert answer.status_code == 200
    assert answer.json() == {"deposits": [], "message": "No posee plazo fijo"}


def test_ana_registers_and_sees_her_monthly_payments(http_session, stack, today):
    registered = http_session.post(
        "/api/v1/auth/register",
        json={
            "username": "ana.torres",
            "password": "Plazo-Fijo-2026",
            "member_number": "100781",
            "identification": "0104567896",
            "first_name": "Ana",
            "last_name": "Torres",
            "email": "ana.torres@example.com",
        },
    )
    assert registered.status_code == 201, registered.text
    ana = bearer(api_login(http_session, "ana.torres", "Plazo-Fijo-2026"))
    [dep] = http_session.get("/api/v1/deposits", headers=ana).json()["deposits"]
    assert dep["deposit_number"] == "DPF-100781-01"
    assert (dep["amount"], dep["term_days"], dep["annual_rate"]) == ("10000.00", 361, "8.50")
    assert dep["interest_payment"] == "monthly"
    assert [(p["number"], p["date"], p["interest"], p["withholding"], p["net"]) for p in
            dep["payments_made"]] == [(1, today.isoformat(), "70.83", "1.42", "69.41")]  # fmt: skip
    assert len(dep["payments"]) == 13 and dep["payments"][-1]["days"] == 1
    page = http_session.get("/plazo-fijo", cookies={"portal_session": ana["Authorization"][7:]})
    assert "DPF-100781-01" in page.text
    assert "Pagos de interés realizados" in page.text and "$ 69,41" in page.text


def test_rates_are_the_chart_in_force(http_session, maria):
    rates = http_session.get("/api/v1/deposit/rates", headers=maria).json()
    assert rates["withholding_rate"] == "2.00"
    assert {
        "min_days": 361,
        "max_days": None,
        "min_amount": "100.00",
        "max_amount": None,
        "annual_rate": "8.50",
    } in rates["bands"]


def test_deposit_endpoints_need_a_session(http_session, stack):
    for method, path in (
        ("get", "/api/v1/deposits"),
        ("get", "/api/v1/deposit/rates"),
        ("post", SIMULATION),
        ("post", SIMULATION + ".pdf"),
    ):
        answer = getattr(http_session, method)(path, json={})
        assert answer.status_code == 401, path
        assert answer.json()["error"]["code"] == "unauthenticated"
    page = http_session.get("/plazo-fijo", allow_redirects=False)
    assert page.status_code == 303 and page.headers["Location"] == "/login?next=%2Fplazo-fijo"


def test_simulation_of_the_worked_example(http_session, maria, chart_743, today):
    answer = http_session.post(
        SIMULATION,
        json={"amount": "5000.00", "term_days": 180, "interest_payment": "maturity"},
        headers=maria,
    )
    assert answer.status_code == 200
    sim = answer.json()
    assert sim["annual_rate"] == "7.43"
    assert (sim["interest"], sim["withholding"], sim["net_interest"]) == (
        "185.75",
        "3.72",
        "182.03",
    )
    assert sim["start_date"] == today.isoformat()
    assert sim["maturity_date"] == (today + timedelta(days=180)).isoformat()
    assert sim["total_at_maturity"] == "5182.03"
    assert [p["net"] for p in sim["payments"]] == ["182.03"]
    # maria's deposit keeps the rate it was opened at
    [dep] = http_session.get("/api/v1/deposits", headers=maria).json()["deposits"]
    assert dep["annual_rate"] == "7.00"


def test_simulation_with_monthly_payments(http_session, maria, today):
    start = (today + timedelta(days=7)).isoformat()
    sim = http_session.post(
        SIMULATION,
        json={
            "amount": 10000,  # a JSON number with no decimals is an amount (docs/domain.md)
            "term_days": 361,
            "interest_payment": "monthly",
            "start_date": start,
        },
        headers=maria,
    ).json()
    assert sim["start_date"] == start and sim["annual_rate"] == "8.50"
    assert len(sim["payments"]) == 13
    assert sim["payments"][0]["date"] == (today + timedelta(days=37)).isoformat()
    assert sim["interest"] == "852.32"


OK = {"amount": "5000.00", "term_days": 180, "interest_payment": "maturity"}


# The messages of every refused amount, term, payment mode and date are checked once, over RPC,
# in test_deposit_service.py (test_bad_input_is_refused_with_spanish_fields and
# test_past_start_date_and_bad_dates_are_refused); here the API's error shape, and the unknown
# field that only the gateway refuses.
@pytest.mark.parametrize(
    "body, field, message",
    [
        ({**OK, "amount": "99.99"}, "amount", "El monto mínimo es $ 100,00."),
        ({**OK, "rate": "9.00"}, "rate", "Campo no permitido."),
    ],
)
def test_bad_simulation_is_422_with_spanish_fields(http_session, maria, body, field, message):
    answer = http_session.post(SIMULATION, json=body, headers=maria)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"] == "Revise los datos ingresados."
    assert error["fields"][field] == [message]


def test_body_that_is_not_json_is_400(http_session, maria):
    answer = http_session.post(
        SIMULATION, data="amount=5000", headers={**maria, "Content-Type": "text/plain"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "bad_request"


def test_simulation_pdf_reads_back_with_the_worked_numbers(http_session, maria, chart_743):
    answer = http_session.post(
        SIMULATION + ".pdf",
        json={"amount": "5000.00", "term_days": 180, "interest_payment": "maturity"},
        headers=maria,
    )
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/pdf"
    assert "simulacion-plazo-fijo.pdf" in answer.headers["Content-Disposition"]
    text = pdf_text(answer.content)
    assert "Simulación de plazo fijo" in text
    assert "María Pérez" in text and "100234" in text and "17******75" in text
    assert "7,43 %" in text
    for figure in ("$ 5.000,00", "$ 185,75", "$ 3,72", "$ 182,03", "$ 5.182,03"):
        assert figure in text, figure
    assert "Página 1 de 1" in text


def test_bad_pdf_request_is_422_not_a_pdf(http_session, maria):
    answer = http_session.post(
        SIMULATION + ".pdf",
        json={"amount": "10.00", "term_days": 180, "interest_payment": "maturity"},
        headers=maria,
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["fields"]["amount"] == ["El monto mínimo es $ 100,00."]


def test_openapi_documents_the_deposit_operations(http_session, stack):
    paths = http_session.get("/api/v1/openapi.json").json()["paths"]
    assert "get" in paths["/api/v1/deposits"]
    assert "get" in paths["/api/v1/deposit/rates"]
    assert "422" in paths[SIMULATION]["post"]["responses"]
    assert "application/pdf" in paths[SIMULATION + ".pdf"]["post"]["responses"]["200"]["content"]


# --- pages -------------------------------------------------------------------------------------


def browser_like(http_session, headers):
    """The session cookie of an API login: the pages read it like a browser's."""
    http_session.cookies.set("portal_session", headers["Authorization"][7:])
    return http_session


def csrf_of(session):
    page = session.get("/plazo-fijo/simulacion")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_plazo_fijo_page_of_maria(http_session, maria):
    page = browser_like(http_session, maria).get("/plazo-fijo")
    assert page.status_code == 200
    assert "DPF-100234-01" in page.text
    assert "$ 5.000,00" in page.text and "7,00 %" in page.text
    assert "$ 58,33" in page.text and "$ 171,50" in page.text
    assert "No posee plazo fijo" not in page.text


def test_plazo_fijo_page_of_jose(http_session, jose):
    page = browser_like(http_session, jose).get("/plazo-fijo")
    assert page.status_code == 200
    assert "No posee plazo fijo" in page.text


def test_simulation_page_projects_with_every_field(http_session, maria, chart_743, today):
    session = browser_like(http_session, maria)
    form = session.get("/plazo-fijo/simulacion")
    for name in ("amount", "term_days", "interest_payment", "start_date"):
        assert f'name="{name}"' in form.text
    assert "Proyectar" in form.text
    page = session.post(
        "/plazo-fijo/simulacion",
        data={
            "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1),
            "amount": "5.000,00",
            "term_days": "180",
            "interest_payment": "maturity",
            "start_date": today.isoformat(),
        },
    )
    assert page.status_code == 200
    assert "Proyección" in page.text
    for figure in ("$ 185,75", "$ 3,72", "$ 182,03", "7,43 %", "Descargar PDF"):
        assert figure in page.text, figure


def test_simulation_page_shows_errors_beside_the_fields(http_session, maria):
    session = browser_like(http_session, maria)
    page = session.post(
        "/plazo-fijo/simulacion",
        data={
            "csrf_token": csrf_of(session),
            "amount": "50",
            "term_days": "2000",
            "interest_payment": "maturity",
            "start_date": "",
        },
    )
    assert page.status_code == 422
    assert "El monto mínimo es $ 100,00." in page.text
    assert "El plazo máximo es de 1.080 días." in page.text
    assert 'value="50,00"' in page.text  # the member's amount is kept, as read (es-EC)
    assert "Proyección" not in page.text


def test_simulation_form_without_csrf_is_refused(http_session, maria):
    session = browser_like(http_session, maria)
    page = session.post(
        "/plazo-fijo/simulacion",
        data={"amount": "5000", "term_days": "180", "interest_payment": "maturity"},
    )
    assert page.status_code == 400
    assert "El formulario expiró" in page.text


def test_print_button_gives_the_pdf(http_session, maria):
    session = browser_like(http_session, maria)
    answer = session.post(
        "/plazo-fijo/simulacion.pdf",
        data={
            "csrf_token": csrf_of(session),
            "amount": "10000",
            "term_days": "361",
            "interest_payment": "monthly",
            "start_date": "",
        },
    )
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/pdf"
    assert answer.headers["Content-Disposition"].startswith("inline")
    text = pdf_text(answer.content)
    assert "Mensual" in text and "$ 70,83" in text and "$ 852,32" in text
