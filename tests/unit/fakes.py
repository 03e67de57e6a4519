"""What a use case needs, without infrastructure (the cosmicpython way): an in-memory unit of work
(SQLite in memory with the service's own tables), an outbox that only records, a clock set to a
chosen instant. No broker, no nameko container, no file."""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import MetaData, create_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from services.common.clock import Clock


class FakeOutbox:
    """Records each emitted event as (type, data)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def emit(self, event_type: str, data: Mapping[str, Any]) -> dict[str, Any]:
        self.events.append((event_type, dict(data)))
        return {"event_type": event_type, "data": dict(data)}

    def types(self) -> list[str]:
        return [event_type for event_type, _ in self.events]

    def of(self, event_type: str) -> list[dict[str, Any]]:
        return [data for kind, data in self.events if kind == event_type]


@contextmanager
def memory_session(metadata: MetaData) -> Iterator[Session]:
    """A session on a fresh in-memory SQLite database holding `metadata`'s tables."""
    engine = create_engine("sqlite://", poolclass=StaticPool)
    metadata.create_all(engine)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def clock_at(moment: datetime) -> Clock:
    """A clock whose now is `moment` (naive: Ecuador's time), running on from there."""
    clock = Clock()
    clock.set(moment)
    return clock
