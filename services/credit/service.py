"""credit: products, active loans with their stored schedules, guarantees, simulations and loan
applications.

The use cases live in `usecases/`; this module only wires nameko to them. The core's events it
applies (queue `core.credit`) are the ones of `usecases.HANDLERS`.
"""

from services.accounts.contracts import AccountsRpc
from services.common.clock_provider import ClockProvider
from services.common.correlation import CorrelationContext
from services.common.db import Database
from services.common.entrypoints import rpc
from services.common.events import EventOutbox
from services.common.inbound import core_events
from services.common.operator import CoreOperations
from services.common.rpc import ServiceRpc
from services.credit import bulk
from services.credit.models import held_events, outbox
from services.credit.usecases import HANDLERS, applications, from_core, loans, products


class CreditService(CoreOperations):
    name = "credit"

    db = Database("credit")
    events = EventOutbox("credit", outbox)
    accounts = ServiceRpc[AccountsRpc]("accounts")
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
        return bulk.import_rows(self.db, kind, rows)

    # --- products and simulations ---------------------------------------------------------

    @rpc
    def list_products(self):
        return products.list_products(self.db)

    @rpc
    def simulate(self, data):
        return products.simulate(self.db, self.clock, data)

    # --- applications ---------------------------------------------------------------------

    @rpc
    def project_application(self, member_number, data):
        return applications.project_application(
            self.db, self.clock, self.accounts, member_number, data
        )

    @rpc
    def submit_application(self, member_number, data, idempotency_key=None):
        return applications.submit_application(
            self.db, self.events, self.clock, self.accounts, member_number, data, idempotency_key
        )

    @rpc
    def list_applications(self, member_number):
        return applications.list_applications(self.db, member_number)

    @rpc
    def withdraw_application(self, member_number, application_number):
        return applications.withdraw_application(
            self.db, self.events, self.clock, member_number, application_number
        )

    # --- the core's events (docs/integration.md) -------------------------------------------

    held_table = held_events

    def stream_last(self, stream):
        return from_core.stream_last(self.db, stream)

    @rpc
    def inbound_status(self):
        return from_core.inbound_status(self.db)

    @core_events("credit", HANDLERS.event_types)
    def on_core_event(self, event):
        """loan_disbursed, installment_paid, loan_settled, application_status_changed,
        loan_due_updated."""
        from_core.core_event(self.db, self.events, self.accounts, event, self.clock.utcnow())

    # --- loans ----------------------------------------------------------------------------

    @rpc
    def list_loans(self, member_number):
        return loans.list_loans(self.db, self.clock, member_number)

    @rpc
    def get_loan(self, member_number, loan_number):
        return loans.get_loan(self.db, self.clock, member_number, loan_number)

    @rpc
    def loans_summary(self, member_number):
        return loans.loans_summary(self.db, self.clock, member_number)

    @rpc
    def loans_summaries(self, member_numbers):
        """`loans_summary` of several members at once: the gateway's coalesced position."""
        return loans.loans_summaries(self.db, self.clock, member_numbers)

    @rpc
    def guarantees(self, member_number):
        return loans.guarantees(self.db, member_number)

    @rpc
    def loan_payment_quote(self, member_number, loan_number):
        """What paying the member's loan online costs today (docs/credit.md, "Paying
        installments"): asked by payments when an order is created and again at its
        confirmation."""
        return loans.payment_quote(self.db, self.clock, member_number, loan_number)
