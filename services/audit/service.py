"""audit: every event of the portal, appended to a keyed hash-chained log; anchors outside
the database; verification and queries.

The log is its own inbox: an event whose event_id is already recorded is not appended again, so
redeliveries (at-least-once) leave exactly one entry.
"""

import dataclasses
import logging

from eventlet.semaphore import Semaphore
from nameko.extensions import DependencyProvider
from nameko.timer import timer

from services.audit import anchors, domain, store
from services.audit.contracts import (
    AnchorSchema,
    AuditEntrySchema,
    AuditQuerySchema,
    VerificationSchema,
)
from services.common.correlation import CorrelationContext
from services.common.db import Database
from services.common.entrypoints import event_handler, rpc
from services.common.events import utcnow
from services.common.schemas import load_or_raise

log = logging.getLogger(__name__)

# When the database is away the handler raises and the event comes back through
# `<queue>.retry` after each of these delays (about 3.5 h in all), then waits in `<queue>.dead`.
RETRY_DELAYS = (1, 5, 30, 120, 300, 600, 1800, 3600, 3600, 3600)


class AuditLog(DependencyProvider):
    """`self.audit_log.record(envelope)`: append one event, in its own serialized transaction;
    `.anchor()` writes the head outside the database; `.verify()` checks the log against the key
    and the anchors."""

    def setup(self):
        self.database = next(
            d
            for d in self.container.dependencies
            if isinstance(d, Database) and d.service == "audit"
        )
        self.key = anchors.audit_key()
        self.anchor_file = anchors.anchor_path()
        self._anchoring = Semaphore(1)  # the timer, the RPC and a first append: one at a time

    def start(self):
        # a log from before the key is sealed (and anchored) as soon as the service runs
        try:
            self.anchor()
        except store.SealBroken:
            log.error("audit: the chain head's seal does not hold; nothing is anchored")
        except Exception:  # noqa: BLE001  database away: the timer tries again
            log.warning("audit: could not anchor the chain at start", exc_info=True)

    def anchor(self):
        """Seal the head if it never was, and anchor it unless the last anchor names it."""
        with self._anchoring:
            return self._anchor()

    def _anchor(self):
        known, _ = anchors.read_anchors(self.anchor_file, self.key)
        head = store.seal(self.database.engine, self.key, may_upgrade=not known)
        last = max(known, key=lambda a: a.seq, default=None)
        if last is not None and (last.seq, last.hash) == (head.seq, head.hash):
            return last
        anchor = domain.Anchor(
            seq=head.seq,
            hash=head.hash,
            legacy_seq=head.legacy_seq,
            at=domain.instant_text(domain.parse_instant(utcnow())),
        )
        anchors.append_anchor(self.anchor_file, self.key, anchor)
        return anchor

    def verify(self, session):
        known, rejected = anchors.read_anchors(self.anchor_file, self.key)
        return store.verify(
            session,
            self.key,
            anchors=known,
            anchor_source=str(self.anchor_file),
            rejected_anchors=rejected,
        )

    def record(self, envelope):
        """Append one event (None when it is unusable or already recorded)."""
        try:
            record = domain.record_from_envelope(envelope)
        except domain.InvalidEnvelope as exc:
            # unusable as an audit entry: say so loudly, do not requeue it forever
            log.error("audit refused an event: %s", exc)
            return None
        engine = self.database.engine
        try:
            try:
                entry = store.append(engine, record, utcnow(), self.key)
            except store.Unsealed:
                self.anchor()  # a log from before the key: sealed once, then extended
                entry = store.append(engine, record, utcnow(), self.key)
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

    def get_dependency(self, worker_ctx):
        return self


def audited(source, event_type):
    return event_handler(source, event_type, retry_delays=RETRY_DELAYS)


class AuditService:
    name = "audit"

    db = Database("audit")
    audit_log = AuditLog()
    correlation = CorrelationContext()

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def verify_chain(self):
        """{valid, entries, first_broken_seq, anchor}: recomputes every link of the log with the
        key, and checks it against every anchor of the anchor file (`anchor` names the file and
        the latest anchor)."""
        return VerificationSchema().dump(self.audit_log.verify(self.db).as_dict())

    @rpc
    def anchor_chain(self):
        """Anchor the head now (operators: before a backup, at a handover); the anchor."""
        anchor = self.audit_log.anchor()
        return AnchorSchema().dump(
            {"source": str(self.audit_log.anchor_file), **dataclasses.asdict(anchor)}
        )

    @timer(interval=anchors.anchor_seconds())
    def anchor_periodically(self):
        """The head outside the database every AUDIT_ANCHOR_SECONDS (only when it moved)."""
        try:
            self.audit_log.anchor()
        except store.SealBroken:
            log.error("audit: the chain head's seal does not hold; nothing is anchored")
        except Exception:  # noqa: BLE001  database away: next time
            log.warning("audit: could not anchor the chain", exc_info=True)

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

    @audited("accounts", "member_email_changed")
    def on_accounts_member_email_changed(self, payload):
        self.audit_log.record(payload)

    # payments: every step of a money-moving order (who, method, amounts; no code, no secret)
    @audited("payments", "order_sent")
    def on_payments_order_sent(self, payload):
        self.audit_log.record(payload)

    @audited("payments", "order_completed")
    def on_payments_order_completed(self, payload):
        self.audit_log.record(payload)

    @audited("payments", "order_rejected")
    def on_payments_order_rejected(self, payload):
        self.audit_log.record(payload)

    @audited("payments", "order_cancelled")
    def on_payments_order_cancelled(self, payload):
        self.audit_log.record(payload)

    @audited("payments", "order_in_verification")
    def on_payments_order_in_verification(self, payload):
        self.audit_log.record(payload)

    @audited("payments", "order_resolved")
    def on_payments_order_resolved(self, payload):
        self.audit_log.record(payload)

    @audited("payments", "beneficiary_added")
    def on_payments_beneficiary_added(self, payload):
        self.audit_log.record(payload)

    @audited("payments", "limits_lowered")
    def on_payments_limits_lowered(self, payload):
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

    @audited("auth", "account_throttled")
    def on_auth_account_throttled(self, payload):
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

    @audited("credit", "application_withdrawn")
    def on_credit_application_withdrawn(self, payload):
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
