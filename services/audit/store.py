"""Queries of the audit log: append (serialized), verify, search."""

import hmac
import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import eventlet
from eventlet.semaphore import Semaphore
from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from services.audit import domain
from services.audit.models import AuditEntry, ChainHead

log = logging.getLogger(__name__)

HEAD_ID = 1
APPEND_ATTEMPTS = 8

# One appender at a time per database in this process. On PostgreSQL the row lock on the chain
# head also serializes appenders of other processes; on SQLite a second process meets the unique
# seq / prev_hash constraints (or the database lock) and retries.
_turns: dict[str, Semaphore] = {}


def _turn(url: str) -> Semaphore:
    return _turns.setdefault(url, Semaphore(1))


class ChainBroken(RuntimeError):
    """The head moved under us (another writer): retry from the new head."""


class Unsealed(RuntimeError):
    """The head has no seal yet (a log from before the key): `seal` it first."""


class SealBroken(RuntimeError):
    """The head's seal does not hold: someone moved the head without the key. The log is not
    extended (that would re-seal the forgery); events wait in their retry queues."""


def _head(conn: Connection | Session, lock: bool = False) -> domain.Head | None:
    query = select(ChainHead.seq, ChainHead.hash, ChainHead.legacy_seq, ChainHead.seal).where(
        ChainHead.id == HEAD_ID
    )
    row = conn.execute(query.with_for_update() if lock else query).one_or_none()
    if row is None:
        return None
    return domain.Head(seq=row.seq, hash=row.hash, legacy_seq=row.legacy_seq, seal=row.seal)


def _locked_head(conn: Connection) -> domain.Head:
    """The head, locked until the transaction ends (its row is made by the first migration)."""
    head = _head(conn, lock=True)
    if head is None:
        raise RuntimeError("the audit log has no chain head: run its migrations")
    return head


def _check_seal(key: bytes, head: domain.Head) -> None:
    if head.seal is None:
        raise Unsealed()
    if not hmac.compare_digest(
        head.seal, domain.head_seal(key, head.seq, head.hash, head.legacy_seq)
    ):
        raise SealBroken(f"the audit head's seal does not hold (seq {head.seq})")


def seal(engine: Engine, key: bytes, may_upgrade: bool) -> domain.Head:
    """The sealed head. A head without a seal (a log kept before the key, or a new one) is
    sealed here once: its entries so far stay plain sha256 (`legacy_seq`). Only when no anchor
    exists yet (`may_upgrade`): later, a missing seal is a forgery, not an old log."""
    with _turn(str(engine.url)), engine.begin() as conn:
        head = _locked_head(conn)
        if head.seal is None:
            if not may_upgrade:
                raise SealBroken("the audit head lost its seal after it was anchored")
            head = domain.Head(
                seq=head.seq,
                hash=head.hash,
                legacy_seq=head.seq,
                seal=domain.head_seal(key, head.seq, head.hash, head.seq),
            )
            conn.execute(
                update(ChainHead)
                .where(ChainHead.id == HEAD_ID, ChainHead.seal.is_(None))
                .values(legacy_seq=head.legacy_seq, seal=head.seal)
            )
            log.info("audit head sealed: entries up to %s stay sha256", head.legacy_seq)
            return head
        _check_seal(key, head)
        return head


def append(
    engine: Engine, record: domain.Record, recorded_at: datetime, key: bytes
) -> domain.Entry | None:
    """Append one event unless its event_id is already in the log; returns the entry or None."""
    with _turn(str(engine.url)):
        for attempt in range(1, APPEND_ATTEMPTS + 1):
            try:
                return _append_once(engine, record, recorded_at, key)
            except (IntegrityError, OperationalError, ChainBroken) as exc:
                if attempt == APPEND_ATTEMPTS:
                    raise
                log.info("audit append retried (%s): %s", attempt, type(exc).__name__)
                eventlet.sleep(0.02 * attempt)
    return None


def _append_once(
    engine: Engine, record: domain.Record, recorded_at: datetime, key: bytes
) -> domain.Entry | None:
    with engine.begin() as conn:
        head = _locked_head(conn)
        _check_seal(key, head)
        seen = conn.execute(
            select(AuditEntry.seq).where(AuditEntry.event_id == record["event_id"])
        ).first()
        if seen is not None:
            return None
        entry = domain.link(head.seq, head.hash, record, key)
        conn.execute(
            insert(AuditEntry).values(
                seq=entry.seq,
                event_id=entry.event_id,
                source=entry.source,
                event_type=entry.event_type,
                occurred_at=entry.occurred_at,
                recorded_at=recorded_at,
                member_number=entry.member_number,
                data=domain.canonical_json(entry.data),
                prev_hash=entry.prev_hash,
                hash=entry.hash,
            )
        )
        moved = conn.execute(
            update(ChainHead)
            .where(ChainHead.id == HEAD_ID, ChainHead.seq == head.seq)
            .values(
                seq=entry.seq,
                hash=entry.hash,
                seal=domain.head_seal(key, entry.seq, entry.hash, head.legacy_seq),
            )
        )
        if moved.rowcount != 1:
            raise ChainBroken()
        return entry


def _data(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text  # unreadable: its hash will not match, which is what verification reports


def _entry(row: AuditEntry) -> domain.Entry:
    return domain.Entry(
        seq=row.seq,
        event_id=row.event_id,
        source=row.source,
        event_type=row.event_type,
        occurred_at=row.occurred_at,
        data=_data(row.data),
        prev_hash=row.prev_hash,
        hash=row.hash,
        member_number=row.member_number,
    )


def verify(
    session: Session,
    key: bytes,
    anchors: Sequence[domain.Anchor] = (),
    anchor_source: str | None = None,
    rejected_anchors: int = 0,
) -> domain.Verification:
    head = _head(session)
    rows = session.execute(
        select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=1000)
    ).scalars()
    return domain.verify(
        (_entry(row) for row in rows),
        key,
        head=head,
        anchors=anchors,
        anchor_source=anchor_source,
        rejected_anchors=rejected_anchors,
    )


def search(
    session: Session,
    member_number: str | None,
    source: str | None,
    event_type: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Matching entries, newest first."""
    query = select(AuditEntry)
    if member_number:
        query = query.where(AuditEntry.member_number == member_number)
    if source:
        query = query.where(AuditEntry.source == source)
    if event_type:
        query = query.where(AuditEntry.event_type == event_type)
    if since is not None:
        query = query.where(AuditEntry.occurred_at >= since)
    if until is not None:
        query = query.where(AuditEntry.occurred_at < until)
    rows = session.execute(query.order_by(AuditEntry.seq.desc()).limit(limit)).scalars().all()
    return [
        {
            "seq": row.seq,
            "event_id": row.event_id,
            "source": row.source,
            "event_type": row.event_type,
            "occurred_at": row.occurred_at,
            "recorded_at": row.recorded_at,
            "member_number": row.member_number,
            "data": _data(row.data),
            "prev_hash": row.prev_hash,
            "hash": row.hash,
        }
        for row in rows
    ]
