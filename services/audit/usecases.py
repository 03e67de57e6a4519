"""audit's use cases: record each event of the portal in the keyed hash chain, anchor the head
outside the database, verify the log, query it.

The application layer between the nameko entrypoints (`service.py`) and the pure rules
(`domain.py`). Its unit of work is the `Chain`: the log's engine (each append is its own
serialized transaction, store.py), the key and the anchor file. The events it records are the
ones of `HANDLERS`, the table that also binds one queue per source and type. The log is its own
inbox: an event whose event_id is already recorded is not appended again, so redeliveries
(at-least-once) leave exactly one entry.
"""

import dataclasses
import logging
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.audit import anchors, domain, store
from services.audit.contracts import (
    AnchorSchema,
    AuditEntrySchema,
    AuditQuerySchema,
    VerificationSchema,
)
from services.common.clock import Clock
from services.common.handlers import HandlerTable
from services.common.schemas import load_or_raise

log = logging.getLogger(__name__)

# When the database is away the handler raises and the event comes back through
# `<queue>.retry` after each of these delays (about 3.5 h in all), then waits in `<queue>.dead`.
RETRY_DELAYS = (1, 5, 30, 120, 300, 600, 1800, 3600, 3600, 3600)


@dataclass(frozen=True)
class Chain:
    """The log as a unit of work: its engine, its key, its anchor file, and the turn that lets
    one anchoring at a time (the timer, the RPC and a first append)."""

    engine: Engine
    key: bytes
    anchor_file: Path
    anchoring: AbstractContextManager[Any]


def anchor(chain: Chain, clock: Clock) -> domain.Anchor:
    """Seal the head if it never was, and anchor it unless the last anchor names it."""
    with chain.anchoring:
        known, _ = anchors.read_anchors(chain.anchor_file, chain.key)
        head = store.seal(chain.engine, chain.key, may_upgrade=not known)
        last = max(known, key=lambda a: a.seq, default=None)
        if last is not None and (last.seq, last.hash) == (head.seq, head.hash):
            return last
        new = domain.Anchor(
            seq=head.seq,
            hash=head.hash,
            legacy_seq=head.legacy_seq,
            at=domain.instant_text(domain.parse_instant(clock.utcnow())),
        )
        anchors.append_anchor(chain.anchor_file, chain.key, new)
        return new


def anchor_quietly(chain: Chain, clock: Clock, when: str) -> None:
    """`anchor` at the service's start or on its timer: a failure is logged, never raised (a
    database away is tried again next time; a broken seal anchors nothing)."""
    try:
        anchor(chain, clock)
    except store.SealBroken:
        log.error("audit: the chain head's seal does not hold; nothing is anchored")
    except Exception:  # noqa: BLE001  database away: the timer tries again
        log.warning("audit: could not anchor the chain %s", when, exc_info=True)


def anchor_chain(chain: Chain, clock: Clock) -> dict[str, Any]:
    """Anchor the head now (operators: before a backup, at a handover); the anchor."""
    made = anchor(chain, clock)
    answer: dict[str, Any] = AnchorSchema().dump(
        {"source": str(chain.anchor_file), **dataclasses.asdict(made)}
    )
    return answer


def verify_chain(session: Session, chain: Chain) -> dict[str, Any]:
    """{valid, entries, first_broken_seq, anchor}: recomputes every link of the log with the
    key, and checks it against every anchor of the anchor file."""
    known, rejected = anchors.read_anchors(chain.anchor_file, chain.key)
    verdict = store.verify(
        session,
        chain.key,
        anchors=known,
        anchor_source=str(chain.anchor_file),
        rejected_anchors=rejected,
    )
    answer: dict[str, Any] = VerificationSchema().dump(verdict.as_dict())
    return answer


def record(chain: Chain, clock: Clock, envelope: object) -> domain.Entry | None:
    """Append one event (None when it is unusable or already recorded)."""
    try:
        entry_data = domain.record_from_envelope(envelope)
    except domain.InvalidEnvelope as exc:
        # unusable as an audit entry: say so loudly, do not requeue it forever
        log.error("audit refused an event: %s", exc)
        return None
    try:
        try:
            entry = store.append(chain.engine, entry_data, clock.utcnow(), chain.key)
        except store.Unsealed:
            anchor(chain, clock)  # a log from before the key: sealed once, then extended
            entry = store.append(chain.engine, entry_data, clock.utcnow(), chain.key)
    except Exception:
        log.exception("audit could not record event %s", entry_data["event_id"])
        raise
    if entry is None:
        log.info(
            "event %s already recorded",
            entry_data["event_id"],
            extra={"event_id": entry_data["event_id"]},
        )
    return entry


def query(
    session: Session,
    member_number: object = None,
    event_type: object = None,
    source: object = None,
    since: object = None,
    until: object = None,
    limit: object = 100,
) -> list[dict[str, Any]]:
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
        session,
        args["member_number"],
        args["source"],
        args["event_type"],
        args["since"],
        args["until"],
        args["limit"],
    )
    answer: list[dict[str, Any]] = AuditEntrySchema(many=True).dump(entries)
    return answer


# Every event of the catalogue audit records, "<source>.<event_type>" → its use case: the queues
# the service binds (one per source and type) and what each does.
AUDITED = (
    "accounts.movement_posted",
    "accounts.member_email_changed",
    # payments: every step of a money-moving order (who, method, amounts; no code, no secret)
    "payments.order_created",
    "payments.order_sent",
    "payments.order_completed",
    "payments.order_rejected",
    "payments.order_cancelled",
    "payments.order_in_verification",
    "payments.order_resolved",
    "payments.beneficiary_added",
    "payments.limits_lowered",
    "payments.limits_raised",
    "auth.user_registered",
    "auth.login_succeeded",
    "auth.login_failed",
    "auth.account_locked",
    "auth.account_throttled",
    "auth.recovery_login",
    "auth.password_changed",
    "auth.password_reset_requested",
    "auth.logged_out",
    "credit.application_submitted",
    "credit.application_status_changed",
    "credit.application_withdrawn",
    "credit.installment_paid",
    "credit.loan_settled",
    "deposit.deposit_opened",
    "deposit.deposit_closed",
    "deposit.rates_configured",
    # an operator discarded a core event (held or parked): services/common/operator.py
    "accounts.core_event_discarded",
    "credit.core_event_discarded",
    "deposit.core_event_discarded",
)
HANDLERS = HandlerTable(dict.fromkeys(AUDITED, record))
