"""One declared table per service: the function that applies each type of event it consumes.

The same table declares the queue's bindings (`@core_events("credit", HANDLERS.event_types)`) and
dispatches each event (`HANDLERS.dispatch(event["event_type"], ...)`), so a type is never bound
without a handler, nor handled without a binding (docs/architecture.md).
"""

from collections.abc import Callable, Iterator, Mapping
from typing import Any

Handler = Callable[..., Any]


class HandlerTable(Mapping[str, Handler]):
    """`HandlerTable({"loan_disbursed": usecases.loan_disbursed, ...})`: event type → handler."""

    def __init__(self, handlers: Mapping[str, Handler]) -> None:
        self._handlers = dict(handlers)

    def __getitem__(self, event_type: str) -> Handler:
        return self._handlers[event_type]

    def __iter__(self) -> Iterator[str]:
        return iter(self._handlers)

    def __len__(self) -> int:
        return len(self._handlers)

    @property
    def event_types(self) -> tuple[str, ...]:
        """The types to bind, in the order they were declared."""
        return tuple(self._handlers)

    def dispatch(self, event_type: str, *args: Any, **kwargs: Any) -> Any:
        """Applies an event with the handler of its type (a KeyError for an undeclared type)."""
        return self._handlers[event_type](*args, **kwargs)
