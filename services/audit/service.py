"""audit: every event of the portal, appended to a hash-chained log; verification and queries.

The log is its own inbox: an event whose event_id is already recorded is not appended again, so
redeliveries (at-least-once) leave exactly one entry.
"""

import logging

from nameko.extensions import DependencyProvider

from services.audit import domain, store
from services.audit.contracts import AuditEntrySchema, AuditQuerySchema, VerificationSchema
from services.common.correlation import Tracker
from services.common.db import Database
from services.common.entrypoints import event_handler, rpc
from services.common.events import utcnow
from services.common.schemas import load_or_raise

log = logging.getLogger(__name__)

# When the database is away the handler raises and the event comes back through
# `<queue>.retry` after each of these delays (about 3.5 h in all), then waits in `<queue>.dead`.
RETRY_DELAYS = (1, 5, 30, 120, 300, 600, 1800, 3600, 3600, 3600)


class AuditLog(DependencyProvider):
    """`self.audit_log.record(envelope)`: append one event, in its own serialized transaction."""

    def setup(self):
        self.database = next(
            d
            for d in self.container.dependencies
            if isinstance(d, Database) and d.service == "audit"
        )

    def get_dependency(self, worker_ctx):
        engine = self.database.engine

        class _Recorder:
            def record(self, envelope):
                try:
                    record = domain.record_from_envelope(envelope)
                except domain.InvalidEnvelope as exc:
                    # unusable as an audit entry: say so loudly, do not requeue it forever
                    log.error("audit refused an event: %s", exc)
                    return None
                try:
                    entry = store.append(engine, record, utcnow())
                except Exception:
                    log.exception("audit could not record event %s", record["event_id"])
                    raise
                if entry is None:
                    log.info(
                        "event %s already recorded",
                        record["event_id"],
                        extra={"event_id": record["event_id"]},
                    )
                return entry

        return _Recorder()


def audited(source, event_type):
    return event_handler(source, event_type, retry_delays=RETRY_DELAYS)


class AuditService:
    name = "audit"

    db = Database("audit")
    audit_log = AuditLog()
    tracker = Tracker()

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def verify_chain(self):
        """{valid, entries, first_broken_seq}: recomputes every link of the log."""
        return VerificationSchema().dump(store.verify(self.db).as_dict())

    @rpc
    def query(
        self, member_number=None, event_type=None, source=None, since=None, until=None, limit=100
    ):
        """Entries matching every given filter, newest first (at most `limit`, 1..1000)."""
        args = load_or_raise(
            AuditQuerySchema(),
            {
                "member_number": member_number,
                "event_type": event_type,
                "source": source,
                "since": since,
                "until": until,
                "limit": limit,
            },
        )
        entries = store.search(
            self.db,
            args["member_number"],
            args["source"],
            args["event_type"],
            args["since"],
            args["until"],
            args["limit"],
        )
        return AuditEntrySchema(many=True).dump(entries)

    # One handler per event of the catalogue (nameko binds one queue per source and type).

    @audited("accounts", "movement_posted")
    def on_accounts_movement_posted(self, payload):
        self.audit_log.record(payload)

    @audited("auth", "user_registered")
    def on_auth_user_registered(self, payload):
        self.audit_log.record(payload)

    @audited("auth", "login_succeeded")
    def on_auth_login_succeeded(self, payload):
        self.audit_log.record(payload)

    @audited("auth", "login_failed")
    def on_auth_login_failed(self, payload):
        self.audit_log.record(payload)

    @audited("auth", "account_locked")
    def on_auth_account_locked(self, payload):
        self.audit_log.record(payload)

    @audited("auth", "recovery_login")
    def on_auth_recovery_login(self, payload):
        self.audit_log.record(payload)

    @audited("auth", "password_changed")
    def on_auth_password_changed(self, payload):
        self.audit_log.record(payload)

    @audited("auth", "password_reset_requested")
    def on_auth_password_reset_requested(self, payload):
        self.audit_log.record(payload)

    @audited("auth", "logged_out")
    def on_auth_logged_out(self, payload):
        self.audit_log.record(payload)

    @audited("credit", "application_submitted")
    def on_credit_application_submitted(self, payload):
        self.audit_log.record(payload)

    @audited("credit", "application_status_changed")
    def on_credit_application_status_changed(self, payload):
        self.audit_log.record(payload)

    @audited("credit", "installment_paid")
    def on_credit_installment_paid(self, payload):
        self.audit_log.record(payload)

    @audited("credit", "loan_settled")
    def on_credit_loan_settled(self, payload):
        self.audit_log.record(payload)

    @audited("deposit", "deposit_opened")
    def on_deposit_deposit_opened(self, payload):
        self.audit_log.record(payload)

    @audited("deposit", "deposit_closed")
    def on_deposit_deposit_closed(self, payload):
        self.audit_log.record(payload)

    @audited("deposit", "rates_configured")
    def on_deposit_rates_configured(self, payload):
        self.audit_log.record(payload)

    # an operator discarded a core event (held or parked): services/common/operator.py

    @audited("accounts", "core_event_discarded")
    def on_accounts_core_event_discarded(self, payload):
        self.audit_log.record(payload)

    @audited("credit", "core_event_discarded")
    def on_credit_core_event_discarded(self, payload):
        self.audit_log.record(payload)

    @audited("deposit", "core_event_discarded")
    def on_deposit_core_event_discarded(self, payload):
        self.audit_log.record(payload)
