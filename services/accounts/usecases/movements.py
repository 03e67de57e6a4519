"""Every movement is written by `apply_movements` (docs/integration.md, "Lotes")."""

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy.orm import Session

from services.accounts import domain, store
from services.accounts.contracts import (
    PostMovementSchema,
    movement_posted,
)
from services.accounts.models import (
    held_events,
    processed_events,
)
from services.accounts.usecases import ACCOUNT_NOT_FOUND, core_movement
from services.common import events as inbox
from services.common import inbound
from services.common.clock import Clock
from services.common.errors import NotFound, ValidationError
from services.common.inbound import CoreEvent, NotYet, Refused
from services.common.ports import BatchOutbox
from services.common.schemas import load_or_raise

# --- movements: the one way to write one ------------------------------------------------------


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _same(applied: Any, data: Any) -> bool:  # a stored row, or a dict
    """domain.same_movement for a stored row or a movement staged in this batch (a dict)."""
    if isinstance(applied, dict):
        return all(
            applied[k] == data[k] for k in ("reference", "date", "debit", "credit", "balance")
        )
    return domain.same_movement(applied, data)


class _Movements:
    """One call of `apply_movements`: every check in memory against what was read once, then
    the writes in a handful of multi-row statements."""

    def __init__(
        self,
        db: Session,
        clock: Clock,
        numbers: list[str],
        references: list[str],
        business_date: date | None = None,
    ) -> None:
        self.db = db
        self.today = business_date or clock.today()
        self.accounts = store.lock_accounts(db, numbers)
        for number, last_date in store.last_movement_dates(db, numbers).items():
            if number in self.accounts:
                self.accounts[number]["last_date"] = last_date
        self.held = inbound.held_in(db, held_events, [f"account:{n}" for n in numbers])
        self.references = store.reference_sequences(db, numbers, references)
        self.rows: list[dict[str, Any]] = []  # movements to insert
        self.emitted: list[dict[str, Any]] = []  # their movement_posted events (ours)
        # (account, sequence) -> data applied in this call
        self.staged: dict[tuple[str, int], Any] = {}
        self.start: dict[str, Decimal] = {}  # account -> its balance before this call
        # (account, data) of movements that execute a portal request
        self.hold_ends: list[tuple[str, Any]] = []

    def one(self, event: Any, data: Any) -> None:
        """Apply, hold or recognise one movement in its stream's order; Refused when wrong."""
        number, sequence = data["account_number"], data["sequence"]
        account = self.accounts.get(number)
        if account is None:
            raise NotYet(f"La cuenta {number} no existe.")

        def apply(
            held: CoreEvent,
        ) -> None:  # this movement, or a held successor (loaded when its turn comes)
            self.stage(account, data if held is event else core_movement(held))

        def same(_event: CoreEvent) -> bool:
            applied = self.staged.get((number, sequence)) or store.movement_at(
                self.db, number, sequence
            )
            return applied is not None and _same(applied, data)

        # staged in memory, a refused successor writes nothing: no savepoint needed
        inbound.apply_in_order(
            self.db,
            held_events,
            f"account:{number}",
            account["last_seq"],
            sequence,
            event,
            apply,
            same,
            held=self.held,
            savepoint=False,
        )

    def stage(self, account: dict[str, Any], data: Any) -> None:
        """Every check of a movement, in memory; nothing written yet."""
        number = account["account_number"]
        seen = self.references.get((number, data["reference"]))
        refusal = domain.movement_refusal(
            number, account["balance"], data, seen, account["last_date"], self.today
        )
        if refusal:
            raise Refused(*refusal)
        self.start.setdefault(number, account["balance"])
        account["last_date"] = data["date"]
        if data["reference"] is not None:
            self.references[(number, data["reference"])] = data["sequence"]
        self.staged[(number, data["sequence"])] = data
        if data.get("request_id"):
            self.hold_ends.append((number, data))
        account["balance"] = data["balance"]
        account["last_seq"] = data["sequence"]
        self.rows.append(
            {
                "account_number": number,
                "seq": data["sequence"],
                "date": data["date"],
                "posted_at": _naive_utc(data["posted_at"]),
                "description": data["description"],
                "reference": data["reference"],
                "debit": data["debit"],
                "credit": data["credit"],
                "balance": data["balance"],
            }
        )
        self.emitted.append(movement_posted(number, account["member_number"], data))

    def write(self, outbox: BatchOutbox, clock: Clock) -> None:
        if not self.rows:
            return
        store.insert_movements(self.db, self.rows)
        store.move_balances(
            self.db,
            [
                {
                    "number": number,
                    "new_balance": self.accounts[number]["balance"],
                    "delta": self.accounts[number]["balance"] - before,
                    "sequence": self.accounts[number]["last_seq"],
                }
                for number, before in self.start.items()
            ],
        )
        outbox.emit_many("movement_posted", self.emitted)
        if self.hold_ends:
            # the core executed the portal's request: the balance shows it, the hold ends
            now = clock.utcnow()
            for number, data in self.hold_ends:
                store.end_hold(self.db, number, data["request_id"], "movement", now)
            outbox.emit_many(
                "request_movement_posted",
                [domain.request_movement(number, data) for number, data in self.hold_ends],
            )


