"""accounts: the member record (ficha del socio), savings accounts and their movements."""

import json
from datetime import UTC, date
from decimal import Decimal

from services.accounts import bulk, core_batch, domain, store
from services.accounts.contracts import (
    NEWEST_FIRST,
    AccountSchema,
    DailyBalancesSchema,
    HoldSchema,
    MemberEmailChangedEventSchema,
    MemberSchema,
    MemberUpdatedEventSchema,
    MovementPostedEventSchema,
    PostMovementSchema,
    ReconciliationFailedEventSchema,
    ReleaseHoldSchema,
    StatementQuerySchema,
    StatementSchema,
    TakeHoldSchema,
    VerifyMemberSchema,
)
from services.accounts.models import (
    Member,
    ReconciliationChunk,
    ReconciliationDifference,
    SavingsAccount,
    held_events,
    outbox,
    processed_events,
)
from services.accounts.schemas import (
    AccountClosedSchema,
    AccountOpenedSchema,
    CoreMovementSchema,
    DayClosedSchema,
    MemberUpsertedSchema,
)
from services.common import inbound
from services.common.clock_provider import ClockProvider
from services.common.correlation import CorrelationContext
from services.common.db import Database
from services.common.entrypoints import rpc
from services.common.errors import Conflict, NotFound, ValidationError
from services.common.events import EventOutbox, iso_utc
from services.common.inbound import NotYet, Refused, core_events
from services.common.money import fmt
from services.common.operator import CoreOperations
from services.common.schemas import load_or_raise

ACCOUNT_NOT_FOUND = "La cuenta no existe."
# how long a day_closed waits for movements still on their way (the NotYet retries go past it)
RECONCILIATION_GRACE_SECONDS = 10


# schemas built once: building one copies every declared field, on the hottest RPCs
MEMBER = MemberSchema()
ACCOUNTS = AccountSchema(many=True)


def accounts_answer(rows):
    """The member's accounts as published, each with the available balance the member may
    dispose of (certificados de aportación: 0.00)."""
    answer = ACCOUNTS.dump(rows)
    for account in answer:
        stored = Decimal(account["available_balance"])
        account["available_balance"] = fmt(domain.available_balance(account["product"], stored))
    return answer


STATEMENT = StatementSchema()
DAILY_BALANCES = DailyBalancesSchema()
CORE_MEMBER = MemberUpsertedSchema()
CORE_ACCOUNT_OPENED = AccountOpenedSchema()
CORE_MOVEMENT = CoreMovementSchema()
CORE_ACCOUNT_CLOSED = AccountClosedSchema()
CORE_DAY_CLOSED = DayClosedSchema()
TAKE_HOLD = TakeHoldSchema()
RELEASE_HOLD = ReleaseHoldSchema()
HOLD = HoldSchema()
HOLD_REUSED = "La solicitud {request_id} ya reservó otro monto u otra cuenta."
CORE_CONSUMER = "accounts.on_core_event"
# core events applied per transaction at most (what is waiting; docs/integration.md, "Lotes")
CORE_BATCH = 200
CORE_EVENT_TYPES = (
    "account_opened",
    "movement_posted",
    "account_closed",
    "day_closed",
)
# a member's status and e-mail take effect for login within a second whatever is queued: their
# own queue (core.accounts.members), never behind a burst of movements (docs/integration.md)
MEMBER_EVENT_TYPES = ("member_upserted",)


def core_event_data(schema, event):
    """The event's `data` loaded with its schema; a wrong one is refused with every reason."""
    return inbound.load_data(schema, event.get("data"), event.get("event_type"))


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


