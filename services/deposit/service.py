"""deposit: the term-deposit rate chart, the members' term deposits and the simulation.

The use cases live in `usecases.py`; this module only wires nameko to them. The core's events
it applies (queue `core.deposit`) are the ones of `usecases.HANDLERS`.
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
from services.deposit import bulk, usecases
from services.deposit.models import outbox
from services.deposit.usecases import HANDLERS


class DepositService(CoreOperations):
    name = "deposit"

    db = Database("deposit")
    events = EventOutbox("deposit", outbox)
    accounts = ServiceRpc[AccountsRpc]("accounts")
    correlation = CorrelationContext()
    clock = ClockProvider()

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

    @rpc
    def rates(self, as_of=None):
        return usecases.rates(self.db, self.clock, as_of)

    @rpc
    def simulate(self, amount=None, term_days=None, interest_payment=None, start_date=None):
        return usecases.simulate(
            self.db, self.clock, amount, term_days, interest_payment, start_date
        )

    @rpc
    def list_deposits(self, member_number):
        return usecases.list_deposits(self.db, self.clock, member_number)

    @rpc
    def deposits_summary(self, member_number):
        return usecases.deposits_summary(self.db, self.clock, member_number)

    @rpc
    def deposits_summaries(self, member_numbers):
        """`deposits_summary` of several members at once: the gateway's coalesced position."""
        return usecases.deposits_summaries(self.db, self.clock, member_numbers)

    @rpc
    def inbound_status(self):
        return usecases.inbound_status(self.db)

    @core_events("deposit", HANDLERS.event_types)
    def on_core_event(self, event):
        """deposit_opened, deposit_closed (docs/integration.md)."""
        usecases.core_event(self.db, self.events, self.accounts, event)

    @rpc
    def configure_rates(self, chart):
        """A new version of the rate chart (administration; not exposed by the gateway)."""
        return usecases.configure_rates(self.db, self.events, chart)
