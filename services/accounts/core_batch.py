"""A batch of the core's events applied in one transaction (docs/integration.md, "Lotes").

Consecutive `movement_posted` events are applied together with a handful of statements: their
accounts locked at once (sorted, so two instances never deadlock), one query each for the event
ids already handled, the held successors and the references already used, then every check in
memory — the same rules, in the same order, as one event at a time — and one multi-row insert of
the movements, the outbox events and the claims, one update per account. A refused movement is
checked before anything of it is written, so it needs no savepoint and undoes nothing else.
Every other event type goes through the one-event handler inside a savepoint.
"""

import logging
from datetime import UTC

from sqlalchemy import bindparam, insert, select, update

from services.accounts import domain, store
from services.accounts.models import held_events, processed_events
from services.common import inbound
from services.common.inbound import NotYet, Refused
from services.common.money import fmt

log = logging.getLogger(__name__)

_accounts = store._accounts
_movements = store._movements

READ_ACCOUNTS = select(_accounts).where(
    _accounts.c.account_number.in_(bindparam("numbers", expanding=True))
)
SQLITE_LOCK = (
    update(_accounts)
    .where(_accounts.c.account_number.in_(bindparam("numbers", expanding=True)))
    .values(account_number=_accounts.c.account_number)
)
PG_LOCK = READ_ACCOUNTS.order_by(_accounts.c.account_number).with_for_update()
CLAIMED = select(processed_events.c.event_id, processed_events.c.digest).where(
    processed_events.c.consumer == bindparam("consumer"),
    processed_events.c.event_id.in_(bindparam("ids", expanding=True)),
)
HELD = select(held_events.c.stream, held_events.c.sequence).where(
    held_events.c.stream.in_(bindparam("streams", expanding=True))
)
REFERENCES = select(_movements.c.account_number, _movements.c.reference, _movements.c.seq).where(
    _movements.c.account_number.in_(bindparam("numbers", expanding=True)),
    _movements.c.reference.in_(bindparam("references", expanding=True)),
)
SET_ACCOUNT = (
    update(_accounts)
    .where(_accounts.c.account_number == bindparam("number"))
    .values(
        balance=bindparam("new_balance", type_=_accounts.c.balance.type),
        available_balance=_accounts.c.available_balance
        + bindparam("delta", type_=_accounts.c.balance.type),
        last_seq=bindparam("sequence"),
    )
)


def apply_batch(service, batch, consumer):
    """Apply `batch` (a CoreBatch); refused events get their outcome, nothing of them written."""
    run = []
    for i, event in enumerate(batch.events):
        if event["event_type"] == "movement_posted":
            run.append(i)
            continue
        if run:
            MovementRun(service, batch, run, consumer).apply()
            run = []
        try:
            with service.db.begin_nested():
                service.apply_core_event(event)
        except Refused as refusal:
            batch.outcomes[i] = refusal
    if run:
        MovementRun(service, batch, run, consumer).apply()


