"""Queries of the audit log: append (serialized), verify, search."""

import json
import logging

import eventlet
from eventlet.semaphore import Semaphore
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from services.audit import domain
from services.audit.models import AuditEntry, ChainHead

log = logging.getLogger(__name__)

HEAD_ID = 1
APPEND_ATTEMPTS = 8

# One appender at a time per database in this process. On PostgreSQL the row lock on the chain
# head also serializes appenders of other processes; on SQLite a second process meets the unique
# seq / prev_hash constraints (or the database lock) and retries.
_turns: dict[str, Semaphore] = {}


def _turn(url):
    return _turns.setdefault(url, Semaphore(1))


class ChainBroken(RuntimeError):
    """The head moved under us (another writer): retry from the new head."""


def append(engine, record, recorded_at):
    """Append one event unless its event_id is already in the log; returns the entry or None."""
    with _turn(str(engine.url)):
        for attempt in range(1, APPEND_ATTEMPTS + 1):
            try:
                return _append_once(engine, record, recorded_at)
            except (IntegrityError, OperationalError, ChainBroken) as exc:
                if attempt == APPEND_ATTEMPTS:
                    raise
                log.info("audit append retried (%s): %s", attempt, type(exc).__name__)
                eventlet.sleep(0.02 * attempt)
    return None


def _append_once(engine, record, recorded_at):
    with engine.begin() as conn:
        head = conn.execute(
            select(ChainHead.seq, ChainHead.hash).where(ChainHead.id == HEAD_ID).with_for_update()
        ).one()
        seen = conn.execute(
            select(AuditEntry.seq).where(AuditEntry.event_id == record["event_id"])
        ).first()
        if seen is not None:
            return None
        entry = domain.link(head.seq, head.hash, record)
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
            .values(seq=entry.seq, hash=entry.hash)
        )
        if moved.rowcount != 1:
            raise ChainBroken()
        return entry


def _data(text):
    try:
        return json.loads(text)
    except ValueError:
        return text  # unreadable: its hash will not match, which is what verification reports


def _entry(row):
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


def verify(session):
    head = session.execute(
        select(ChainHead.seq, ChainHead.hash).where(ChainHead.id == HEAD_ID)
    ).one_or_none()
    rows = session.execute(
        select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=1000)
    ).scalars()
    return domain.verify(
        (_entry(row) for row in rows),
        head_seq=head.seq if head else None,
        head_hash=head.hash if head else None,
    )


def search(session, member_number, source, event_type, since, until, limit):
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
