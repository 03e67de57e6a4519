"""payments' use cases without a broker: an in-memory unit of work, recording outboxes, a set
clock, and stand-ins for accounts, auth and credit with only the calls payments makes
(docs/payments.md: limits, the confirmation, the sweeper)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.common.errors import Conflict, ValidationError
from services.payments import usecases
from services.payments.models import Base, Beneficiary, LimitChange, Order
from tests.unit.fakes import FakeOutbox, clock_at, memory_session

MEMBER = "100517"
SOURCE = "2001005170"
SAVINGS = "2101005170"
OTHER_ACCOUNT = "2001009001"
GOOD_CODE = "123456"
STARTED = datetime(2026, 7, 10, 12, 0)  # Ecuador
SETTINGS = {
    "TRANSFER_MAX_PER_TRANSFER": "1000.00",
    "TRANSFER_MAX_DAILY": "2000.00",
    "ORDER_CONFIRM_MINUTES": "5",
}


class StandInAccounts:
    """accounts as payments asks it: the member's accounts, holds (recorded, always taken)."""

    def __init__(self) -> None:
        self.holds: list[tuple[str, str, str]] = []

    def list_accounts(self, member_number):
        return [
            {"account_number": SOURCE, "product": "AHORRO_VISTA", "available_balance": "900.00"},
            {"account_number": SAVINGS, "product": "AHORRO_PROGRAMADO", "available_balance": "0"},
        ]

    def take_hold(self, request_id, account_number, member_number, amount):
        self.holds.append((request_id, account_number, amount))
        return {"request_id": request_id, "status": "taken", "amount": amount}

    def release_hold(self, request_id, reason):
        return {"request_id": request_id, "status": "ended"}


