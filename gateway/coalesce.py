"""Members' concurrent asks of one section of the position, sent together.

Every consolidated position costs three RPC requests and three replies through the broker, and
most of a service's work per request is the message, not the member's rows (docs/capacity.md,
"The position"). When many members open their position at once, the gateway sends the asks that
arrived while a call was under way together in the next one: one request naming several members
(`accounts.overviews([...])`), one reply with each member's answer under their number.

- **One call under way per section and gateway process.** An ask made while none is under way is
  sent at once by the asking request through the one-member call (`overview`, …): a member alone
  costs what they cost before. While members keep coming (the last call named several), such an
  ask starts the next shared call instead, so that the rush keeps going together. Asks that
  arrive while a call is under way wait for it to end and go together in the next one, at most
  `limit` members per call. Nothing ever waits for a timer.
- **Fresh reads.** An ask is only answered by a call that started after it was made: a member
  who has just moved money never gets a read that began before they asked.
- **Each member only their own answer**, taken under their own number from the reply; a number
  the reply leaves out is that member's failure (`NotFound`), and a call that fails fails every
  ask it carried, with its error (the section is then `unavailable` for those members).
- **Each ask keeps its deadline.** An ask still waiting at its deadline gives up
  (`ServiceUnavailable`, as a call past its deadline does) and is left out of later calls.
"""

import time
from collections.abc import Callable, Hashable
from typing import Any

import eventlet
from eventlet.event import Event
from nameko.extensions import DependencyProvider

from services.common.config import env_int
from services.common.errors import NotFound, ServiceUnavailable
from services.common.operations import Pending
from services.common.schemas import MEMBER_BATCH_MAX

# one call for several keys: `send([k1, k2])` → `{k1: answer1, k2: answer2}`
Send = Callable[[list[Any]], dict[Any, Any]]
# one key's own call, started (published) at once: `alone(k)` → its answer, pending
Alone = Callable[[Any], Pending[Any]]


class Ask:
    """One member's ask: `result()` gives the answer or raises the call's error."""

    def __init__(self, coalescer: "Coalescer", key: Hashable, send: Send, deadline: float):
        self.coalescer = coalescer
        self.key = key
        self.send = send
        self.deadline = deadline
        self.event = Event()

    def result(self) -> Any:
        if self.event.ready():  # answered already (the other sections were waited for first)
            ok, value = self.event.wait()
            return _outcome(ok, value)
        remaining = self.deadline - time.monotonic()
        try:
            with eventlet.Timeout(max(remaining, 0)):
                ok, value = self.event.wait()
        except eventlet.Timeout:
            self.coalescer.forget(self)
            raise ServiceUnavailable(
                f"El servicio {self.coalescer.service} no respondió a tiempo.",
                service=self.coalescer.service,
            ) from None
        return _outcome(ok, value)


def _outcome(ok: bool, value: Any) -> Any:
    if ok:
        return value
    raise value


class Coalescer:
    """The asks of one section (see the module's docstring); one per gateway container."""

    def __init__(self, service: str, limit: int, spawn: Callable[[Callable[[], None]], Any]):
        self.service = service
        self.limit = max(1, limit)
        self._spawn = spawn  # the container's managed threads: stopped with the container
        self._waiting: dict[Hashable, list[Ask]] = {}
        self._busy = False
        self._last = 0  # members of the last call: more than one means members keep coming

    def ask(self, key: Hashable, send: Send, timeout: float, alone: Alone | None = None) -> Ask:
        """Ask for `key`'s answer; `send` is the caller's own proxy method, used if this ask
        is the first of a call. With `alone`, an ask made while no call is under way is sent
        at once by the caller, through its own one-member call: a member alone costs no more
        than before. While members keep coming (the last call named several), an ask that
        finds no call under way starts the next shared one instead."""
        ask = Ask(self, key, send, time.monotonic() + timeout)
        if not self._busy and alone is not None and self._last <= 1:
            self._busy = True
            self._last = 1
            try:
                call = alone(key)  # published now, by the asking request
            except BaseException:
                self._busy = False  # nothing waits while no call is under way
                raise
            self._spawn(lambda: self._await_alone(ask, call))
            return ask
        self._waiting.setdefault(key, []).append(ask)
        if not self._busy:
            self._busy = True
            self._spawn(self._run)
        return ask

    def _await_alone(self, ask: Ask, call: Pending[Any]) -> None:
        """The answer of a call made alone, and then the asks that arrived meanwhile."""
        try:
            ask.event.send((True, call.result()))  # under the call's own deadline
        except Exception as exc:  # noqa: BLE001  the ask's own error
            ask.event.send((False, exc))
        finally:
            if self._waiting:
                self._run()
            else:
                self._busy = False

    def forget(self, ask: Ask) -> None:
        asks = self._waiting.get(ask.key)
        if asks and ask in asks:
            asks.remove(ask)
            if not asks:
                del self._waiting[ask.key]

    def _take(self) -> dict[Hashable, list[Ask]]:
        keys = list(self._waiting)[: self.limit]
        return {key: self._waiting.pop(key) for key in keys}

    def _run(self) -> None:
        # green threads switch only where they wait: between the last look at `_waiting` and
        # `_busy = False` nothing else runs, so no ask is ever left without a call
        try:
            while self._waiting:
                self._one_call(self._take())
        finally:
            self._busy = False

    def _one_call(self, taken: dict[Hashable, list[Ask]]) -> None:
        self._last = len(taken)
        first = next(iter(taken.values()))[0]
        try:
            answers = first.send(list(taken))
            if not isinstance(answers, dict):
                raise TypeError(f"{self.service} answered {type(answers).__name__}")
        except Exception as exc:  # noqa: BLE001  every ask of the call gets the call's error
            for asks in taken.values():
                for ask in asks:
                    ask.event.send((False, exc))
            return
        for key, asks in taken.items():
            for ask in asks:
                if key in answers:
                    ask.event.send((True, answers[key]))
                else:
                    ask.event.send((False, NotFound("El socio no existe.")))


# the position's sections and the service each comes from
SECTIONS = (("savings", "accounts"), ("loans", "credit"), ("deposits", "deposit"))


def position_batch() -> int:
    """`POSITION_BATCH`: the most members one call of a section names (1: each position asks
    on its own, one call per member and section, as before the coalescing)."""
    return min(max(env_int("POSITION_BATCH", 32), 1), MEMBER_BATCH_MAX)


class PositionAsks(DependencyProvider):
    """The coalescers of the position's three sections, one set per gateway container (each
    container has its own broker and vhost); `None` in a worker when `POSITION_BATCH` is 1."""

    def setup(self) -> None:
        limit = position_batch()
        spawn = self.container.spawn_managed_thread
        self.sections = (
            {name: Coalescer(service, limit, spawn) for name, service in SECTIONS}
            if limit > 1
            else None
        )

    def get_dependency(self, worker_ctx: Any) -> dict[str, Coalescer] | None:
        return self.sections
