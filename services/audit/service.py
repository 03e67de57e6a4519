"""audit: every event of the portal, appended to a keyed hash-chained log; anchors outside
the database; verification and queries.

The use cases live in `usecases.py`; this module only wires nameko to them. The events it
records are the ones of `usecases.HANDLERS` (one queue per source and type).
"""

from eventlet.semaphore import Semaphore
from nameko.extensions import DependencyProvider
from nameko.timer import timer

from services.audit import anchors, usecases
from services.audit.usecases import HANDLERS, RETRY_DELAYS
from services.common.clock import CLOCK
from services.common.clock_provider import ClockProvider
from services.common.correlation import CorrelationContext
from services.common.db import Database
from services.common.entrypoints import event_handler, rpc


class AuditChain(DependencyProvider):
    """`self.chain`: the log's unit of work (`usecases.Chain`): this service's engine, the audit
    key and the anchor file, with one anchoring at a time per process."""

    def setup(self):
        self.database = next(
            d
            for d in self.container.dependencies
            if isinstance(d, Database) and d.service == "audit"
        )
        self.key = anchors.audit_key()
        self.anchor_file = anchors.anchor_path()
        self._anchoring = Semaphore(1)

    def chain(self):
        return usecases.Chain(self.database.engine, self.key, self.anchor_file, self._anchoring)

    def start(self):
        # a log from before the key is sealed (and anchored) as soon as the service runs
        usecases.anchor_quietly(self.chain(), CLOCK, "at start")

    def get_dependency(self, worker_ctx):
        return self.chain()


def _recorder(event):
    source, event_type = event.split(".")

    def handler(self, payload):
        HANDLERS.dispatch(event, self.chain, self.clock, payload)

    handler.__name__ = f"on_{source}_{event_type}"
    return event_handler(source, event_type, retry_delays=RETRY_DELAYS)(handler)


class AuditService:
    name = "audit"

    db = Database("audit")
    chain = AuditChain()
    clock = ClockProvider()
    correlation = CorrelationContext()

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def verify_chain(self):
        return usecases.verify_chain(self.db, self.chain)

    @rpc
    def anchor_chain(self):
        return usecases.anchor_chain(self.chain, self.clock)

    @timer(interval=anchors.anchor_seconds())
    def anchor_periodically(self):
        """The head outside the database every AUDIT_ANCHOR_SECONDS (only when it moved)."""
        usecases.anchor_quietly(self.chain, self.clock, "on its timer")

    @rpc
    def query(
        self, member_number=None, event_type=None, source=None, since=None, until=None, limit=100
    ):
        return usecases.query(self.db, member_number, event_type, source, since, until, limit)


# one handler per event of HANDLERS, `on_<source>_<type>` (the names its queues have always had)
for _event in HANDLERS.event_types:
    _handler = _recorder(_event)
    setattr(AuditService, _handler.__name__, _handler)
