"""Queries of the delivery log."""

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from eventlet.semaphore import Semaphore
from nameko.extensions import DependencyProvider
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.db import Database
from services.common.events import utcnow
from services.notifications.domain import Notice
from services.notifications.models import Delivery


def find(session: Session, event_id: str, kind: str) -> Delivery | None:
    return session.execute(
        select(Delivery).where(Delivery.event_id == event_id, Delivery.kind == kind)
    ).scalar_one_or_none()


def record(
    session: Session,
    notice: Notice,
    status: str,
    attempts: int,
    error: str | None = None,
    location: str | None = None,
) -> Delivery:
    """Create or update the delivery row of (event_id, kind)."""
    delivery = find(session, notice.event_id, notice.kind)
    if delivery is None:
        delivery = Delivery(
            event_id=notice.event_id,
            kind=notice.kind,
            created_at=utcnow(),
            attempts=0,
        )
        session.add(delivery)
    delivery.recipient = notice.recipient
    delivery.subject = notice.subject
    delivery.status = status
    delivery.attempts = attempts
    delivery.last_error = error[:300] if error else None
    delivery.location = location
    if status == "sent":
        delivery.sent_at = utcnow()
    session.flush()
    return delivery


def recent(session: Session, limit: int) -> Sequence[Delivery]:
    return (
        session.execute(select(Delivery).order_by(Delivery.id.desc()).limit(limit)).scalars().all()
    )


_sqlite_turns: dict[str, Semaphore] = {}


class WriteTurn(DependencyProvider):
    """`with self.write_turn:` around a write that commits before it ends.

    SQLite has one writer at a time and its lock waits block the whole eventlet hub, so workers
    of this process take turns (a transaction never stays open across an SMTP conversation
    of another worker). Other databases lock rows: no turn is needed.
    """

    def setup(self) -> None:
        database = next(d for d in self.container.dependencies if isinstance(d, Database))
        url = database.url
        self.turn = (
            _sqlite_turns.setdefault(url, Semaphore(1)) if url.startswith("sqlite") else None
        )

    def get_dependency(self, worker_ctx: object) -> AbstractContextManager[Any]:
        return self.turn if self.turn is not None else nullcontext()
