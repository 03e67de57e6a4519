"""accounts' use cases without a broker: an in-memory unit of work, a recording outbox, a clock.

Holds of confirmed orders (docs/payments.md): what the member may still dispose of, and a core
movement that executes a held order."""

from datetime import date, datetime
from decimal import Decimal

import pytest

from services.accounts import usecases
from services.accounts.models import Base, Hold, Member, SavingsAccount
from services.accounts.usecases import holds, members, movements
from tests.unit.fakes import FakeOutbox, clock_at, memory_session

CLOCK = clock_at(datetime(2026, 7, 10, 12, 0))
MEMBER = "100517"
VISTA = "2001005170"
SHARES = "3001005170"
REQUEST = "7d0c6a52-4a8e-4c55-9a43-0d2b8b6a1f01"


@pytest.fixture
def db():
    with memory_session(Base.metadata) as session:
        session.add(
            Member(
                member_number=MEMBER,
                identification="1712345678",
                given_names="María José",
                surnames="Pérez Andrade",
                email="maria@example.ec",
                joined_on=date(2020, 1, 15),
            )
        )
        for number, product, name in (
            (VISTA, "AHORRO_VISTA", "Ahorro a la vista"),
            (SHARES, "CERTIFICADOS", "Certificados de aportación"),
        ):
            session.add(
                SavingsAccount(
                    account_number=number,
                    member_number=MEMBER,
                    product=product,
                    product_name=name,
                    balance=Decimal("100.00"),
                    available_balance=Decimal("100.00"),
                    opened_on=date(2020, 1, 15),
                    last_seq=1,
                )
            )
        session.flush()
        yield session


def shown(db, number):
    """(balance, available) as the member's position shows the account."""
    for account in members.list_accounts(db, MEMBER):
        if account["account_number"] == number:
            return account["balance"], account["available_balance"]
    raise AssertionError(f"{number} is not in the position")


def executed(sequence, debit, balance, request_id=REQUEST):
    """The core's movement_posted of the order `request_id`, loaded as the consumer loads it."""
    return usecases.core_movement(
        {
            "event_type": "movement_posted",
            "data": {
                "account_number": VISTA,
                "sequence": sequence,
                "date": "2026-07-10",
                "posted_at": "2026-07-10T17:00:00Z",
                "description": "Transferencia a otro socio",
                "reference": f"TRF-{sequence}",
                "debit": debit,
                "credit": "0.00",
                "balance": balance,
                "request_id": request_id,
            },
        }
    )


def test_a_hold_is_refused_against_the_available_balance_not_the_balance(db):
    taken = holds.take_hold(db, CLOCK, "order-1", VISTA, MEMBER, "60.00")
    assert (taken["status"], taken["available_balance"]) == ("taken", "40.00")

    # 50,00 fits in the balance (100,00) but not in what is left after the first hold
    refused = holds.take_hold(db, CLOCK, "order-2", VISTA, MEMBER, "50.00")
    assert (refused["status"], refused["reason_code"]) == ("refused", "fondos_insuficientes")
    assert refused["reason"].startswith("Fondos insuficientes")
    assert refused["available_balance"] == "40.00"
    assert db.get(Hold, "order-2") is None
    assert shown(db, VISTA) == ("100.00", "40.00")


def test_the_capital_certificates_are_never_held_and_show_nothing_available(db):
    refused = holds.take_hold(db, CLOCK, "order-3", SHARES, MEMBER, "10.00")
    assert (refused["status"], refused["reason_code"]) == ("refused", "cuenta_no_disponible")
    assert db.get(Hold, "order-3") is None
    # capital: its balance is shown, but the member may dispose of none of it
    assert shown(db, SHARES) == ("100.00", "0.00")


def test_the_core_movement_of_a_held_order_ends_its_hold_once(db):
    outbox = FakeOutbox()
    holds.take_hold(db, CLOCK, REQUEST, VISTA, MEMBER, "30.00")
    assert shown(db, VISTA) == ("100.00", "70.00")

    movement = executed(2, "30.00", "70.00")
    assert movements.apply_movements(db, outbox, CLOCK, [(None, movement)]) == [None]
    # the money left: the balance shows it, the hold ends and gives back nothing twice
    assert shown(db, VISTA) == ("70.00", "70.00")
    assert holds.get_hold(db, REQUEST)["end_reason"] == "movement"
    assert outbox.types() == ["movement_posted", "request_movement_posted"]
    assert outbox.of("request_movement_posted")[0]["debit"] == "30.00"

    # the same movement again (a redelivery): recognised, nothing moves, nothing is told again
    assert movements.apply_movements(db, outbox, CLOCK, [(None, movement)]) == [None]
    assert shown(db, VISTA) == ("70.00", "70.00")
    assert outbox.types() == ["movement_posted", "request_movement_posted"]


def test_a_movement_of_another_origin_leaves_the_hold_reserved(db):
    outbox = FakeOutbox()
    holds.take_hold(db, CLOCK, REQUEST, VISTA, MEMBER, "30.00")
    # a withdrawal at the window: the balance and the available balance fall together
    window = executed(2, "20.00", "80.00", request_id=None)
    assert movements.apply_movements(db, outbox, CLOCK, [(None, window)]) == [None]
    assert shown(db, VISTA) == ("80.00", "50.00")
    assert holds.get_hold(db, REQUEST)["status"] == "taken"
    assert outbox.types() == ["movement_posted"]
