"""What a service's use cases take besides the unit of work (the worker's SQLAlchemy `Session`)
and the clock (`services.common.clock.Clock`): the outbox they emit into.

`services.common.events.Emitter` (a worker's `self.events`) satisfies it, and so does a unit
test's fake that only records what was emitted (tests/unit/fakes.py).
"""

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class Outbox(Protocol):
    def emit(self, event_type: str, data: Mapping[str, Any]) -> Any:
        """Queue one event in the current transaction; published after the commit."""


class BatchOutbox(Outbox, Protocol):
    """An outbox that also queues many events of one type at once (a batch of the core's
    movements: one multi-row statement)."""

    def emit_many(self, event_type: str, datas: Sequence[Mapping[str, Any]]) -> Any:
        """`emit` for each of `datas`, in the current transaction."""


class RequestQueue(Protocol):
    """Where a service queues a message already built (a request to the core, in its own
    envelope), in the current transaction; published after the commit."""

    def enqueue(self, routing_key: str, message: Mapping[str, Any]) -> Any:
        """Queue `message` for the outbox's exchange under `routing_key`."""