def apply_movements(
    db: Session,
    outbox: BatchOutbox,
    clock: Clock,
    # (event, the loaded movement (a dict)); the event None only when `consumer` is None
    movements: Sequence[tuple[Any, Any]],
    consumer: str | None = None,
    business_date: date | None = None,
) -> list[Refused | None]:
    """Write `movements` [(event or None, data)] — the core's `movement_posted` (data loaded with
    CoreMovementSchema) or the RPC's — in their streams' order, as one batch of any size from 1
    up: accounts locked at once, one query each for the claims, held successors and references
    already used, every check in memory, then one multi-row insert of the movements, the outbox
    events and the claims, one update per account. Returns each movement's refusal (None when
    applied, held or recognised as a redelivery); a refused one has nothing of it written.

    `consumer`: the events are claimed in the inbox under that name (already handled ones are
    skipped); None when the caller claimed them (or they are not events). `business_date`: the
    latest date a movement may carry (the core's: today in Ecuador, the default)."""
    outcomes: list[Refused | None] = [None] * len(movements)
    if not movements:
        return outcomes
    numbers = sorted({data["account_number"] for _event, data in movements})
    references = sorted({d["reference"] for _e, d in movements if d["reference"] is not None})
    run = _Movements(db, clock, numbers, references, business_date)
    done: dict[str, str | None] = {}
    claims: list[tuple[str, str]] = []
    if consumer is not None:
        ids = [event["event_id"] for event, _data in movements]
        done = inbox.claimed(db, processed_events, consumer, ids)
    for i, (event, data) in enumerate(movements):
        try:
            if consumer is None:
                run.one(event, data)
                continue
            digest = inbox.content_digest(event)
            if event["event_id"] in done:
                inbox.already_handled(event, digest, done[event["event_id"]], consumer)
                continue
            run.one(event, data)
        except Refused as refusal:
            outcomes[i] = refusal
            continue
        done[event["event_id"]] = digest
        claims.append((event["event_id"], digest))
    run.write(outbox, clock)
    if claims:
        inbox.record_claims(db, processed_events, cast(str, consumer), claims)  # claims: a consumer
    return outcomes


def post_movement(
    db: Session,
    outbox: BatchOutbox,
    clock: Clock,
    account_number: object,
    day: object,
    description: object,
    reference: object,
    debit: object,
    credit: object,
) -> dict[str, Any]:
    """A movement posted through the RPC (the portal's own tests and tools): numbered after the
    account's last, its balance computed; written by `apply_movements`. Idempotent by reference."""
    data = load_or_raise(
        PostMovementSchema(),
        {
            "account_number": account_number,
            "date": day,
            "description": description,
            "reference": reference,
            "debit": debit,
            "credit": credit,
        },
    )
    if bool(data["debit"]) == bool(data["credit"]):
        raise ValidationError(fields={"debit": ["Indique un débito o un crédito, no ambos."]})
    account = store.lock_account_row(db, data["account_number"])
    if account is None:
        raise NotFound(ACCOUNT_NOT_FOUND)
    existing = store.movement_by_reference(db, account.account_number, data["reference"])
    if existing is not None:
        # the same posting again (a retry, a redelivered request): same answer, no new effect
        return movement_posted(account.account_number, account.member_number, existing._mapping)
    last_date = store.last_movement_dates(db, [account.account_number]).get(account.account_number)
    if last_date is not None and data["date"] < last_date:
        raise ValidationError(fields={"date": ["La fecha es anterior al último movimiento."]})
    try:
        balance = domain.apply_movement(account.balance, data["debit"], data["credit"])
    except ValueError:
        raise ValidationError(fields={"debit": ["Fondos insuficientes."]}) from None
    movement = {
        "account_number": account.account_number,
        "sequence": (account.last_seq or 0) + 1,
        "date": data["date"],
        "posted_at": clock.utcnow().replace(microsecond=0),
        "description": data["description"],
        "reference": data["reference"],
        "debit": data["debit"] or domain.ZERO,
        "credit": data["credit"] or domain.ZERO,
        "balance": balance,
    }
    # the RPC (the portal's tests and tools) takes any date from the last movement's on, as it
    # always did; the core's own movements are held to its business date
    (refusal,) = apply_movements(db, outbox, clock, [(None, movement)], business_date=date.max)
    if refusal is not None:
        raise ValidationError(fields={"date": [refusal.reason]})
    return movement_posted(account.account_number, account.member_number, movement)
