"""The accounts service's application layer: each function takes the unit of work (the worker's
database session `db`), the outbox (`outbox.emit`) and the clock as arguments, and returns what
the RPC answers (a contract's shape); service.py only wires them to nameko.

The core's events are applied through `HANDLERS` (event type → use case), the table that also
declares the queues' bindings (service.py). Every movement, of the core or of the `post_movement`
RPC, is written by one function, `apply_movements`, for a batch of any size from 1 up.
"""

import json
from datetime import UTC, date
from decimal import Decimal

from services.accounts import domain, store
from services.accounts.contracts import (
    NEWEST_FIRST,
    AccountSchema,
    DailyBalancesSchema,
    HoldSchema,
    MemberEmailChangedEventSchema,
    MemberSchema,
    MemberUpdatedEventSchema,
    PostMovementSchema,
    ReconciliationFailedEventSchema,
    ReleaseHoldSchema,
    StatementQuerySchema,
    StatementSchema,
    TakeHoldSchema,
    VerifyMemberSchema,
    movement_posted,
)
from services.accounts.models import (
    Member,
    ReconciliationChunk,
    ReconciliationDifference,
    SavingsAccount,
    held_events,
    processed_events,
)
from services.accounts.schemas import (
    AccountClosedSchema,
    AccountOpenedSchema,
    CoreMovementSchema,
    DayClosedSchema,
    MemberUpsertedSchema,
)
from services.common import events as inbox
from services.common import inbound
from services.common.errors import Conflict, NotFound, ValidationError
from services.common.events import iso_utc
from services.common.handlers import HandlerTable
from services.common.inbound import NotYet, Refused
from services.common.inbound.ordering import conflict
from services.common.money import fmt
from services.common.ordering import APPLY, HOLD, KIND_CONFLICT
from services.common.schemas import load_or_raise

ACCOUNT_NOT_FOUND = "La cuenta no existe."
# how long a day_closed waits for movements still on their way (the NotYet retries go past it)
RECONCILIATION_GRACE_SECONDS = 10
# the inbox's consumer name of the core's events, whichever queue brought them
CORE_CONSUMER = "accounts.on_core_event"

# schemas built once: building one copies every declared field, on the hottest RPCs
MEMBER = MemberSchema()
ACCOUNTS = AccountSchema(many=True)
STATEMENT = StatementSchema()
DAILY_BALANCES = DailyBalancesSchema()
CORE_MEMBER = MemberUpsertedSchema()
CORE_ACCOUNT_OPENED = AccountOpenedSchema()
CORE_MOVEMENT = CoreMovementSchema()
CORE_ACCOUNT_CLOSED = AccountClosedSchema()
CORE_DAY_CLOSED = DayClosedSchema()
TAKE_HOLD = TakeHoldSchema()
RELEASE_HOLD = ReleaseHoldSchema()
HOLD_ANSWER = HoldSchema()
HOLD_REUSED = "La solicitud {request_id} ya reservó otro monto u otra cuenta."
BAD_DATE = "Fecha inválida: use el formato AAAA-MM-DD."


def core_data(schema, event):
    """The event's `data` loaded with its schema; a wrong one is refused with every reason."""
    return inbound.load_data(schema, event.get("data"), event.get("event_type"))


def core_movement(event):
    return core_data(CORE_MOVEMENT, event)


# --- the member and the accounts ------------------------------------------------------------


def member_dict(member):
    data = {
        "member_number": member.member_number,
        "identification_masked": domain.mask_identification(member.identification),
        "given_names": member.given_names,
        "surnames": member.surnames,
        "display_name": domain.display_name(member.given_names, member.surnames),
        "email": member.email,
        "email_masked": domain.mask_email(member.email),
        "phone": member.phone,
        "joined_on": member.joined_on,
        "status": member.status,
    }
    return MEMBER.dump(data)


def accounts_answer(rows):
    """The member's accounts as published, each with the available balance the member may
    dispose of (certificados de aportación: 0.00)."""
    answer = ACCOUNTS.dump(rows)
    for account in answer:
        stored = Decimal(account["available_balance"])
        account["available_balance"] = fmt(domain.available_balance(account["product"], stored))
    return answer


