"""The core's events (docs/integration.md), bound and dispatched by `HANDLERS`."""

from typing import Any

from sqlalchemy.orm import Session

from services.accounts import domain, store
from services.accounts.contracts import (
    MemberEmailChangedEventSchema,
    MemberUpdatedEventSchema,
)
from services.accounts.models import (
    Member,
    SavingsAccount,
    held_events,
    processed_events,
)
from services.accounts.schemas import (
    AccountClosedSchema,
    AccountOpenedSchema,
    MemberUpsertedSchema,
)
from services.accounts.usecases import CORE_CONSUMER, core_event_data, core_movement
from services.accounts.usecases.movements import apply_movements
from services.accounts.usecases.reconciliation import day_closed
from services.common import events as inbox
from services.common import inbound
from services.common.clock import Clock
from services.common.events import iso_utc
from services.common.handlers import HandlerTable
from services.common.inbound import CoreBatch, CoreEvent, NotYet, Refused
from services.common.ordering import KIND_CONFLICT
from services.common.ports import BatchOutbox, Outbox

# schemas built once: building one copies every declared field, on the hottest RPCs
CORE_MEMBER = MemberUpsertedSchema()
CORE_ACCOUNT_OPENED = AccountOpenedSchema()
CORE_ACCOUNT_CLOSED = AccountClosedSchema()


# --- the core's events (docs/integration.md): the handlers of HANDLERS -----------------------


def member_upserted(db: Session, outbox: Outbox, clock: Clock, event: CoreEvent) -> None:
    data = core_event_data(CORE_MEMBER, event)
    member = store.get_member(db, data["member_number"])
    owner = store.member_by_identification(db, data["identification"])
    if owner is not None and owner.member_number != data["member_number"]:
        raise Refused(
            f"La cédula del socio {data['member_number']} ya pertenece al socio "
            f"{owner.member_number}.",
            KIND_CONFLICT,
        )
    changes = domain.member_changes(member, data)
    if not changes:
        return
    # (email_changed is False for a new member: the None test only tells mypy so)
    old_email = (
        member.email if member is not None and domain.email_changed(member, changes) else None
    )
    if member is None:
        member = Member(member_number=data["member_number"], joined_on=clock.today())
        db.add(member)
    for column, value in changes.items():
        setattr(member, column, value)
    db.flush()
    outbox.emit(
        "member_updated",
        MemberUpdatedEventSchema().dump(
            {
                "member_number": member.member_number,
                "email": member.email,
                "status": member.status,
                "given_names": member.given_names,
                "surnames": member.surnames,
            }
        ),
    )
    if old_email is not None:
        # a security event: the old address is told, and auth holds recovery codes back
        outbox.emit(
            "member_email_changed",
            MemberEmailChangedEventSchema().dump(
                domain.email_change_data(
                    member.member_number,
                    member.given_names,
                    member.surnames,
                    old_email,
                    member.email,
                    iso_utc(clock.utcnow()),
                )
            ),
        )


def account_opened(db: Session, outbox: Outbox, clock: Clock, event: CoreEvent) -> None:
    data = core_event_data(CORE_ACCOUNT_OPENED, event)
    if store.get_member(db, data["member_number"]) is None:
        raise NotYet(f"El socio {data['member_number']} no existe.")
    account = db.get(SavingsAccount, data["account_number"])
    if account is not None:
        if account.member_number != data["member_number"] or account.product != data["product"]:
            raise Refused(
                f"La cuenta {data['account_number']} ya existe con otro socio o producto.",
                KIND_CONFLICT,
            )
        return
    db.add(
        SavingsAccount(
            account_number=data["account_number"],
            member_number=data["member_number"],
            product=data["product"],
            product_name=domain.PRODUCT_NAMES[data["product"]],
            balance=domain.ZERO,
            available_balance=domain.ZERO,
            status="activa",
            opened_on=data["opened_on"],
            last_seq=0,
        )
    )
    db.flush()


def core_movement_posted(db: Session, outbox: BatchOutbox, clock: Clock, event: CoreEvent) -> None:
    """One movement of the core (claimed by the caller): `apply_movements` of one."""
    (refusal,) = apply_movements(db, outbox, clock, [(event, core_movement(event))])
    if refusal is not None:
        raise refusal


def account_closed(db: Session, outbox: Outbox, clock: Clock, event: CoreEvent) -> None:
    data = core_event_data(CORE_ACCOUNT_CLOSED, event)
    account = db.get(SavingsAccount, data["account_number"], with_for_update=True)
    if account is None:
        raise NotYet(f"La cuenta {data['account_number']} no existe.")
    if account.status == domain.CLOSED:
        return
    account.status = domain.CLOSED
    account.closed_on = data["closed_on"]


# The core's events this service applies: the same table binds the queues (service.py) and
# dispatches each event. A member's status and e-mail take effect for login within a second
# whatever is queued: their own lane (core.accounts.members), never behind a burst of movements.
HANDLERS = HandlerTable(
    {
        "account_opened": account_opened,
        "movement_posted": core_movement_posted,
        "account_closed": account_closed,
        "day_closed": day_closed,
        "member_upserted": member_upserted,
    }
)
MEMBER_LANE = ("member_upserted",)
MAIN_QUEUE = tuple(t for t in HANDLERS.event_types if t not in MEMBER_LANE)


def apply_core_event(db: Session, outbox: BatchOutbox, clock: Clock, event: CoreEvent) -> None:
    """Apply one event of the core, exactly once (by event_id, then reference and sequence)."""
    if not inbox.claim(db, processed_events, event, CORE_CONSUMER):
        return
    HANDLERS.dispatch(event["event_type"], db, outbox, clock, event)


def apply_core_batch(db: Session, outbox: BatchOutbox, clock: Clock, batch: CoreBatch) -> None:
    """Apply a CoreBatch in the worker's one transaction (docs/integration.md, "Lotes"): each run
    of consecutive `movement_posted` by one `apply_movements`, every other event alone in a
    savepoint; a refused event gets its outcome, nothing of it written."""
    run: list[int] = []

    def movements() -> None:
        parsed: list[tuple[int, Any]] = []
        for i in run:
            try:
                parsed.append((i, core_movement(batch.events[i])))
            except Refused as refusal:
                batch.outcomes[i] = refusal
        outcomes = apply_movements(
            db,
            outbox,
            clock,
            [(batch.events[i], data) for i, data in parsed],
            consumer=CORE_CONSUMER,
        )
        for (i, _data), outcome in zip(parsed, outcomes, strict=True):
            batch.outcomes[i] = outcome
        run.clear()

    for i, event in enumerate(batch.events):
        if event["event_type"] == "movement_posted":
            run.append(i)
            continue
        if run:
            movements()
        try:
            with db.begin_nested():
                apply_core_event(db, outbox, clock, event)
        except Refused as refusal:
            batch.outcomes[i] = refusal
    if run:
        movements()


def inbound_status(db: Session) -> dict[str, Any]:
    """Refusals of core events by kind, and how many wait for a predecessor."""
    return {
        "service": "accounts",
        "refusals": inbound.refusal_counts(db, "accounts"),
        "held": inbound.held_count(db, held_events),
    }