class AccountsService(CoreOperations):
    name = "accounts"
    held_table = held_events

    db = Database("accounts")
    # member_updated leaves before any waiting movement_posted (auth refuses an inactive
    # member's login on it): a relay lane of its own
    events = EventOutbox("accounts", outbox, lanes=(("member_updated",),))
    clock = ClockProvider()
    correlation = CorrelationContext()

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def import_state(self, request):
        """What of a bulk load is already here (numbers only), for the importer's checks."""
        return bulk.state(self.db, request)

    @rpc
    def import_rows(self, kind, rows):
        """Load one chunk of a bulk load (docs/integration.md); idempotent, returns counts."""
        return bulk.import_rows(self.db, kind, rows, emit=self.events.emit)

    @rpc
    def verify_member(self, member_number, identification, first_name, last_name, email):
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
        member = store.get_member(self.db, data["member_number"].strip())
        record = member and domain.MemberRecord(
            member.member_number,
            member.identification,
            member.given_names,
            member.surnames,
            member.email,
        )
        return {"match": domain.registration_matches(record, **data)}

    @rpc
    def is_member_identification(self, member_number, identification):
        """Yes/no: is `identification` the cédula of this member? Never returns the cédula
        (credit uses it to refuse an applicant as their own guarantor)."""
        member = store.get_member(self.db, (member_number or "").strip())
        return member is not None and member.identification == (identification or "").strip()

    @rpc
    def get_member(self, member_number):
        member = store.get_member(self.db, member_number)
        if member is None:
            raise NotFound("El socio no existe.")
        return member_dict(member)

    @rpc
    def overview(self, member_number):
        """The member record and the savings accounts in one call (the consolidated position)."""
        member, accounts = store.member_overview(self.db, member_number)
        if member is None:
            raise NotFound("El socio no existe.")
        return {"member": member_dict(member), "accounts": accounts_answer(accounts)}

    @rpc
    def list_accounts(self, member_number):
        return accounts_answer(store.list_accounts(self.db, member_number))

    @rpc
    def get_statement(
        self,
        member_number,
        account_number,
        date_from,
        date_to,
        page=1,
        page_size=100,
        order="asc",
    ):
        query = load_or_raise(
            StatementQuerySchema(),
            {
                "from": date_from,
                "to": date_to,
                "page": page,
                "page_size": page_size,
                "order": order,
            },
        )
        account = store.member_account(self.db, member_number, account_number)
        if account is None:
            raise NotFound(ACCOUNT_NOT_FOUND)
        errors = domain.statement_range_errors(query["from_"], query["to"], self.clock.today())
        if errors:
            raise ValidationError(fields=errors)
        result = store.statement(
            self.db,
            account,
            query["from_"],
            query["to"],
            query["page"],
            query["page_size"],
            newest_first=query["order"] == NEWEST_FIRST,
        )
        return STATEMENT.dump(result)

    @rpc
    def daily_balances(self, member_number, account_number, date_from, date_to):
        """The end-of-day balance of each day with movements in the range (the statement page's
        chart): ≤ 3 660 points, cheap even for an account with 100 000 movements. The same rules
        as get_statement (the member's own account, the same range limits)."""
        query = load_or_raise(StatementQuerySchema(), {"from": date_from, "to": date_to})
        account = store.member_account(self.db, member_number, account_number)
        if account is None:
            raise NotFound(ACCOUNT_NOT_FOUND)
        errors = domain.statement_range_errors(query["from_"], query["to"], self.clock.today())
        if errors:
            raise ValidationError(fields=errors)
        days = store.daily_balances(self.db, account, query["from_"], query["to"])
        return DAILY_BALANCES.dump(
            {
                "account_number": account.account_number,
                "from_": query["from_"],
                "to": query["to"],
                "opening_balance": store.balance_before(self.db, account, query["from_"]),
                "days": [{"date": day, "balance": balance} for day, balance in days],
            }
        )

    @rpc
    def post_movement(
        self, account_number, date, description, reference=None, debit=None, credit=None
    ):
        """Post a movement (from the core banking system) and emit `movement_posted`."""
        data = load_or_raise(
            PostMovementSchema(),
            {
                "account_number": account_number,
                "date": date,
                "description": description,
                "reference": reference,
                "debit": debit,
                "credit": credit,
            },
        )
        if bool(data["debit"]) == bool(data["credit"]):
            raise ValidationError(fields={"debit": ["Indique un débito o un crédito, no ambos."]})
        account = store.lock_account(self.db, data["account_number"])
        if account is None:
            raise NotFound(ACCOUNT_NOT_FOUND)
        existing = store.movement_by_reference(self.db, account.account_number, data["reference"])
        if existing is not None:
            # the same posting again (a retry, a redelivered request): same answer, no new effect
            return self._movement_event(account, existing)
        try:
            movement = store.post_movement(
                self.db,
                account,
                data["date"],
                data["description"],
                data["reference"],
                data["debit"],
                data["credit"],
            )
        except ValueError as exc:
            message = (
                "Fondos insuficientes."
                if "insufficient" in str(exc)
                else "La fecha es anterior al último movimiento."
            )
            raise ValidationError(
                fields={"debit" if "insufficient" in str(exc) else "date": [message]}
            ) from None
        event = self._movement_event(account, movement)
        self.events.emit("movement_posted", event)
        return event

    @staticmethod
    def _movement_event(account, movement):
        return MovementPostedEventSchema().dump(
            {
                "account_number": account.account_number,
                "member_number": account.member_number,
                "date": movement.date,
                "description": movement.description,
                "reference": movement.reference,
                "debit": movement.debit,
                "credit": movement.credit,
                "balance": movement.balance,
            }
        )

    # --- holds of confirmed orders (docs/payments.md) -----------------------------------------

    @rpc
    def take_hold(self, request_id, account_number, member_number, amount):
        """Reserve `amount` of the member's account for the order `request_id`, under the lock
        of the account: the saldo disponible is checked again and falls at once, the balance
        does not. Idempotent by request_id: a second take answers what the first did.
        A refusal reserves nothing: {"status": "refused", "reason_code": ...}."""
        data = load_or_raise(
            TAKE_HOLD,
            {
                "request_id": request_id,
                "account_number": account_number,
                "member_number": member_number,
                "amount": amount,
            },
        )
        account = store.lock_account_row(self.db, data["account_number"])
        if account is None or account.member_number != data["member_number"]:
            raise NotFound(ACCOUNT_NOT_FOUND)
        existing = store.hold(self.db, data["request_id"])
        if existing is not None:
            if not domain.same_hold(data["account_number"], data["amount"], existing):
                raise Conflict(HOLD_REUSED.format(request_id=data["request_id"]))
            return self._hold_answer(existing)
        refusal = domain.hold_refusal(
            account.product, account.status, account.available_balance, data["amount"]
        )
        if refusal:
            code, message = refusal
            return HOLD.dump(
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
            self.db,
            account._mapping,
            data["request_id"],
            data["member_number"],
            data["amount"],
            self.clock.utcnow(),
        )
        return self._hold_answer(store.hold(self.db, data["request_id"]))

    @rpc
    def release_hold(self, request_id, reason):
        """End the hold of `request_id` (the core rejected the order, an operator resolved it):
        its amount is available again. Idempotent: a hold ends once."""
        data = load_or_raise(RELEASE_HOLD, {"request_id": request_id, "reason": reason})
        existing = store.hold(self.db, data["request_id"])
        if existing is None:
            return HOLD.dump({"request_id": data["request_id"], "status": "unknown"})
        number = existing.account_number
        self.db.expunge(existing)  # read again under the lock below
        store.lock_account_row(self.db, number)
        store.end_hold(self.db, number, data["request_id"], data["reason"], self.clock.utcnow())
        return self._hold_answer(store.hold(self.db, data["request_id"]))

    @rpc
    def transfer_destination(self, account_number, identification):
        """Another member's savings account a transfer may credit, when `identification` is its
        holder's cédula: {member_number, product, holder_name_masked}; None otherwise (never
        says which part failed)."""
        account = self.db.get(SavingsAccount, (account_number or "").strip())
        if account is None or not domain.can_receive_transfer(account.product, account.status):
            return None
        member = store.get_member(self.db, account.member_number)
        if member is None or member.identification != (identification or "").strip():
            return None
        return {
            "member_number": member.member_number,
            "product": account.product,
            "holder_name_masked": domain.mask_holder(member.given_names, member.surnames),
        }

    @rpc
    def get_hold(self, request_id):
        existing = store.hold(self.db, request_id)
        if existing is None:
            return HOLD.dump({"request_id": request_id, "status": "unknown"})
        return self._hold_answer(existing)

    def _hold_answer(self, hold):
        account = self.db.get(SavingsAccount, hold.account_number)
        return HOLD.dump(
            {
                "request_id": hold.request_id,
                "status": "taken" if hold.ended_at is None else "ended",
                "account_number": hold.account_number,
                "amount": hold.amount,
                "available_balance": account.available_balance if account else None,
                "end_reason": hold.end_reason,
            }
        )

    # --- the core's events (docs/integration.md) ----------------------------------------------

    @core_events("accounts", CORE_EVENT_TYPES, batch=CORE_BATCH)
    def on_core_event(self, event):
        """Apply the core's events that were waiting (a CoreBatch) in one transaction."""
        if isinstance(event, inbound.CoreBatch):
            core_batch.apply_batch(self, event, CORE_CONSUMER)
        else:
            self.apply_core_event(event)

    @core_events("accounts", MEMBER_EVENT_TYPES, lane="members")
    def on_member_event(self, event):
        """member_upserted, one at a time from core.accounts.members (claimed under the same
        consumer name as the main queue's events: applied once whichever queue brought it)."""
        self.apply_core_event(event)

    def apply_core_event(self, event):
        """Apply one event of the core, exactly once (by event_id, reference and sequence)."""
        if not inbound.claim(self.db, processed_events, event, CORE_CONSUMER):
            return
        handler = getattr(self, f"_core_{event['event_type']}")
        handler(event)

    @staticmethod
    def core_movement(event):
        return core_event_data(CORE_MOVEMENT, event)

    def _core_member_upserted(self, event):
        data = core_event_data(CORE_MEMBER, event)
        member = store.get_member(self.db, data["member_number"])
        owner = store.member_by_identification(self.db, data["identification"])
        if owner is not None and owner.member_number != data["member_number"]:
            raise Refused(
                f"La cédula del socio {data['member_number']} ya pertenece al socio "
                f"{owner.member_number}.",
                inbound.KIND_CONFLICT,
            )
        changes = domain.member_changes(member, data)
        if not changes:
            return
        old_email = member.email if domain.email_changed(member, changes) else None
        if member is None:
            member = Member(member_number=data["member_number"], joined_on=self.clock.today())
            self.db.add(member)
        for column, value in changes.items():
            setattr(member, column, value)
        self.db.flush()
        self.events.emit(
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
            self.events.emit(
                "member_email_changed",
                MemberEmailChangedEventSchema().dump(
                    domain.email_change_data(
                        member.member_number,
                        member.given_names,
                        member.surnames,
                        old_email,
                        member.email,
                        iso_utc(self.clock.utcnow()),
                    )
                ),
            )

    def _core_account_opened(self, event):
        data = core_event_data(CORE_ACCOUNT_OPENED, event)
        if store.get_member(self.db, data["member_number"]) is None:
            raise NotYet(f"El socio {data['member_number']} no existe.")
        account = self.db.get(SavingsAccount, data["account_number"])
        if account is not None:
            if account.member_number != data["member_number"] or account.product != data["product"]:
                raise Refused(
                    f"La cuenta {data['account_number']} ya existe con otro socio o producto.",
                    inbound.KIND_CONFLICT,
                )
            return
        self.db.add(
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
        self.db.flush()

    def _core_movement_posted(self, event):
        data = core_event_data(CORE_MOVEMENT, event)
        number = data["account_number"]
        row = store.lock_account_row(self.db, number)
        if row is None:
            raise NotYet(f"La cuenta {number} no existe.")
        account = dict(row._mapping)

        def apply(ev):
            item = data if ev is event else core_event_data(CORE_MOVEMENT, ev)
            self._apply_movement(account, item)

        def same(_ev):
            applied = store.movement_at(self.db, number, data["sequence"])
            return applied is not None and domain.same_movement(applied, data)

        inbound.apply_in_order(
            self.db,
            held_events,
            f"account:{number}",
            account["last_seq"],
            data["sequence"],
            event,
            apply,
            same,
        )

    def _apply_movement(self, account, data):
        number = account["account_number"]
        seen = store.sequence_of_reference(self.db, number, data["reference"])
        if "last_date" not in account:  # read once per stream; then kept by append_core_movement
            account["last_date"] = store.last_movement_date(self.db, number)
        refusal = domain.movement_refusal(
            number, account["balance"], data, seen, account["last_date"], self.clock.today()
        )
        if refusal:
            raise Refused(*refusal)
        data["posted_at"] = data["posted_at"].astimezone(UTC).replace(tzinfo=None)
        store.append_core_movement(self.db, account, data)
        if data.get("request_id"):
            # the core executed the portal's request: the balance shows it, the hold ends
            store.end_hold(self.db, number, data["request_id"], "movement", self.clock.utcnow())
            self.events.emit("request_movement_posted", domain.request_movement(number, data))
        # the shape of MovementPostedEventSchema, built by hand: this runs for every movement
        self.events.emit(
            "movement_posted",
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
            },
        )

    def _core_account_closed(self, event):
        data = core_event_data(CORE_ACCOUNT_CLOSED, event)
        account = self.db.get(SavingsAccount, data["account_number"], with_for_update=True)
        if account is None:
            raise NotYet(f"La cuenta {data['account_number']} no existe.")
        if account.status == domain.CLOSED:
            return
        account.status = domain.CLOSED
        account.closed_on = data["closed_on"]

    def _core_day_closed(self, event):
        data = core_event_data(CORE_DAY_CLOSED, event)
        day = store.lock_reconciliation_day(self.db, data["business_date"], data["chunks"])
        compared = self.db.get(ReconciliationChunk, (data["business_date"], data["chunk"]))
        if compared is not None or (day.complete and day.chunks != data["chunks"]):
            # a new day_closed (a redelivery has the same event_id and stops at the inbox) for
            # a chunk already compared, or a whole new close of a complete day: the core closes
            # the day again, and this comparison replaces the earlier one
            store.restart_reconciliation_day(self.db, day, data["chunks"])
        elif day.chunks != data["chunks"]:
            raise Refused(
                f"El cierre del {data['business_date']} se anunció en {day.chunks} partes, "
                f"no en {data['chunks']}.",
                inbound.KIND_CONFLICT,
            )
        portal = store.reconciliation_accounts(
            self.db, [a["account_number"] for a in data["accounts"]], data["business_date"]
        )
        late = domain.movements_in_flight(portal, data["accounts"])
        if late and domain.recently(
            event.get("occurred_at"), self.clock.now(), RECONCILIATION_GRACE_SECONDS
        ):
            # the day's last movements may be a few messages behind the close (held, retried):
            # wait for them rather than record a difference that is not one
            raise NotYet(
                f"El cierre del {data['business_date']} espera movimientos en camino "
                f"de {len(late)} cuenta(s), p. ej. {late[0]}."
            )
        self.db.add(
            ReconciliationChunk(
                business_date=data["business_date"],
                chunk=data["chunk"],
                received_at=self.clock.utcnow(),
                # the core's figures as sent: an operator's redo compares them again
                accounts=json.dumps(event["data"]["accounts"], ensure_ascii=False),
            )
        )
        day.received += 1
        day.differences += self._compare_close(data["business_date"], data["accounts"], portal)
        if day.received >= day.chunks and not day.complete:
            self._close_complete(day)

    def _compare_close(self, business_date, accounts, portal):
        """Record every difference between the core's figures of one chunk and the portal's
        accounts at the close of `business_date`; returns how many."""
        found = 0
        for core in accounts:
            for kind, portal_value, core_value in domain.reconciliation_differences(
                portal.get(core["account_number"]), core
            ):
                found += 1
                self.db.add(
                    ReconciliationDifference(
                        business_date=business_date,
                        account_number=core["account_number"],
                        kind=kind,
                        portal_value=portal_value,
                        core_value=core_value,
                    )
                )
        return found

    def _close_complete(self, day):
        day.complete = True
        day.completed_at = self.clock.utcnow()
        if day.differences:
            self.events.emit(
                "reconciliation_failed",
                ReconciliationFailedEventSchema().dump(
                    {"business_date": day.business_date, "differences": day.differences}
                ),
            )

    @rpc
    def redo_reconciliation(self, business_date):
        """Compare a closed day again (an operator, once a held or parked movement is settled):
        the core's figures of each chunk as it sent them against the portal's accounts now; the
        new differences replace the day's earlier ones. Chunks the core never sent stay missing."""
        try:
            day_value = date.fromisoformat(business_date)
        except (TypeError, ValueError):
            raise ValidationError(
                fields={"business_date": ["Fecha inválida: use el formato AAAA-MM-DD."]}
            ) from None
        day = store.lock_reconciliation_day_if_any(self.db, day_value)
        if day is None:
            raise NotFound(f"No hay cierre del core para {business_date}.")
        chunks = store.reconciliation_chunks(self.db, day_value)
        if any(c.accounts is None for c in chunks):
            raise ValidationError(
                fields={
                    "business_date": [
                        "Este cierre se recibió antes de guardar las cifras del core: "
                        "pida al core que envíe el day_closed de nuevo."
                    ]
                }
            )
        store.delete_reconciliation_differences(self.db, day_value)
        day.differences = 0
        day.complete = False
        for chunk in chunks:
            data = core_event_data(
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
                self.db, [a["account_number"] for a in data["accounts"]], day_value
            )
            day.differences += self._compare_close(day_value, data["accounts"], portal)
        if day.received >= day.chunks:
            self._close_complete(day)
        self.db.flush()
        return self.reconciliation(business_date)

    def stream_last(self, stream):
        return store.last_sequence(self.db, stream.partition(":")[2])

    @rpc
    def inbound_status(self):
        """Refusals of core events by kind, and how many wait for a predecessor."""
        return {
            "service": "accounts",
            "refusals": inbound.refusal_counts(self.db, "accounts"),
            "held": inbound.held_count(self.db, held_events),
        }

    @rpc
    def reconciliation(self, business_date=None):
        """The differences of a closed day (the last one when no date is given)."""
        day_value = None
        if business_date:
            try:
                day_value = date.fromisoformat(business_date)
            except (TypeError, ValueError):
                raise ValidationError(
                    fields={"business_date": ["Fecha inválida: use el formato AAAA-MM-DD."]}
                ) from None
        day = store.reconciliation_day(self.db, day_value)
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
                for d in store.reconciliation_differences(self.db, day.business_date)
            ],
        }