def verify_member(db, member_number, identification, first_name, last_name, email):
    """Yes/no: does this data match one member record? Never says which field failed."""
    data = load_or_raise(
        VerifyMemberSchema(),
        {
            "member_number": member_number,
            "identification": identification,
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
        },
    )
    member = store.get_member(db, data["member_number"].strip())
    record = member and domain.MemberRecord(
        member.member_number,
        member.identification,
        member.given_names,
        member.surnames,
        member.email,
    )
    return {"match": domain.registration_matches(record, **data)}


def is_member_identification(db, member_number, identification):
    member = store.get_member(db, (member_number or "").strip())
    return member is not None and member.identification == (identification or "").strip()


def get_member(db, member_number):
    member = store.get_member(db, member_number)
    if member is None:
        raise NotFound("El socio no existe.")
    return member_dict(member)


def overview(db, member_number):
    member, accounts = store.member_overview(db, member_number)
    if member is None:
        raise NotFound("El socio no existe.")
    return {"member": member_dict(member), "accounts": accounts_answer(accounts)}


def list_accounts(db, member_number):
    return accounts_answer(store.list_accounts(db, member_number))


def _member_account_range(db, clock, member_number, account_number, query):
    account = store.member_account(db, member_number, account_number)
    if account is None:
        raise NotFound(ACCOUNT_NOT_FOUND)
    errors = domain.statement_range_errors(query["from_"], query["to"], clock.today())
    if errors:
        raise ValidationError(fields=errors)
    return account


def get_statement(
    db, clock, member_number, account_number, date_from, date_to, page, page_size, order
):
    query = load_or_raise(
        StatementQuerySchema(),
        {"from": date_from, "to": date_to, "page": page, "page_size": page_size, "order": order},
    )
    account = _member_account_range(db, clock, member_number, account_number, query)
    result = store.statement(
        db,
        account,
        query["from_"],
        query["to"],
        query["page"],
        query["page_size"],
        newest_first=query["order"] == NEWEST_FIRST,
    )
    return STATEMENT.dump(result)


def daily_balances(db, clock, member_number, account_number, date_from, date_to):
    """The end-of-day balance of each day with movements in the range (≤ 3 660 points); the same
    rules as get_statement (the member's own account, the same range limits)."""
    query = load_or_raise(StatementQuerySchema(), {"from": date_from, "to": date_to})
    account = _member_account_range(db, clock, member_number, account_number, query)
    days = store.daily_balances(db, account, query["from_"], query["to"])
    return DAILY_BALANCES.dump(
        {
            "account_number": account.account_number,
            "from_": query["from_"],
            "to": query["to"],
            "opening_balance": store.balance_before(db, account, query["from_"]),
            "days": [{"date": day, "balance": balance} for day, balance in days],
        }
    )


def transfer_destination(db, account_number, identification):
    """Another member's savings account a transfer may credit, when `identification` is its
    holder's cédula; None otherwise (never says which part failed)."""
    account = db.get(SavingsAccount, (account_number or "").strip())
    if account is None or not domain.can_receive_transfer(account.product, account.status):
        return None
    member = store.get_member(db, account.member_number)
    if member is None or member.identification != (identification or "").strip():
        return None
    return {
        "member_number": member.member_number,
        "product": account.product,
        "holder_name_masked": domain.mask_holder(member.given_names, member.surnames),
    }


# --- movements: the one way to write one ------------------------------------------------------


def _naive_utc(moment):
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _same(applied, data):
    """domain.same_movement for a stored row or a movement staged in this batch (a dict)."""
    if isinstance(applied, dict):
        return all(
            applied[k] == data[k] for k in ("reference", "date", "debit", "credit", "balance")
        )
    return domain.same_movement(applied, data)


