"""No input gives a 5xx (docs/api.md, docs/domain.md "Time" and "Money and rounding"): start dates
far ahead, a statement page beyond the last, counts that are not integers, amounts outside the
wire pattern, and what the HTTP server itself refuses (long URL, long or many headers) all answer
a clear Spanish error in the API's shape, on the real broker with the real services."""

import re
from datetime import timedelta

import pytest

from services.common.clock import CLOCK, latest_start
from services.credit.service import CreditService
from services.deposit.service import DepositService
from services.reports.service import ReportsService
from tests.conftest import load_demo
from tests.helpers import DEMO_USERS, api_login, bearer, start_auth_stack, start_gateway


@pytest.fixture
def stack(service_config, container_factory, today):
    start_auth_stack(container_factory, service_config, today)
    load_demo(service_config, today, services=["credit", "deposit"], count=2)
    for cls in (CreditService, DepositService, ReportsService):
        container_factory(cls, service_config).start()
    start_gateway(container_factory, service_config)
    return service_config


@pytest.fixture
def maria(stack, http_session):
    return bearer(api_login(http_session, "maria", DEMO_USERS["maria"][0]))


def credit_body(**changes):
    body = {
        "product_code": "VIVIENDA",
        "amount": "50000.00",
        "term_months": 240,
        "system": "french",
        "frequency": "monthly",
    }
    return {**body, **changes}


def deposit_body(**changes):
    return {"amount": "5000.00", "term_days": 1080, "interest_payment": "maturity", **changes}


def assert_refused(answer, field):
    assert answer.status_code == 422, (answer.status_code, answer.text[:300])
    error = answer.json()["error"]
    assert error["code"] == "validation_error"
    assert error["fields"][field], error
    return error["fields"][field][0]


def test_start_dates_more_than_a_year_ahead_are_422_not_5xx(maria, http_session):
    far = {"start_date": "9998-03-31"}
    message = assert_refused(
        http_session.post("/api/v1/credit/simulations", json=credit_body(**far), headers=maria),
        "start_date",
    )
    assert "un año" in message
    pdf = http_session.get(
        "/api/v1/credit/simulations.pdf",
        params={**credit_body(**far), "term_months": "240"},
        headers=maria,
    )
    assert_refused(pdf, "start_date")
    for path in ("/api/v1/deposit/simulations", "/api/v1/deposit/simulations.pdf"):
        body = deposit_body(start_date="9999-12-01")
        assert_refused(http_session.post(path, json=body, headers=maria), "start_date")

    # the last day allowed still simulates; the day after is refused
    limit = latest_start(CLOCK.today())  # Ecuador's today
    ok = http_session.post(
        "/api/v1/credit/simulations",
        json=credit_body(start_date=limit.isoformat()),
        headers=maria,
    )
    assert ok.status_code == 200, ok.text[:300]
    after = credit_body(start_date=(limit + timedelta(days=1)).isoformat())
    assert_refused(
        http_session.post("/api/v1/credit/simulations", json=after, headers=maria), "start_date"
    )


def test_a_statement_page_beyond_the_last_is_422_in_the_api_and_the_page(maria, http_session):
    account = http_session.get("/api/v1/accounts", headers=maria).json()["accounts"][0]
    path = f"/api/v1/accounts/{account['account_number']}/statement"
    message = assert_refused(
        http_session.get(path, params={"page": "99999999999999999999"}, headers=maria), "page"
    )
    assert "no existe" in message
    last = http_session.get(path, headers=maria).json()
    assert_refused(
        http_session.get(path, params={"page": last["total_pages"] + 1}, headers=maria), "page"
    )
    for page in ("1.5", "+1", "\u0661"):  # not a page: refused as such, never read as 1
        assert_refused(http_session.get(path, params={"page": page}, headers=maria), "page")

    http_session.cookies.set("portal_session", maria["Authorization"].split()[1])
    web = http_session.get(
        "/estado-de-cuenta",
        params={"cuenta": account["account_number"], "pagina": "99999999999999999999"},
    )
    assert web.status_code == 422
    assert "no existe" in web.text and "Traceback" not in web.text


def test_counts_must_be_json_integers_never_truncated(maria, http_session):
    for term in (12.9, 12.0, "12", True, "12 "):
        body = credit_body(product_code="CONSUMO", amount="5000.00", term_months=term)
        answer = http_session.post("/api/v1/credit/simulations", json=body, headers=maria)
        assert assert_refused(answer, "term_months") == "Debe ser un número entero.", term
    for term in (180.5, "180"):
        answer = http_session.post(
            "/api/v1/deposit/simulations", json=deposit_body(term_days=term), headers=maria
        )
        assert_refused(answer, "term_days")


BAD_AMOUNTS = [
    "1e3",
    " 1000.00",
    "+1000.00",
    "1_000.00",
    "1000.5",
    "1000",
    "\u0661\u0660\u0660\u0660.00",  # Arabic-Indic digits
    "\uff11\uff10\uff10\uff10.00",  # full-width digits
    1000.505,
]


def test_amounts_outside_the_wire_pattern_are_422_in_credit_and_deposit(maria, http_session):
    for amount in BAD_AMOUNTS:
        body = credit_body(product_code="CONSUMO", term_months=24, amount=amount)
        answer = http_session.post("/api/v1/credit/simulations", json=body, headers=maria)
        assert_refused(answer, "amount")
        answer = http_session.post(
            "/api/v1/deposit/simulations", json=deposit_body(amount=amount), headers=maria
        )
        assert_refused(answer, "amount")
    # a JSON number with at most two decimals is an amount (docs/domain.md)
    body = credit_body(product_code="CONSUMO", term_months=24, amount=1000.5)
    answer = http_session.post("/api/v1/credit/simulations", json=body, headers=maria)
    assert answer.status_code == 200, answer.text[:300]
    assert answer.json()["amount"] == "1000.50"


# --- what the HTTP server refuses before any handler ---------------------------------------


@pytest.fixture
def gateway_only(service_config, container_factory):
    return start_gateway(container_factory, service_config)


def assert_json_error(answer, status, code):
    assert answer.status_code == status, (answer.status_code, answer.text[:200])
    assert answer.headers["Content-Type"].startswith("application/json")
    error = answer.json()["error"]
    assert error["code"] == code
    assert re.search(r"[áéíóú]|solicitud", error["message"]), error  # Spanish, for a member


def test_the_servers_own_refusals_have_the_json_error_body(gateway_only, http_session):
    assert_json_error(
        http_session.get("/api/v1/accounts", params={"q": "x" * 60_000}), 414, "uri_too_long"
    )
    assert_json_error(http_session.get("/api/v1/" + "a" * 10_000), 414, "uri_too_long")
    assert_json_error(
        http_session.post(
            "/api/v1/credit/applications", json={}, headers={"Idempotency-Key": "k" * 10_000}
        ),
        431,
        "headers_too_large",
    )
    many = {f"X-Extra-{i}": "1" for i in range(120)}
    assert_json_error(http_session.get("/api/v1/me", headers=many), 431, "headers_too_large")
    assert_json_error(
        http_session.post("/api/v1/auth/login", data=b"x" * (70 * 1024)),
        413,
        "payload_too_large",
    )
