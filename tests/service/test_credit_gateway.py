"""Créditos over HTTP: the JSON API of docs/api.md and the pages, on the real broker with the real
accounts, auth, credit and reports services behind the gateway."""

import io
import re
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from gateway.web.render import money, number
from services.common.db import session_scope
from services.credit import catalog, domain
from services.credit.models import Application
from services.credit.service import CreditService
from services.reports.service import ReportsService
from tests.conftest import load_demo
from tests.helpers import DEMO_USERS, api_login, bearer, start_auth_stack, start_gateway

D = Decimal


@pytest.fixture
def portal(service_config, container_factory, today):
    start_auth_stack(container_factory, service_config, today)
    load_demo(service_config, today, services=["credit"], count=2)
    for cls in (CreditService, ReportsService):
        container_factory(cls, service_config).start()
    start_gateway(container_factory, service_config)
    return service_config


def login(http_session, username):
    return bearer(api_login(http_session, username, DEMO_USERS[username][0]))


@pytest.fixture
def maria(portal, http_session):
    return login(http_session, "maria")


@pytest.fixture
def jose(portal, http_session):
    return login(http_session, "jose")


def pdf_text(answer):
    assert answer.status_code == 200, answer.text[:500]
    assert answer.headers["Content-Type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(answer.content))
    return "\n".join(page.extract_text() for page in reader.pages)


def count_applications(portal):
    with session_scope(portal["CREDIT_DATABASE_URL"]) as session:
        return session.scalar(select(func.count(Application.id)))


def application_body(today, **changes):
    body = {
        "product_code": "CONSUMO",
        "amount": "5000.00",
        "term_months": 24,
        "system": "french",
        "frequency": "monthly",
        "start_date": today.isoformat(),
        "purpose": "Ampliación del local",
        "monthly_income": "1800.00",
        "monthly_expenses": "600.00",
        "guarantors": [{"identification": "1709876542", "name": "Luis Alberto Cárdenas Ruiz"}],
    }
    body.update(changes)
    return body


CREDIT_ENDPOINTS = [
    ("GET", "/api/v1/loans"),
    ("GET", "/api/v1/loans/CR-100234-01"),
    ("GET", "/api/v1/loans/CR-100234-01/schedule.pdf"),
    ("GET", "/api/v1/guarantees"),
    ("GET", "/api/v1/credit/products"),
    ("POST", "/api/v1/credit/simulations"),
    ("GET", "/api/v1/credit/simulations.pdf"),
    ("POST", "/api/v1/credit/applications"),
    ("GET", "/api/v1/credit/applications"),
    ("POST", "/api/v1/credit/applications/SC-2026-000001/withdraw"),
]


def test_every_credit_endpoint_needs_a_session(portal, http_session):
    for method, path in CREDIT_ENDPOINTS:
        answer = http_session.request(method, path, json={})
        assert answer.status_code == 401, path
        assert answer.json()["error"]["code"] == "unauthenticated"


def test_loans_of_maria_and_none_for_jose(http_session, maria, jose):
    answer = http_session.get("/api/v1/loans", headers=maria)
    assert answer.status_code == 200
    loans = answer.json()["loans"]
    assert [loan["loan_number"] for loan in loans] == ["CR-100234-01", "CR-100234-02"]
    assert loans[1]["overdue_installments"] == 1
    assert loans[0]["amount"] == "12000.00"
    answer = http_session.get("/api/v1/loans", headers=jose)
    assert answer.json() == {"loans": [], "message": "No posee créditos vigentes"}


def test_loan_with_its_stored_table(http_session, maria, today):
    answer = http_session.get("/api/v1/loans/CR-100234-02", headers=maria)
    assert answer.status_code == 200
    loan = answer.json()
    statuses = [row["status"] for row in loan["rows"]]
    assert statuses[:7] == ["pagada"] * 5 + ["vencida", "pendiente"]
    assert loan["rows"][5]["paid_on"] is None and loan["rows"][0]["paid_on"]
    assert set(loan["rows"][0]) >= {
        "number",
        "due_date",
        "principal",
        "interest",
        "insurance",
        "installment",
        "balance",
        "status",
        "paid_on",
    }
    assert sum(D(r["principal"]) for r in loan["rows"]) == D(loan["amount"])


ARREARS = ("days_overdue", "oldest_overdue_due_date", "late_interest", "total_due", "due_as_of")


def test_a_loan_in_arrears_says_since_when_the_late_interest_and_the_total_today(
    portal, http_session, maria, today
):
    from datetime import timedelta

    from tests.service import event_tools
    from tests.service.core_tools import core_event, publish_core

    loan = http_session.get("/api/v1/loans/CR-100234-02", headers=maria).json()
    late = [row for row in loan["rows"] if row["status"] == "vencida"]
    assert late and loan["next_due_date"] >= today.isoformat()  # never a past date
    # the demo's core told yesterday's close; today's snapshot replaces it
    assert loan["due_as_of"] == (today - timedelta(days=1)).isoformat()
    assert loan["oldest_overdue_due_date"] == late[0]["due_date"]
    as_of = today
    snapshot = {
        "loan_number": "CR-100234-02",
        "as_of": as_of.isoformat(),
        "days_overdue": 15,
        "overdue_installments": [late[0]["number"]],
        "overdue_principal": late[0]["principal"],
        "overdue_interest": late[0]["interest"],
        "late_interest": "2.10",
        "other_charges": "0.00",
        "total_due": f"{Decimal(late[0]['installment']) + Decimal('2.10'):.2f}",
    }
    publish_core(portal["AMQP_URI"], core_event("loan_due_updated", snapshot))

    def listed():
        loans = http_session.get("/api/v1/loans", headers=maria).json()["loans"]
        return next(x for x in loans if x["loan_number"] == "CR-100234-02")

    event_tools.wait_until(lambda: listed()["due_as_of"] == as_of.isoformat(), timeout=30)
    expected = {
        "days_overdue": 15,
        "oldest_overdue_due_date": late[0]["due_date"],
        "late_interest": "2.10",
        "total_due": snapshot["total_due"],
        "due_as_of": as_of.isoformat(),
    }
    assert {key: listed()[key] for key in ARREARS} == expected
    detail = http_session.get("/api/v1/loans/CR-100234-02", headers=maria).json()
    assert {key: detail[key] for key in ARREARS} == expected

    since, on = (
        "/".join(reversed(late[0]["due_date"].split("-"))),
        as_of.strftime("%d/%m/%Y"),
    )
    said = (
        f"vencida desde {since} (15 días)",
        "Interés de mora $ 2,10",
        f"total a pagar hoy {money(snapshot['total_due'])} según la cooperativa al {on}",
    )
    cookies = {"portal_session": maria["Authorization"].removeprefix("Bearer ")}
    for page in ("/creditos", "/creditos/CR-100234-02"):
        text = re.sub(
            r"\s+", " ", re.sub(r"<[^>]+>", " ", http_session.get(page, cookies=cookies).text)
        )
        for words in said:
            assert words in text, (page, words)
    # the position leads with it, and no longer invites to pay "to avoid" a mora already due
    home = http_session.get("/", cookies=cookies).text
    card = re.sub(
        r"\s+",
        " ",
        re.sub(r"<[^>]+>", " ", re.search(r'id="due-CR-100234-02">.*?</li>', home, re.S)[0]),
    )
    assert f"Cuota vencida desde {since} (15 días)" in card
    assert money(snapshot["total_due"]) in card
    assert f"Total a pagar hoy según la cooperativa al {on}" in card
    assert "interés de mora de $ 2,10" in card and "Páguelo hoy" in card
    assert "para evitar intereses de mora" not in card
    pdf = re.sub(
        r"\s+",
        " ",
        pdf_text(http_session.get("/api/v1/loans/CR-100234-02/schedule.pdf", headers=maria)),
    )
    for words in said:
        assert words.replace("Interés", "interés") in pdf.replace("Interés", "interés"), words
    # the position's PDF says it under its loans too
    position = re.sub(
        r"\s+", " ", pdf_text(http_session.get("/api/v1/position.pdf", headers=maria))
    )
    assert f"CR-100234-02: cuota {said[0]}" in position
    for words in said[1:]:
        assert words.replace("Interés", "interés") in position.replace("Interés", "interés"), words


def test_another_members_loan_answers_404_like_a_missing_one(http_session, jose):
    other = http_session.get("/api/v1/loans/CR-100234-01", headers=jose)
    missing = http_session.get("/api/v1/loans/CR-000000-99", headers=jose)
    assert other.status_code == missing.status_code == 404
    assert other.json() == missing.json()
    assert other.json()["error"]["code"] == "not_found"
    pdf = http_session.get("/api/v1/loans/CR-100234-01/schedule.pdf", headers=jose)
    assert pdf.status_code == 404
    assert pdf.json() == missing.json()


def test_schedule_pdf_holds_the_installments_and_totals(http_session, maria):
    loan = http_session.get("/api/v1/loans/CR-100234-02", headers=maria).json()
    text = pdf_text(http_session.get("/api/v1/loans/CR-100234-02/schedule.pdf", headers=maria))
    assert "Tabla de amortización" in text and "CR-100234-02" in text
    assert "María Pérez" in text and "17******75" in text
    assert "Página 1 de" in text
    for row in loan["rows"]:
        assert number(row["installment"]) in text  # the columns are in USD, without "$"
    assert "vencida" in text and "pagada" in text
    assert money(loan["total_payment"]) in text
    assert money(loan["total_interest"]) in text
    assert money(loan["total_insurance"]) in text


def test_guarantees_both_directions(http_session, maria, jose):
    answer = http_session.get("/api/v1/guarantees", headers=maria).json()
    assert {g["loan_number"] for g in answer["guarantors"]} == {
        "CR-100234-00",
        "CR-100234-01",
        "CR-100234-02",
    }
    assert answer["guaranteed_by_me"][0]["loan_number"] == "CR-101002-01"
    for item in answer["guarantors"] + answer["guaranteed_by_me"]:
        assert set(item) >= {
            "loan_number",
            "identification_masked",
            "name",
            "since",
            "until",
            "status",
        }
        assert re.fullmatch(r"\d\d\*{6}\d\d", item["identification_masked"])
    jose_answer = http_session.get("/api/v1/guarantees", headers=jose).json()
    assert jose_answer["guarantors"] == []
    assert jose_answer["guaranteed_by_me"][0]["name"] == "María Fernanda Pérez Gómez"


def test_products(http_session, maria):
    products = http_session.get("/api/v1/credit/products", headers=maria).json()["products"]
    assert {p["code"] for p in products} == {"CONSUMO", "MICRO", "VIVIENDA", "EMERGENTE"}
    vivienda = next(p for p in products if p["code"] == "VIVIENDA")
    assert (vivienda["annual_rate"], vivienda["min_amount"], vivienda["max_term_months"]) == (
        "9.95",
        "10000.00",
        240,
    )
    assert set(vivienda) >= {
        "code",
        "name",
        "segment",
        "annual_rate",
        "min_amount",
        "max_amount",
        "max_term_months",
        "systems",
        "frequencies",
        "insurance_rate",
    }


def test_simulation_of_10000_at_16_77_gives_domain_md_numbers(portal, http_session, maria, today):
    with session_scope(portal["CREDIT_DATABASE_URL"]) as session:
        catalog.load_product(
            session,
            domain.Product(
                "PRUEBA",
                "Producto de prueba",
                "Microcrédito",
                D("16.77"),
                D("100"),
                D("20000"),
                48,
                insurance_rate=D("0"),
            ),
            today,
        )
    body = {"product_code": "PRUEBA", "amount": "10000.00", "term_months": 12}
    body["frequency"] = "monthly"
    french = http_session.post(
        "/api/v1/credit/simulations", json={**body, "system": "french"}, headers=maria
    ).json()
    assert french["installment"] == "910.96"
    assert french["rows"][-1]["installment"] == "910.90"
    assert french["total_interest"] == "931.46"
    german = http_session.post(
        "/api/v1/credit/simulations", json={**body, "system": "german"}, headers=maria
    ).json()
    assert german["installment"] == "973.08"
    assert (german["rows"][0]["principal"], german["rows"][0]["interest"]) == ("833.33", "139.75")
    assert german["rows"][-1]["installment"] == "845.02"
    assert german["total_interest"] == "908.38"
    text = pdf_text(
        http_session.get(
            "/api/v1/credit/simulations.pdf",
            params={**body, "system": "french"},
            headers=maria,
        )
    )
    assert " 910,96 " in text and " 910,90 " in text
    assert "$ 931,46" in text and "$ 10.931,46" in text
    assert count_applications(portal) == 0


def test_bad_simulation_is_422_in_spanish(http_session, maria):
    answer = http_session.post(
        "/api/v1/credit/simulations",
        json={
            "product_code": "CONSUMO",
            "amount": "100.00",
            "term_months": 12,
            "system": "french",
            "frequency": "monthly",
        },
        headers=maria,
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "validation_error"
    assert error["fields"]["amount"] == [
        "El monto debe estar entre $ 500,00 y $ 40.000,00 para Crédito de consumo."
    ]
    not_json = http_session.post(
        "/api/v1/credit/simulations",
        data="monto=100",
        headers={**maria, "Content-Type": "application/json"},
    )
    assert not_json.status_code == 400


def test_application_is_saved_once_per_idempotency_key(portal, http_session, maria, today):
    headers = {**maria, "Idempotency-Key": "app-key-1"}
    first = http_session.post(
        "/api/v1/credit/applications", json=application_body(today), headers=headers
    )
    assert first.status_code == 201, first.text
    created = first.json()
    assert created["status"] == "ingresada"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", created["submitted_at"])
    assert created["schedule"]["installments_count"] == 24
    again = http_session.post(
        "/api/v1/credit/applications", json=application_body(today), headers=headers
    )
    assert again.status_code == 201 and again.json() == created
    conflict = http_session.post(
        "/api/v1/credit/applications",
        json=application_body(today, amount="7000.00"),
        headers=headers,
    )
    assert conflict.status_code == 409
    assert count_applications(portal) == 1
    listed = http_session.get("/api/v1/credit/applications", headers=maria).json()
    assert [a["application_number"] for a in listed["applications"]] == [
        created["application_number"]
    ]
    assert listed["applications"][0]["status"] == "ingresada"


def test_an_equal_application_in_process_is_409_until_withdrawn(portal, http_session, maria, today):
    def send(key, **changes):
        return http_session.post(
            "/api/v1/credit/applications",
            json=application_body(today, **changes),
            headers={**maria, "Idempotency-Key": key},
        )

    first = send("primera")
    assert first.status_code == 201, first.text
    number = first.json()["application_number"]
    again = send("otra-clave")  # the same product, amount and term a minute later
    assert again.status_code == 409
    error = again.json()["error"]
    assert error["code"] == "conflict" and number in error["message"]
    assert count_applications(portal) == 1

    withdrawn = http_session.post(f"/api/v1/credit/applications/{number}/withdraw", headers=maria)
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "desistida"
    assert [s["status"] for s in withdrawn.json()["history"]] == ["ingresada", "desistida"]
    twice = http_session.post(f"/api/v1/credit/applications/{number}/withdraw", headers=maria)
    assert twice.status_code == 409 and number in twice.json()["error"]["message"]

    # no longer in process: the member may apply for the same again
    assert send("tercera").status_code == 201
    listed = http_session.get("/api/v1/credit/applications", headers=maria).json()
    assert sorted(a["status"] for a in listed["applications"]) == ["desistida", "ingresada"]


def test_another_members_application_cannot_be_withdrawn(http_session, maria, jose, today):
    created = http_session.post(
        "/api/v1/credit/applications",
        json=application_body(today),
        headers={**maria, "Idempotency-Key": "de-maria"},
    ).json()
    answer = http_session.post(
        f"/api/v1/credit/applications/{created['application_number']}/withdraw", headers=jose
    )
    assert answer.status_code == 404
    mine = http_session.get("/api/v1/credit/applications", headers=maria).json()
    assert mine["applications"][0]["status"] == "ingresada"


# Every rule of an application (amount, term, product, dates, income, guarantors) is checked
# once, over RPC, by test_credit_service.py::test_bad_application_is_422_and_stores_nothing; here
# only that the gateway answers one refusal as a 422 in the API's error shape, storing nothing.
@pytest.mark.parametrize("changes, field", [({"amount": "45000.00"}, "amount")])
def test_bad_application_is_422_and_nothing_is_stored(
    portal, http_session, maria, today, changes, field
):
    answer = http_session.post(
        "/api/v1/credit/applications",
        json=application_body(today, **changes),
        headers={**maria, "Idempotency-Key": "mala"},
    )
    assert answer.status_code == 422, answer.text
    fields = answer.json()["error"]["fields"]
    assert field in fields and all(fields[field])
    assert count_applications(portal) == 0


# --- pages ----------------------------------------------------------------------------------


def page_session(http_session, headers):
    http_session.cookies.set("portal_session", headers["Authorization"].split()[1])
    return http_session


def test_pages_of_jose_say_no_active_loans(http_session, jose):
    session = page_session(http_session, jose)
    page = session.get("/creditos")
    assert page.status_code == 200
    assert "No posee créditos vigentes" in page.text
    other = session.get("/creditos/CR-100234-02")
    assert other.status_code == 404
    assert "CR-100234-02" not in other.text.split("<main")[1]


def test_loan_page_shows_the_overdue_row_and_the_pdf_link(http_session, maria):
    session = page_session(http_session, maria)
    page = session.get("/creditos/CR-100234-02")
    assert page.status_code == 200
    assert 'class="status-vencida">vencida' in page.text
    assert "/creditos/CR-100234-02/tabla.pdf" in page.text
    pdf = session.get("/creditos/CR-100234-02/tabla.pdf")
    assert pdf.headers["Content-Type"] == "application/pdf"


def test_application_page_projects_then_saves_once(portal, http_session, maria):
    session = page_session(http_session, maria)
    form = session.get("/creditos/solicitud")
    assert form.status_code == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    data = {
        "csrf_token": csrf,
        "action": "proyectar",
        "product_code": "EMERGENTE",
        "amount": "1.500,00",
        "term_months": "12",
        "system": "german",
        "frequency": "monthly",
        "start_date": "",
        "purpose": "Gastos médicos",
        "monthly_income": "1200",
        "monthly_expenses": "400",
        "guarantor_id_1": "0104567896",
        "guarantor_name_1": "Ana Lucía Torres Vega",
    }
    projected = session.post("/creditos/solicitud", data=data)
    assert projected.status_code == 200
    assert "Tabla de amortización presuntiva" in projected.text and 'id="grabar"' in projected.text
    assert count_applications(portal) == 0
    token = re.search(r'name="form_token" value="([^"]+)"', projected.text).group(1)
    data.update(action="grabar", form_token=token)
    first = session.post("/creditos/solicitud", data=data, allow_redirects=False)
    second = session.post("/creditos/solicitud", data=data, allow_redirects=False)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert count_applications(portal) == 1
    listing = session.get(first.headers["Location"])
    assert "fue registrada con estado" in listing.text
    without_csrf = session.post("/creditos/solicitud", data={**data, "csrf_token": "x"})
    assert without_csrf.status_code == 400
    assert count_applications(portal) == 1


def test_an_equal_application_on_the_page_names_the_first_then_can_be_withdrawn(
    portal, http_session, maria, today
):
    http_session.post(
        "/api/v1/credit/applications",
        json=application_body(today),
        headers={**maria, "Idempotency-Key": "primera"},
    )
    [first] = http_session.get("/api/v1/credit/applications", headers=maria).json()["applications"]
    number = first["application_number"]
    session = page_session(http_session, maria)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', session.get("/").text).group(1)
    form = {
        "csrf_token": csrf,
        "action": "grabar",
        "form_token": "otra-proyeccion",
        "product_code": "CONSUMO",
        "amount": "5.000,00",
        "term_months": "24",
        "system": "french",
        "frequency": "monthly",
        "start_date": today.isoformat(),
        "purpose": "Ampliación del local",
        "monthly_income": "1.800",
        "monthly_expenses": "600",
        "guarantor_id_1": "1709876542",
        "guarantor_name_1": "Luis Alberto Cárdenas Ruiz",
    }
    refused = session.post("/creditos/solicitud", data=form, allow_redirects=False)
    assert refused.status_code == 409
    conflict = re.search(r'id="application-conflict"[^>]*>(.*?)</p>', refused.text, re.S)
    assert conflict and number in conflict.group(1)
    assert count_applications(portal) == 1

    listing = session.get("/creditos/solicitudes")
    assert f'action="/creditos/solicitudes/{number}/desistir"' in listing.text
    done = session.post(
        f"/creditos/solicitudes/{number}/desistir",
        data={"csrf_token": csrf},
        allow_redirects=False,
    )
    assert done.status_code == 303
    after = session.get(done.headers["Location"])
    assert f"Usted desistió de la solicitud {number}" in after.text
    assert f"/creditos/solicitudes/{number}/desistir" not in after.text
    assert 'data-status="desistida">Desistida' in after.text


def test_application_page_shows_spanish_field_errors(http_session, maria):
    session = page_session(http_session, maria)
    form = session.get("/creditos/solicitud")
    answer = session.post(
        "/creditos/solicitud",
        data={
            "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1),
            "action": "proyectar",
            "product_code": "CONSUMO",
            "amount": "abc",
            "term_months": "12",
            "system": "french",
            "frequency": "monthly",
            "purpose": "Viaje",
            "monthly_income": "1000",
            "monthly_expenses": "0",
            "guarantor_id_1": "1712345675",
            "guarantor_name_1": "María Pérez",
        },
    )
    assert answer.status_code == 422
    assert "Escriba el monto en dólares, por ejemplo 2.500,00 o 2500." in answer.text
    assert 'id="grabar"' not in answer.text


def test_openapi_documents_the_credit_operations(portal, http_session):
    spec = http_session.get("/api/v1/openapi.json").json()
    for path in (
        "/api/v1/loans",
        "/api/v1/loans/{loan_number}",
        "/api/v1/loans/{loan_number}/schedule.pdf",
        "/api/v1/guarantees",
        "/api/v1/credit/products",
        "/api/v1/credit/simulations",
        "/api/v1/credit/applications",
    ):
        assert path in spec["paths"], path
    assert "201" in spec["paths"]["/api/v1/credit/applications"]["post"]["responses"]