class _Movements:
    """One call of `apply_movements`: every check in memory against what was read once, then
    the writes in a handful of multi-row statements."""

    def __init__(self, db, clock, numbers, references):
        self.db = db
        self.today = clock.today()
        self.accounts = store.lock_accounts(db, numbers)
        for number, last_date in store.last_movement_dates(db, numbers).items():
            if number in self.accounts:
                self.accounts[number]["last_date"] = last_date
        self.held = inbound.held_in(db, held_events, [f"account:{n}" for n in numbers])
        self.references = store.reference_sequences(db, numbers, references)
        self.rows = []  # movements to insert
        self.emitted = []  # their movement_posted events (ours)
        self.staged = {}  # (account, sequence) -> data applied in this call
        self.start = {}  # account -> its balance before this call
        self.hold_ends = []  # (account, data) of movements that execute a portal request

    def one(self, event, data):
        """Apply, hold or recognise one movement in its stream's order; Refused when wrong."""
        number, sequence = data["account_number"], data["sequence"]
        account = self.accounts.get(number)
        if account is None:
            raise NotYet(f"La cuenta {number} no existe.")
        stream = f"account:{number}"
        decision = inbound.order_decision(account["last_seq"], sequence)
        if decision == HOLD:
            inbound.hold_event(self.db, held_events, stream, sequence, event)
            self.held.add((stream, sequence))
            return
        if decision != APPLY:
            applied = self.staged.get((number, sequence)) or store.movement_at(
                self.db, number, sequence
            )
            if applied is None or not _same(applied, data):
                raise conflict(stream, sequence)
            return
        self.stage(account, data)
        # its held successors, in turn; a wrong one is parked after the commit, alone
        while (stream, account["last_seq"] + 1) in self.held:
            self.held.discard((stream, account["last_seq"] + 1))
            successor = inbound.take_held(self.db, held_events, stream, account["last_seq"] + 1)
            if successor is None:
                return
            try:
                self.stage(account, core_movement(successor))
            except Refused as refusal:
                inbound.park_after(self.db, successor, refusal)
                return

    def stage(self, account, data):
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

    def write(self, outbox, clock):
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


def apply_movements(db, outbox, clock, movements, consumer=None):
    """Write `movements` [(event or None, data)] — the core's `movement_posted` (data loaded with
    CoreMovementSchema) or the RPC's — in their streams' order, as one batch of any size from 1
    up: accounts locked at once, one query each for the claims, held successors and references
    already used, every check in memory, then one multi-row insert of the movements, the outbox
    events and the claims, one update per account. Returns each movement's refusal (None when
    applied, held or recognised as a redelivery); a refused one has nothing of it written.

    `consumer`: the events are claimed in the inbox under that name (already handled ones are
    skipped); None when the caller claimed them (or they are not events)."""
    outcomes = [None] * len(movements)
    if not movements:
        return outcomes
    numbers = sorted({data["account_number"] for _event, data in movements})
    references = sorted({d["reference"] for _e, d in movements if d["reference"] is not None})
    run = _Movements(db, clock, numbers, references)
    done, claims = {}, []
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
        inbox.record_claims(db, processed_events, consumer, claims)
    return outcomes


def post_movement(db, outbox, clock, account_number, day, description, reference, debit, credit):
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
    (refusal,) = apply_movements(db, outbox, clock, [(None, movement)])
    if refusal is not None:
        raise ValidationError(fields={"date": [refusal.reason]})
    return movement_posted(account.account_number, account.member_number, movement)


# --- the core's events (docs/integration.md): the handlers of HANDLERS -----------------------


def member_upserted(db, outbox, clock, event):
    data = core_data(CORE_MEMBER, event)
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
    old_email = member.email if domain.email_changed(member, changes) else None
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


def account_opened(db, outbox, clock, event):
    data = core_data(CORE_ACCOUNT_OPENED, event)
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


def core_movement_posted(db, outbox, clock, event):
    """One movement of the core (claimed by the caller): `apply_movements` of one."""
    (refusal,) = apply_movements(db, outbox, clock, [(event, core_movement(event))])
    if refusal is not None:
        raise refusal


def account_closed(db, outbox, clock, event):
    data = core_data(CORE_ACCOUNT_CLOSED, event)
    account = db.get(SavingsAccount, data["account_number"], with_for_update=True)
    if account is None:
        raise NotYet(f"La cuenta {data['account_number']} no existe.")
    if account.status == domain.CLOSED:
        return
    account.status = domain.CLOSED
    account.closed_on = data["closed_on"]


