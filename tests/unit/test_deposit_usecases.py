"""deposit's use cases without a broker: an in-memory unit of work, a recording outbox, a clock."""

from datetime import date, datetime, timedelta

import pytest

from services.common.errors import ValidationError
from services.common.inbound import NotYet
from services.deposit import usecases
from services.deposit.models import Base
from tests.unit.fakes import FakeOutbox, clock_at, memory_session

TODAY = date(2026, 7, 10)
CLOCK = clock_at(datetime(2026, 7, 10, 12, 0))


@pytest.fixture
def session():
    with memory_session(Base.metadata) as session:
        yield session


def chart(valid_from, withholding):
    return {
        "valid_from": valid_from.isoformat(),
        "bands": [
            {"min_days": 30, "max_days": None, "min_amount": "100.00", "annual_rate": "7.43"}
        ],
        "withholding_rate": withholding,
    }


def opened(number, opened_on, term_days=180, amount="5000.00"):
    return {
        "deposit_number": number,
        "member_number": "100517",
        "amount": amount,
        "annual_rate": "7.43",
        "term_days": term_days,
        "opened_on": opened_on.isoformat(),
        "maturity_date": (opened_on + timedelta(days=term_days)).isoformat(),
        "interest_payment": "maturity",
    }


def test_a_deposit_keeps_the_withholding_of_the_chart_in_force_when_it_was_opened(session):
    outbox = FakeOutbox()
    usecases.configure_rates(session, outbox, chart(date(2026, 3, 1), "2.00"))
    usecases.configure_rates(session, outbox, chart(date(2026, 6, 1), "3.00"))
    # opened before the portal knew any chart: the oldest chart's withholding applies
    usecases.deposit_opened(session, outbox, opened("DPF-1", date(2026, 1, 15)))
    usecases.deposit_opened(session, outbox, opened("DPF-2", date(2026, 6, 20)))

    shown = {d["deposit_number"]: d for d in usecases.list_deposits(session, CLOCK, "100517")}
    # 5.000,00 at 7,43 % for 180 days: 185,75 of interest, withheld at 2 % or 3 %
    assert (shown["DPF-1"]["withholding_rate"], shown["DPF-1"]["withholding"]) == ("2.00", "3.72")
    assert (shown["DPF-2"]["withholding_rate"], shown["DPF-2"]["withholding"]) == ("3.00", "5.57")
    assert shown["DPF-2"]["net_interest"] == "180.18"
    assert outbox.types() == [
        "rates_configured",
        "rates_configured",
        "deposit_opened",
        "deposit_opened",
    ]
    assert outbox.of("deposit_opened")[0]["amount"] == "5000.00"


def test_a_deposit_opened_while_no_chart_exists_waits_and_writes_nothing(session):
    outbox = FakeOutbox()
    with pytest.raises(NotYet, match="No hay una tabla de tasas"):
        usecases.deposit_opened(session, outbox, opened("DPF-3", date(2026, 7, 1)))
    assert usecases.list_deposits(session, CLOCK, "100517") == []
    assert outbox.events == []


def test_a_closed_deposit_leaves_the_position_and_its_event_names_the_member(session):
    outbox = FakeOutbox()
    usecases.configure_rates(session, outbox, chart(date(2026, 1, 1), "2.00"))
    usecases.deposit_opened(session, outbox, opened("DPF-4", date(2026, 7, 1)))
    assert [d["deposit_number"] for d in usecases.deposits_summary(session, CLOCK, "100517")] == [
        "DPF-4"
    ]
    usecases.deposit_closed(
        session,
        outbox,
        {
            "deposit_number": "DPF-4",
            "closed_on": TODAY.isoformat(),
            "reason": "precancelacion",
            "renewed_as": None,
        },
    )
    assert usecases.deposits_summary(session, CLOCK, "100517") == []
    [closed] = outbox.of("deposit_closed")
    assert (closed["member_number"], closed["reason"], closed["closed_on"]) == (
        "100517",
        "precancelacion",
        "2026-07-10",
    )


def test_the_chart_of_another_day_and_a_day_without_chart(session):
    outbox = FakeOutbox()
    usecases.configure_rates(session, outbox, chart(date(2026, 3, 1), "2.00"))
    usecases.configure_rates(session, outbox, chart(date(2026, 6, 1), "3.00"))
    assert usecases.rates(session, CLOCK)["withholding_rate"] == "3.00"
    assert usecases.rates(session, CLOCK, "2026-05-31")["withholding_rate"] == "2.00"
    with pytest.raises(ValidationError) as refused:
        usecases.rates(session, CLOCK, "2026-02-28")
    assert refused.value.fields == {"as_of": ["No hay una tabla de tasas vigente."]}
