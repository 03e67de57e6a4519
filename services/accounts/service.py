"""accounts: the member record (ficha del socio), savings accounts and their movements.

nameko wiring only: each entrypoint calls a use case of services/accounts/usecases/ with the
worker's session, outbox and clock, and returns its answer (services/accounts/contracts.py)."""

from services.accounts import bulk, store
from services.accounts.models import held_events, outbox
from services.accounts.usecases import from_core, holds, members, movements, reconciliation
from services.common.clock_provider import ClockProvider
from services.common.correlation import CorrelationContext
from services.common.db import Database
from services.common.entrypoints import rpc
from services.common.events import EventOutbox
from services.common.inbound import CoreBatch, core_events
from services.common.operator import CoreOperations

# core events applied per transaction at most (what is waiting; docs/integration.md, "Lotes")
CORE_BATCH = 200


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
        return members.verify_member(
            self.db, member_number, identification, first_name, last_name, email
        )

    @rpc
    def is_member_identification(self, member_number, identification):
        """Yes/no: is `identification` the cédula of this member? Never returns the cédula
        (credit uses it to refuse an applicant as their own guarantor)."""
        return members.is_member_identification(self.db, member_number, identification)

    @rpc
    def get_member(self, member_number):
        return members.get_member(self.db, member_number)

    @rpc
    def overview(self, member_number):
        """The member record and the savings accounts in one call (the consolidated position)."""
        return members.overview(self.db, member_number)

    @rpc
    def overviews(self, member_numbers):
        """`overview` of several members at once: the gateway's coalesced position."""
        return members.overviews(self.db, member_numbers)

    @rpc
    def list_accounts(self, member_number):
        return members.list_accounts(self.db, member_number)

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
        return members.get_statement(
            self.db,
            self.clock,
            member_number,
            account_number,
            date_from,
            date_to,
            page,
            page_size,
            order,
        )

    @rpc
    def daily_balances(self, member_number, account_number, date_from, date_to):
        """The end-of-day balance of each day with movements in the range (the statement page's
        chart): ≤ 3 660 points, cheap even for an account with 100 000 movements."""
        return members.daily_balances(
            self.db, self.clock, member_number, account_number, date_from, date_to
        )

    @rpc
    def post_movement(
        self, account_number, date, description, reference=None, debit=None, credit=None
    ):
        """Post a movement and emit `movement_posted` (the portal's tests and tools)."""
        return movements.post_movement(
            self.db,
            self.events,
            self.clock,
            account_number,
            date,
            description,
            reference,
            debit,
            credit,
        )

    # --- holds of confirmed orders (docs/payments.md) -----------------------------------------

    @rpc
    def take_hold(self, request_id, account_number, member_number, amount):
        """Reserve `amount` of the member's account for the order `request_id`."""
        return holds.take_hold(
            self.db, self.clock, request_id, account_number, member_number, amount
        )

    @rpc
    def release_hold(self, request_id, reason):
        """End the hold of `request_id`: its amount is available again. Idempotent."""
        return holds.release_hold(self.db, self.clock, request_id, reason)

    @rpc
    def transfer_destination(self, account_number, identification):
        """Another member's savings account a transfer may credit, when `identification` is its
        holder's cédula: {member_number, product, holder_name_masked}; None otherwise."""
        return members.transfer_destination(self.db, account_number, identification)

    @rpc
    def get_hold(self, request_id):
        return holds.get_hold(self.db, request_id)

    # --- the core's events (docs/integration.md), bound and dispatched by from_core.HANDLERS ---

    @core_events("accounts", from_core.MAIN_QUEUE, batch=CORE_BATCH)
    def on_core_event(self, event):
        """Apply the core's events that were waiting (a CoreBatch) in one transaction."""
        if isinstance(event, CoreBatch):
            from_core.apply_core_batch(self.db, self.events, self.clock, event)
        else:
            from_core.apply_core_event(self.db, self.events, self.clock, event)

    @core_events("accounts", from_core.MEMBER_LANE, lane="members")
    def on_member_event(self, event):
        """member_upserted, one at a time from core.accounts.members (claimed under the same
        consumer name as the main queue's events: applied once whichever queue brought it)."""
        from_core.apply_core_event(self.db, self.events, self.clock, event)

    @rpc
    def redo_reconciliation(self, business_date):
        """Compare a closed day again (an operator, once a held or parked movement is settled);
        chunks the core never sent stay missing."""
        return reconciliation.redo_reconciliation(self.db, self.events, self.clock, business_date)

    def stream_last(self, stream):
        return store.last_sequence(self.db, stream.partition(":")[2])

    @rpc
    def inbound_status(self):
        """Refusals of core events by kind, and how many wait for a predecessor."""
        return from_core.inbound_status(self.db)

    @rpc
    def reconciliation(self, business_date=None):
        """The differences of a closed day (the last one when no date is given)."""
        return reconciliation.reconciliation(self.db, business_date)