def day_closed(db, outbox, clock, event):
    data = core_data(CORE_DAY_CLOSED, event)
    day = store.lock_reconciliation_day(db, data["business_date"], data["chunks"])
    compared = db.get(ReconciliationChunk, (data["business_date"], data["chunk"]))
    if compared is not None or (day.complete and day.chunks != data["chunks"]):
        # a new day_closed (a redelivery has the same event_id and stops at the inbox) for
        # a chunk already compared, or a whole new close of a complete day: the core closes
        # the day again, and this comparison replaces the earlier one
        store.restart_reconciliation_day(db, day, data["chunks"])
    elif day.chunks != data["chunks"]:
        raise Refused(
            f"El cierre del {data['business_date']} se anunció en {day.chunks} partes, "
            f"no en {data['chunks']}.",
            KIND_CONFLICT,
        )
    portal = store.reconciliation_accounts(
        db, [a["account_number"] for a in data["accounts"]], data["business_date"]
    )
    late = domain.movements_in_flight(portal, data["accounts"])
    if late and domain.recently(
        event.get("occurred_at"), clock.now(), RECONCILIATION_GRACE_SECONDS
    ):
        # the day's last movements may be a few messages behind the close (held, retried):
        # wait for them rather than record a difference that is not one
        raise NotYet(
            f"El cierre del {data['business_date']} espera movimientos en camino "
            f"de {len(late)} cuenta(s), p. ej. {late[0]}."
        )
    db.add(
        ReconciliationChunk(
            business_date=data["business_date"],
            chunk=data["chunk"],
            received_at=clock.utcnow(),
            # the core's figures as sent: an operator's redo compares them again
            accounts=json.dumps(event["data"]["accounts"], ensure_ascii=False),
        )
    )
    day.received += 1
    day.differences += _compare_close(db, data["business_date"], data["accounts"], portal)
    if day.received >= day.chunks and not day.complete:
        _close_complete(outbox, clock, day)


def _compare_close(db, business_date, accounts, portal):
    """Record every difference between the core's figures of one chunk and the portal's
    accounts at the close of `business_date`; returns how many."""
    found = 0
    for core in accounts:
        for kind, portal_value, core_value in domain.reconciliation_differences(
            portal.get(core["account_number"]), core
        ):
            found += 1
            db.add(
                ReconciliationDifference(
                    business_date=business_date,
                    account_number=core["account_number"],
                    kind=kind,
                    portal_value=portal_value,
                    core_value=core_value,
                )
            )
    return found


def _close_complete(outbox, clock, day):
    day.complete = True
    day.completed_at = clock.utcnow()
    if day.differences:
        outbox.emit(
            "reconciliation_failed",
            ReconciliationFailedEventSchema().dump(
                {"business_date": day.business_date, "differences": day.differences}
            ),
        )


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


def apply_core_event(db, outbox, clock, event):
    """Apply one event of the core, exactly once (by event_id, then reference and sequence)."""
    if not inbox.claim(db, processed_events, event, CORE_CONSUMER):
        return
    HANDLERS.dispatch(event["event_type"], db, outbox, clock, event)


def apply_core_batch(db, outbox, clock, batch):
    """Apply a CoreBatch in the worker's one transaction (docs/integration.md, "Lotes"): each run
    of consecutive `movement_posted` by one `apply_movements`, every other event alone in a
    savepoint; a refused event gets its outcome, nothing of it written."""
    run = []

    def movements():
        parsed = []
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


# --- reconciliation and the inbound status ----------------------------------------------------


def _business_date(value):
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationError(fields={"business_date": [BAD_DATE]}) from None


def redo_reconciliation(db, outbox, clock, business_date):
    """Compare a closed day again: the core's figures of each chunk as it sent them against the
    portal's accounts now; the new differences replace the day's earlier ones."""
    day_value = _business_date(business_date)
    day = store.lock_reconciliation_day_if_any(db, day_value)
    if day is None:
        raise NotFound(f"No hay cierre del core para {business_date}.")
    chunks = store.reconciliation_chunks(db, day_value)
    if any(c.accounts is None for c in chunks):
        raise ValidationError(
            fields={
                "business_date": [
                    "Este cierre se recibió antes de guardar las cifras del core: "
                    "pida al core que envíe el day_closed de nuevo."
                ]
            }
        )
    store.delete_reconciliation_differences(db, day_value)
    day.differences = 0
    day.complete = False
    for chunk in chunks:
        data = core_data(
            CORE_DAY_CLOSED,
            {
                "event_type": "day_closed",
                "data": {
                    "business_date": business_date,
                    "chunk": chunk.chunk,
                    "chunks": day.chunks,
                    "accounts": json.loads(chunk.accounts),
                },
            },
        )
        portal = store.reconciliation_accounts(
            db, [a["account_number"] for a in data["accounts"]], day_value
        )
        day.differences += _compare_close(db, day_value, data["accounts"], portal)
    if day.received >= day.chunks:
        _close_complete(outbox, clock, day)
    db.flush()
    return reconciliation(db, business_date)