class StandInAuth:
    """auth's order challenge: one per order, the code GOOD_CODE confirms it."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.verified: list[str] = []

    def start_order_challenge(self, member_number, order_id, digest, summary):
        self.started.append(order_id)
        return {"challenge_id": f"challenge-{order_id}", "methods": ["totp"]}

    def verify_order_code(self, challenge_id, digest, method, code):
        self.verified.append(challenge_id)
        return {"valid": code == GOOD_CODE}


class StandInCredit:
    """No loan is paid in these tests: credit is never asked."""


class RecordingQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    def enqueue(self, routing_key, message):
        self.sent.append((routing_key, dict(message)))


class World:
    """The use cases with what they were given, for the tests to look at afterwards."""

    def __init__(self, db) -> None:
        self.db = db
        self.events = FakeOutbox()
        self.requests = RecordingQueue()
        self.accounts = StandInAccounts()
        self.auth = StandInAuth()
        self.clock = clock_at(STARTED)
        self.payments = usecases.PaymentsUseCases(
            db,
            self.events,
            self.requests,
            self.accounts,
            self.auth,
            usecases.Settings(SETTINGS),
            self.clock,
            StandInCredit(),
        )

    def order_to_other(self, amount):
        return self.payments.create_transfer(
            member_number=MEMBER, from_account=SOURCE, beneficiary_id="ben-1", amount=amount
        )

    def confirm(self, order):
        return self.payments.confirm(
            member_number=MEMBER, order_id=order["transfer_id"], method="totp", code=GOOD_CODE
        )

    def status(self, order):
        self.db.expire_all()
        return self.db.get(Order, order["transfer_id"]).status


@pytest.fixture
def world():
    with memory_session(Base.metadata) as db:
        db.add(
            Beneficiary(
                id="ben-1",
                member_number=MEMBER,
                alias="Juan",
                account_number=OTHER_ACCOUNT,
                holder_member_number="100900",
                holder_name_masked="J*** C***",
                status="activo",
                created_at=STARTED,
            )
        )
        db.commit()
        yield World(db)


def test_an_order_over_what_is_left_of_the_daily_limit_is_refused_before_anything(world):
    world.payments.lower_limits(MEMBER, "500.00", "600.00")
    first = world.order_to_other("450.00")
    assert world.confirm(first)["status"] == "enviada"
    assert world.payments.get_limits(MEMBER)["used_today"] == "450.00"

    with pytest.raises(ValidationError) as refused:
        world.order_to_other("150.01")
    assert refused.value.fields == {
        "amount": [
            "El monto supera lo que le queda hoy de su límite diario a otros socios ($ 150,00)."
        ]
    }
    # nothing of it: no order, no challenge asked of auth, no hold, no event
    assert len(world.payments.list_transfers(MEMBER)["transfers"]) == 1
    assert world.auth.started == [first["transfer_id"]]
    assert [amount for _r, _a, amount in world.accounts.holds] == ["450.00"]
    assert world.events.types().count("order_created") == 1
    # what is left can still be ordered, to the cent
    assert world.order_to_other("150.00")["amount"] == "150.00"


def test_orders_between_the_members_own_accounts_count_no_limit(world):
    world.payments.lower_limits(MEMBER, "100.00", "100.00")
    own = world.payments.create_transfer(
        member_number=MEMBER, from_account=SOURCE, to_account=SAVINGS, amount="800.00"
    )
    assert (own["kind"], own["amount"]) == ("propia", "800.00")
    assert world.confirm(own)["status"] == "enviada"
    assert world.payments.get_limits(MEMBER)["used_today"] == "0.00"


def test_a_second_confirmation_of_the_same_order_is_a_conflict(world):
    order = world.order_to_other("25.50")
    assert world.confirm(order)["status"] == "enviada"

    with pytest.raises(Conflict, match="La orden ya no está por confirmar."):
        world.confirm(order)
    # one hold, one request to the core, and the code was checked once
    assert world.accounts.holds == [(order["request_id"], SOURCE, "25.50")]
    assert len(world.requests.sent) == 1
    assert len(world.auth.verified) == 1
    assert world.status(order) == "enviada"


def test_the_sweeper_voids_an_order_left_unconfirmed_for_five_minutes(world):
    order = world.order_to_other("40.00")
    # the set clock keeps running: count from the instant the order was recorded (UTC)
    created = world.db.get(Order, order["transfer_id"]).created_at.replace(tzinfo=UTC)

    world.clock.set(created + timedelta(minutes=4, seconds=59))
    world.payments.sweep()
    assert world.status(order) == "por_confirmar"

    world.clock.set(created + timedelta(minutes=5))
    assert world.payments.sweep() == 1
    assert world.status(order) == "anulada"
    cancelled = world.events.of("order_cancelled")
    assert [(e["order_id"], e["reason"]) for e in cancelled] == [
        (order["transfer_id"], "No se confirmó a tiempo.")
    ]
    # too late for the member's code: nothing is held
    with pytest.raises(Conflict, match="La orden ya no está por confirmar."):
        world.confirm(order)
    assert world.accounts.holds == []
    assert Decimal(world.payments.get_limits(MEMBER)["used_today"]) == Decimal("0.00")


def test_the_sweeper_ends_a_limit_raise_and_a_beneficiary_left_unconfirmed(world):
    """Their code expired with the challenge: the raise is anulada (the limits stay), the
    beneficiary leaves the member's list; the confirmed beneficiary stays."""
    world.payments.lower_limits(MEMBER, "100.00", "100.00")
    raise_ = world.payments.change_limits(MEMBER, "500.00", "500.00")
    world.db.add(
        Beneficiary(
            id="ben-2",
            member_number=MEMBER,
            alias="Pedro",
            account_number="2001009002",
            holder_member_number="100901",
            holder_name_masked="P*** R***",
            status="por_confirmar",
            created_at=world.db.get(LimitChange, raise_["change_id"]).created_at,
        )
    )
    world.db.commit()
    created = world.db.get(LimitChange, raise_["change_id"]).created_at.replace(tzinfo=UTC)

    world.clock.set(created + timedelta(minutes=4, seconds=59))
    assert world.payments.sweep() == 0
    assert world.payments.get_limit_change(MEMBER, raise_["change_id"])["status"] == "por_confirmar"

    world.clock.set(created + timedelta(minutes=5))
    assert world.payments.sweep() == 2
    assert world.payments.get_limit_change(MEMBER, raise_["change_id"])["status"] == "anulada"
    assert [b["alias"] for b in world.payments.list_beneficiaries(MEMBER)["beneficiaries"]] == [
        "Juan"
    ]
    limits = world.payments.get_limits(MEMBER)
    assert (limits["per_transfer"], limits["daily_to_others"]) == ("100.00", "100.00")
