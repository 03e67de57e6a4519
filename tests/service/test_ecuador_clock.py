"""At 21:00 in Ecuador on the last day of a month it is already the 1st in UTC: every "today"
of the portal is Ecuador's (docs/domain.md, "Time"). The clock is moved in-process
(CLOCK.travel): the gateway and every service of the test share it."""

import re
from datetime import date, datetime
from decimal import Decimal
from html import unescape

import pytest

from services.common.clock import CLOCK
from services.credit.service import CreditService
from services.deposit import domain as deposit_domain
from services.deposit.service import DepositService
from tests.conftest import load_demo
from tests.helpers import api_login, bearer, start_auth_stack, start_gateway

EVENING = datetime(2026, 11, 30, 21, 0)  # Ecuador time; 02:00 UTC on 1 December
MEMBERS_TODAY = date(2026, 11, 30)


@pytest.fixture
def evening(service_config, container_factory, http_session):
    with CLOCK.travel(EVENING):
        assert CLOCK.today() == MEMBERS_TODAY and CLOCK.now().date() == date(2026, 12, 1)
        start_auth_stack(container_factory, service_config, MEMBERS_TODAY)
        load_demo(service_config, MEMBERS_TODAY, services=["credit", "deposit"], count=2)
        for cls in (CreditService, DepositService):
            container_factory(cls, service_config).start()
        start_gateway(container_factory, service_config)
        token = api_login(http_session, "maria", "Socia-2026!")
        http_session.cookies.set("portal_session", token)
        http_session.headers.update(bearer(token))
        yield http_session


def visible(html):
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_the_members_today_is_ecuadors_and_every_time_shown_is_ecuador_time(evening):
    page = evening.get("/")
    assert page.status_code == 200
    text = visible(page.text)
    consulted = re.search(r"Consultado el (\d\d/\d\d/\d{4} \d\d:\d\d)", text)[1]
    assert consulted.startswith("30/11/2026 21:")  # not 01/12/2026 02:xx
    assert "UTC" not in text
    # the statement form proposes this month up to the member's today
    statement = evening.get("/estado-de-cuenta")
    assert 'value="2026-11-30"' in statement.text and 'value="2026-11-01"' in statement.text
    # the API's instants stay UTC
    assert evening.get("/api/v1/position").json()["generated_at"].startswith("2026-12-01T02:")


def test_a_simulation_starting_on_the_members_own_today_is_accepted(evening):
    loan = evening.post(
        "/api/v1/credit/simulations",
        json={
            "product_code": "CONSUMO",
            "amount": "2500.00",
            "term_months": 12,
            "system": "french",
            "frequency": "monthly",
            "start_date": "2026-11-30",
        },
    )
    assert loan.status_code == 200, loan.text
    assert loan.json()["start_date"] == "2026-11-30"
    deposit = evening.post(
        "/api/v1/deposit/simulations",
        json={"amount": "5000.00", "term_days": 90, "interest_payment": "maturity"},
    )
    assert deposit.status_code == 200, deposit.text
    assert deposit.json()["start_date"] == "2026-11-30"
    # yesterday, in Ecuador, is the past
    past = evening.post(
        "/api/v1/deposit/simulations",
        json={
            "amount": "5000.00",
            "term_days": 90,
            "interest_payment": "maturity",
            "start_date": "2026-11-29",
        },
    )
    assert past.status_code == 422


def test_a_statement_may_end_on_the_members_today_not_on_utcs(evening):
    ok = evening.get(
        "/api/v1/accounts/4100234001/statement", params={"from": "2026-11-01", "to": "2026-11-30"}
    )
    assert ok.status_code == 200, ok.text
    future = evening.get(
        "/api/v1/accounts/4100234001/statement", params={"from": "2026-11-01", "to": "2026-12-01"}
    )
    assert future.status_code == 422


def test_accrued_interest_counts_to_ecuadors_today(evening):
    deposits = evening.get("/api/v1/deposits").json()["deposits"]
    assert deposits, "maria has term deposits in the demo"
    for d in deposits:
        expected = deposit_domain.accrued_interest(
            Decimal(d["amount"]),
            Decimal(d["annual_rate"]),
            date.fromisoformat(d["opened_on"]),
            d["term_days"],
            MEMBERS_TODAY,
        )
        assert Decimal(d["accrued_interest"]) == expected, d["deposit_number"]