class MovementRun:
    def __init__(self, service, batch, indices, consumer):
        self.service = service
        self.db = service.db
        self.batch = batch
        self.indices = indices
        self.consumer = consumer
        self.rows = []  # movements to insert
        self.emitted = []  # their movement_posted events (ours)
        self.claims = []  # event ids handled
        self.staged = {}  # (account, sequence) -> data applied in this run
        self.start = {}  # account -> its balance before the run
        self.hold_ends = []  # (account, request_id) of movements that execute a portal request

    def apply(self):
        parsed = []
        for i in self.indices:
            try:
                parsed.append((i, self.service.core_movement(self.batch.events[i])))
            except Refused as refusal:
                self.batch.outcomes[i] = refusal
        if not parsed:
            return
        numbers = sorted({data["account_number"] for _i, data in parsed})
        self.accounts = self._lock(numbers)
        last_dates = store.last_movement_dates(self.db, numbers)
        for number, account in self.accounts.items():
            account["last_date"] = last_dates.get(number)
        self.today = self.service.clock.today()
        ids = [self.batch.events[i]["event_id"] for i, _data in parsed]
        # event_id -> the digest of what it said (None: claimed before digests were kept)
        claimed = self.db.execute(CLAIMED, {"consumer": self.consumer, "ids": ids})
        done = {row.event_id: row.digest for row in claimed}
        streams = [f"account:{n}" for n in numbers]
        self.held = {(r.stream, r.sequence) for r in self.db.execute(HELD, {"streams": streams})}
        references = sorted({data["reference"] for _i, data in parsed})
        self.references = {
            (r.account_number, r.reference): r.seq
            for r in self.db.execute(REFERENCES, {"numbers": numbers, "references": references})
        }
        for i, data in parsed:
            event = self.batch.events[i]
            digest = inbound.content_digest(event)
            try:
                if event["event_id"] in done:
                    inbound.already_handled(event, digest, done[event["event_id"]], self.consumer)
                    continue
                self._one(event, data)
            except Refused as refusal:
                self.batch.outcomes[i] = refusal
                continue
            done[event["event_id"]] = digest
            self.claims.append((event["event_id"], digest))
        self._write()

    def _lock(self, numbers):
        if self.db.get_bind().dialect.name == "sqlite":  # the database's write lock, first
            self.db.execute(SQLITE_LOCK, {"numbers": numbers})
            rows = self.db.execute(READ_ACCOUNTS, {"numbers": numbers})
        else:
            rows = self.db.execute(PG_LOCK, {"numbers": numbers})
        return {r.account_number: dict(r._mapping) for r in rows}

    def _one(self, event, data):
        number, sequence = data["account_number"], data["sequence"]
        account = self.accounts.get(number)
        if account is None:
            raise NotYet(f"La cuenta {number} no existe.")
        stream = f"account:{number}"
        decision = inbound.order_decision(account["last_seq"], sequence)
        if decision == inbound.HOLD:
            inbound.hold_event(self.db, held_events, stream, sequence, event)
            self.held.add((stream, sequence))
            return
        if decision == inbound.PAST:
            applied = self.staged.get((number, sequence)) or store.movement_at(
                self.db, number, sequence
            )
            if applied is None or not same(applied, data):
                raise Refused(
                    f"La secuencia {sequence} de {stream} ya fue aplicada con otro contenido.",
                    inbound.KIND_CONFLICT,
                )
            return
        self._stage(account, data)
        # its held successors, in turn; a wrong one is parked after the commit, alone
        while (stream, account["last_seq"] + 1) in self.held:
            self.held.discard((stream, account["last_seq"] + 1))
            successor = inbound.take_held(self.db, held_events, stream, account["last_seq"] + 1)
            if successor is None:
                return
            try:
                self._stage(account, self.service.core_movement(successor))
            except Refused as refusal:
                inbound.park_after(self.db, successor, refusal)
                return

    def _stage(self, account, data):
        """The checks of AccountsService._apply_movement, in memory; nothing written yet."""
        number = account["account_number"]
        seen = self.references.get((number, data["reference"]))
        refusal = domain.movement_refusal(
            number, account["balance"], data, seen, account["last_date"], self.today
        )
        if refusal:
            raise Refused(*refusal)
        self.start.setdefault(number, account["balance"])
        account["last_date"] = data["date"]
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
                "posted_at": data["posted_at"].astimezone(UTC).replace(tzinfo=None),
                "description": data["description"],
                "reference": data["reference"],
                "debit": data["debit"],
                "credit": data["credit"],
                "balance": data["balance"],
            }
        )
        # the shape of MovementPostedEventSchema, built by hand
        self.emitted.append(
            {
                "account_number": number,
                "member_number": account["member_number"],
                "date": data["date"].isoformat(),
                "description": data["description"],
                "reference": data["reference"],
                "debit": fmt(data["debit"]),
                "credit": fmt(data["credit"]),
                "balance": fmt(data["balance"]),
                "request_id": data.get("request_id"),
            }
        )

    def _write(self):
        if self.rows:
            self.db.execute(store.INSERT_MOVEMENT, self.rows)
            self.db.execute(
                SET_ACCOUNT,
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
            self.service.events.emit_many("movement_posted", self.emitted)
            now = self.service.clock.utcnow()
            for number, data in self.hold_ends:
                store.end_hold(self.db, number, data["request_id"], "movement", now)
            self.service.events.emit_many(
                "request_movement_posted",
                [domain.request_movement(number, data) for number, data in self.hold_ends],
            )
        if self.claims:
            now = inbound.utcnow()
            self.db.execute(
                insert(processed_events),
                [
                    {"event_id": e, "consumer": self.consumer, "processed_at": now, "digest": d}
                    for e, d in self.claims
                ],
            )


def same(applied, data):
    """domain.same_movement for a stored row or a movement staged in this run (a dict)."""
    if isinstance(applied, dict):
        return all(
            applied[k] == data[k] for k in ("reference", "date", "debit", "credit", "balance")
        )
    return domain.same_movement(applied, data)
