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

    def emit_many(self, event_type: str, datas: list[Mapping[str, Any]]) -> None:
        """`emit` of each (a batch of the core's movements)."""
        for data in datas:
            self.emit(event_type, data)

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


class _Reply:
    def __init__(self, call: Any, args: tuple[Any, ...]) -> None:
        self._call, self._args = call, args

    def result(self) -> Any:
        return self._call(*self._args)


class FakeMethod:
    """An RPC method of a fake service: called directly or with `.call_async(...).result()`."""

    def __init__(self, call: Any) -> None:
        self._call = call

    def __call__(self, *args: Any) -> Any:
        return self._call(*args)

    def call_async(self, *args: Any) -> _Reply:
        return _Reply(self._call, args)


class FakeAccounts:
    """accounts as credit and deposit ask it: members by number (NotFound for another)."""

    def __init__(self, members: Mapping[str, dict[str, Any]]) -> None:
        self.members = dict(members)
        self.get_member = FakeMethod(self._member)
        self.is_member_identification = FakeMethod(
            lambda _member, ident: any(
                m.get("identification") == ident for m in self.members.values()
            )
        )

    def _member(self, number: str) -> dict[str, Any]:
        from services.common.errors import NotFound

        if number not in self.members:
            raise NotFound(f"El socio {number} no existe.")
        return self.members[number]
