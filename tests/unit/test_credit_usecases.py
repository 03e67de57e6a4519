"""credit's use cases without a broker: an in-memory unit of work, a recording outbox, a clock and
a fake accounts service."""

from datetime import datetime
from decimal import Decimal

import pytest

from services.common.inbound import Refused
from services.credit.models import Base, ProductRow
from services.credit.usecases import HANDLERS, applications, loans
from tests.service.lifecycle_core import decision, disbursed, paid, settled
from tests.unit.fakes import FakeAccounts, FakeOutbox, clock_at, memory_session

JOSE, MARIA = "100517", "100234"
ACCOUNTS = FakeAccounts(
    {
        JOSE: {
            "display_name": "José Ramírez",
            "identification_masked": "17******01",
            "email": "jose@example.com",
        },
        MARIA: {
            "display_name": "María Pérez",
            "identification_masked": "17******02",
            "email": "maria@example.com",
        },
    }
)
CLOCK = clock_at(datetime(2026, 3, 2, 10, 0))
NOW = datetime(2026, 3, 2, 15, 0)


@pytest.fixture
def session():
    with memory_session(Base.metadata) as session:
        session.add(
            ProductRow(
                code="CONSUMO",
                name="Crédito de consumo",
                segment="Consumo ordinario",
                annual_rate=Decimal("15.60"),
                min_amount=Decimal("500.00"),
                max_amount=Decimal("40000.00"),
                max_term_months=72,
                systems="french,german",
                frequencies="monthly",
                insurance_rate=Decimal("0.05"),
                active=True,
                sort_order=0,
            )
        )
        session.flush()
        yield session


def apply(session, outbox, event):
    """As the consumer does once the event is claimed (members asked of accounts first)."""
    members = {n: ACCOUNTS.get_member(n) for n in [event["data"].get("member_number")] if n}
    members.update({n: ACCOUNTS.get_member(n) for n in event["data"].get("guarantors", [])})
    HANDLERS.dispatch(event["event_type"], session, outbox, event, members, NOW)


def test_each_payment_tells_what_principal_is_left_and_settling_releases_the_guarantees(session):
    outbox = FakeOutbox()
    loan = disbursed("CR-100517-01", JOSE, "1200.00", 12, guarantors=[MARIA])
    apply(session, outbox, loan)
    apply(session, outbox, paid(loan, 1))
    apply(session, outbox, paid(loan, 2))
    # 1.200,00 less the principal of installments 1 (93,05) and 2 (94,26)
    assert [e["outstanding_principal"] for e in outbox.of("installment_paid")] == [
        "1106.95",
        "1012.69",
    ]
    assert outbox.of("installment_paid")[1]["member_number"] == JOSE

    apply(session, outbox, settled("CR-100517-01", 3, settled_on="2026-03-01"))
    assert outbox.of("loan_settled") == [
        {"loan_number": "CR-100517-01", "member_number": JOSE, "settled_on": "2026-03-01"}
    ]
    [given] = loans.guarantees(session, MARIA)["guaranteed_by_me"]
    assert (given["status"], given["until"]) == ("liberada", "2026-03-01")
    assert loans.list_loans(session, CLOCK, JOSE)["loans"] == []


def submitted(session, outbox):
    request = {
        "product_code": "CONSUMO",
        "amount": "5000.00",
        "term_months": 24,
        "system": "french",
        "frequency": "monthly",
        "start_date": None,
        "purpose": "Compra de equipos para el negocio",
        "monthly_income": "1800.00",
        "monthly_expenses": "600.00",
        "guarantors": [],
    }
    created = applications.submit_application(session, outbox, CLOCK, ACCOUNTS, JOSE, request)
    return created["application_number"]


def statuses(session):
    [application] = applications.list_applications(session, JOSE)["applications"]
    return [step["status"] for step in application["history"]]


def test_a_decision_told_twice_moves_the_application_and_tells_the_member_once(session):
    outbox = FakeOutbox()
    number = submitted(session, outbox)
    apply(session, outbox, decision(number, "aprobada", "Cumple la capacidad de pago."))
    apply(session, outbox, decision(number, "aprobada", "Cumple la capacidad de pago."))
    assert statuses(session) == ["ingresada", "aprobada"]
    [told] = outbox.of("application_status_changed")
    assert (told["status"], told["reason"]) == ("aprobada", "Cumple la capacidad de pago.")


def test_after_the_member_withdrew_a_decision_of_the_core_is_refused(session):
    outbox = FakeOutbox()
    number = submitted(session, outbox)
    applications.withdraw_application(session, outbox, CLOCK, JOSE, number)
    with pytest.raises(Refused, match="El socio desistió de la solicitud: no puede pasar a apro"):
        apply(session, outbox, decision(number, "aprobada"))
    assert statuses(session) == ["ingresada", "desistida"]
    assert outbox.types() == ["application_submitted", "application_withdrawn"]
    assert outbox.of("application_withdrawn")[0]["member_number"] == JOSE