def reconciliation(db, business_date=None):
    """The differences of a closed day (the last one when no date is given)."""
    day_value = _business_date(business_date) if business_date else None
    day = store.reconciliation_day(db, day_value)
    if day is None:
        return {"business_date": business_date, "found": False, "differences": []}
    return {
        "business_date": day.business_date.isoformat(),
        "found": True,
        "chunks": day.chunks,
        "received": day.received,
        "complete": day.complete,
        "differences": [
            {
                "account_number": d.account_number,
                "kind": d.kind,
                "portal": d.portal_value,
                "core": d.core_value,
            }
            for d in store.reconciliation_differences(db, day.business_date)
        ],
    }


def inbound_status(db):
    """Refusals of core events by kind, and how many wait for a predecessor."""
    return {
        "service": "accounts",
        "refusals": inbound.refusal_counts(db, "accounts"),
        "held": inbound.held_count(db, held_events),
    }


# --- holds of confirmed orders (docs/payments.md) -------------------------------------------


def hold_answer(db, hold):
    account = db.get(SavingsAccount, hold.account_number)
    return HOLD_ANSWER.dump(
        {
            "request_id": hold.request_id,
            "status": "taken" if hold.ended_at is None else "ended",
            "account_number": hold.account_number,
            "amount": hold.amount,
            "available_balance": account.available_balance if account else None,
            "end_reason": hold.end_reason,
        }
    )


def take_hold(db, clock, request_id, account_number, member_number, amount):
    """Reserve `amount` of the member's account for the order `request_id`, under the lock of
    the account: the saldo disponible is checked again and falls at once, the balance does not.
    Idempotent by request_id. A refusal reserves nothing: {"status": "refused", ...}."""
    data = load_or_raise(
        TAKE_HOLD,
        {
            "request_id": request_id,
            "account_number": account_number,
            "member_number": member_number,
            "amount": amount,
        },
    )
    account = store.lock_account_row(db, data["account_number"])
    if account is None or account.member_number != data["member_number"]:
        raise NotFound(ACCOUNT_NOT_FOUND)
    existing = store.hold(db, data["request_id"])
    if existing is not None:
        if not domain.same_hold(data["account_number"], data["amount"], existing):
            raise Conflict(HOLD_REUSED.format(request_id=data["request_id"]))
        return hold_answer(db, existing)
    refusal = domain.hold_refusal(
        account.product, account.status, account.available_balance, data["amount"]
    )
    if refusal:
        code, message = refusal
        return HOLD_ANSWER.dump(
            {
                "request_id": data["request_id"],
                "status": "refused",
                "account_number": account.account_number,
                "amount": data["amount"],
                "available_balance": account.available_balance,
                "reason_code": code,
                "reason": message,
            }
        )
    store.take_hold(
        db,
        account._mapping,
        data["request_id"],
        data["member_number"],
        data["amount"],
        clock.utcnow(),
    )
    return hold_answer(db, store.hold(db, data["request_id"]))


def release_hold(db, clock, request_id, reason):
    """End the hold of `request_id`: its amount is available again. Idempotent."""
    data = load_or_raise(RELEASE_HOLD, {"request_id": request_id, "reason": reason})
    existing = store.hold(db, data["request_id"])
    if existing is None:
        return HOLD_ANSWER.dump({"request_id": data["request_id"], "status": "unknown"})
    number = existing.account_number
    db.expunge(existing)  # read again under the lock below
    store.lock_account_row(db, number)
    store.end_hold(db, number, data["request_id"], data["reason"], clock.utcnow())
    return hold_answer(db, store.hold(db, data["request_id"]))


def get_hold(db, request_id):
    existing = store.hold(db, request_id)
    if existing is None:
        return HOLD_ANSWER.dump({"request_id": request_id, "status": "unknown"})
    return hold_answer(db, existing)
