"""What a service's use cases take besides the unit of work (the worker's SQLAlchemy `Session`)
and the clock (`services.common.clock.Clock`): the outbox they emit into.

`services.common.events.Emitter` (a worker's `self.events`) satisfies it, and so does a unit
test's fake that only records what was emitted (tests/unit/fakes.py).
"""

from collections.abc import Mapping
from typing import Any, Protocol


class Outbox(Protocol):
    def emit(self, event_type: str, data: Mapping[str, Any]) -> Any:
        """Queue one event in the current transaction; published after the commit."""
