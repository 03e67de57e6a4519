"""Counting the core events a service refused, per kind of reason, in the service's own
`inbound_refusals` table (two instances and a restart see the same numbers); `refusal_counts`
reads them for the service's status RPC. The exceptions themselves (`Refused`, `NotYet`) and
the kinds are pure: services/common/ordering.py."""

from typing import Any, cast

from sqlalchemy import (
    Column,
    CursorResult,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection as DbConnection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common.clock import CLOCK
from services.common.ordering import NotYet, Refused

__all__ = ["NotYet", "Refused", "count_refusal", "refusal_counts", "refusals_table"]


def refusals_table(metadata: MetaData) -> Table:
    """How many core events this service refused, per kind of reason (survives restarts)."""
    return Table(
        "inbound_refusals",
        metadata,
        Column("service", String(40), primary_key=True),
        Column("kind", String(40), primary_key=True),
        Column("count", Integer, nullable=False),
        Column("last_reason", String(500), nullable=False),
        Column("last_at", DateTime, nullable=False),
    )


_REFUSALS = refusals_table(MetaData())


def count_refusal(conn: DbConnection | Session, service: str, kind: str, reason: str) -> None:
    """+1 for (service, kind); `conn` is a Connection or Session in the caller's transaction."""
    values = {"last_reason": reason[:500], "last_at": CLOCK.utcnow()}
    where = (_REFUSALS.c.service == service) & (_REFUSALS.c.kind == kind)
    done = cast(
        CursorResult[Any],  # what an UPDATE gives, through a Session too
        conn.execute(update(_REFUSALS).where(where).values(count=_REFUSALS.c.count + 1, **values)),
    )
    if done.rowcount:
        return
    try:
        # a savepoint: on PostgreSQL a failed insert would otherwise abort the whole transaction
        with conn.begin_nested():
            conn.execute(insert(_REFUSALS).values(service=service, kind=kind, count=1, **values))
    except IntegrityError:  # another instance (or worker) inserted it meanwhile
        conn.execute(update(_REFUSALS).where(where).values(count=_REFUSALS.c.count + 1, **values))


def refusal_counts(session: Session, service: str) -> list[dict[str, Any]]:
    """[{kind, count, last_reason, last_at}] of this service, for its status RPC."""
    rows = session.execute(
        select(_REFUSALS).where(_REFUSALS.c.service == service).order_by(_REFUSALS.c.kind)
    ).all()
    return [
        {
            "kind": r.kind,
            "count": r.count,
            "last_reason": r.last_reason,
            "last_at": r.last_at.isoformat() + "Z",
        }
        for r in rows
    ]
