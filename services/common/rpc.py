"""RPC between services, always with a deadline.

`accounts = ServiceRpc[AccountsRpc]("accounts")` is nameko's RpcProxy whose calls wait at most
`RPC_TIMEOUT` seconds (or the `timeout` given) and then raise `ServiceUnavailable` naming the
service. `AccountsRpc` is the Protocol of the operations services/accounts/contracts.py publishes
(services/common/operations.py): mypy checks every call's name and arguments against it.
`self.accounts.call_async(...)` starts a call without waiting. A fan-out names its calls:

    with batch() as b:
        overview = b.call(self.accounts_rpc.overview, number)
        loans = b.call(self.credit_rpc.loans_summary, number)
    overview.result(), loans.result()

Every call of a batch is published when `b.call` is made (so they are under way together) and
keeps its own deadline; a call whose request could not be published fails at once, when its
`result()` is asked, with `ServiceUnavailable` (a broker that is away fails the whole batch at
once, not at the deadline).
"""

import itertools
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Generic, NoReturn, ParamSpec, Self, TypeVar, overload

import eventlet
from eventlet.event import Event
from nameko.containers import WorkerContext
from nameko.exceptions import RemoteError
from nameko.messaging import HeaderEncoder
from nameko.rpc import RpcProxy, RpcReply

from services.common import correlation
from services.common.errors import ServiceUnavailable
from services.common.messaging import BROKER_ERRORS, FastReplyListener, RpcPublisher, dumps
from services.common.operations import Operation, Pending

log = logging.getLogger(__name__)

# told of every failed call: (service, "unavailable" | "timeout" | "remote_error"), for metrics
OnError = Callable[[str, str], None]


class RpcDeadlineExceeded(ServiceUnavailable):
    pass


def unavailable(service: str) -> ServiceUnavailable:
    """The error of a call that could not reach `service` (its request never left)."""
    return ServiceUnavailable(f"El servicio {service} no está disponible.", service=service)


P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C")  # a contract's Protocol of operations


class PendingCall(Generic[R]):
    def __init__(
        self,
        service: str,
        method: str,
        reply: "_Reply | None",
        deadline: float,
        on_error: OnError | None = None,
        failure: ServiceUnavailable | None = None,
    ) -> None:
        self.service = service
        self.method = method
        self._reply = reply
        self.deadline = deadline
        self._on_error = on_error
        self._failure = failure  # the request never left: result() raises this at once

    def result(self) -> R:
        """The answer (JSON: what the remote method returned), or its error raised here."""
        if self._failure is not None:
            self._report("unavailable")
            raise self._failure
        assert self._reply is not None  # only a request that never left has no reply
        remaining = self.deadline - time.monotonic()
        try:
            with eventlet.Timeout(max(remaining, 0.0)):
                answer: R = self._reply.result()
                return answer
        except RemoteError:
            self._report("remote_error")
            raise
        except eventlet.Timeout:
            self._report("timeout")
            self._reply.forget()  # the reply we stopped waiting for must not pile up
            raise RpcDeadlineExceeded(
                f"El servicio {self.service} no respondió a tiempo.",
                service=self.service,
            ) from None

    def _report(self, kind: str) -> None:
        if self._on_error is not None:
            self._on_error(self.service, kind)


_PREFIX = uuid.uuid4().hex[:12]
_counter = itertools.count()


def next_correlation_id() -> str:
    """Unique among this process's pending calls (replies come back to its own queue); a
    counter behind a random prefix costs less than a uuid4 per call."""
    return f"{_PREFIX}.{next(_counter)}"


class _Reply(RpcReply):
    """nameko's RpcReply (it turns an error reply into the remote exception), which can also
    tell the listener that nobody waits for it any more."""

    def __init__(
        self, reply_event: Event, listener: FastReplyListener, correlation_id: str
    ) -> None:
        super().__init__(reply_event)
        self.listener = listener
        self.correlation_id = correlation_id

    def forget(self) -> None:
        self.listener.forget(self.correlation_id)


class _FastMethodProxy(HeaderEncoder):
    """One request on the process's long-lived publishing channel (services/common/messaging.py),
    with nameko's wire format. Not `mandatory`: an unknown service is reported by the deadline."""

    def __init__(
        self,
        worker_ctx: WorkerContext,
        service_name: str,
        method_name: str,
        reply_listener: FastReplyListener,
        publisher: RpcPublisher,
    ) -> None:
        self.worker_ctx = worker_ctx
        self.service_name = service_name
        self.method_name = method_name
        self.reply_listener = reply_listener
        self.publisher = publisher

    def call_async(self, *args: Any, **kwargs: Any) -> _Reply:
        correlation_id = next_correlation_id()
        reply_event = self.reply_listener.get_reply_event(correlation_id)
        try:
            self.publisher.publish(
                dumps({"args": args, "kwargs": kwargs}),
                routing_key=f"{self.service_name}.{self.method_name}",
                reply_to=self.reply_listener.routing_key,
                correlation_id=correlation_id,
                headers=self.get_message_headers(self.worker_ctx),
            )
        except Exception:
            self.reply_listener.forget(correlation_id)
            raise
        return _Reply(reply_event, self.reply_listener, correlation_id)


class _Method:
    def __init__(
        self,
        proxy: "_ServiceProxy",
        service: str,
        name: str,
        timeout: float,
        on_error: OnError | None = None,
    ) -> None:
        self._method = proxy.method(name)
        self._service = service
        self._name = name
        self._timeout = timeout
        self._on_error = on_error

    def _unavailable(self, cause: BaseException) -> NoReturn:
        log.warning("request to %s.%s not sent: %r", self._service, self._name, cause)
        if self._on_error is not None:
            self._on_error(self._service, "unavailable")
        raise unavailable(self._service) from cause

    def call_async(self, *args: Any, **kwargs: Any) -> PendingCall[Any]:
        """Start the call; raises ServiceUnavailable at once when the broker is away."""
        deadline = time.monotonic() + self._timeout
        try:
            reply = self._method.call_async(*args, **kwargs)
        except BROKER_ERRORS as exc:  # the broker is away: fail clearly
            self._unavailable(exc)
        return PendingCall(self._service, self._name, reply, deadline, self._on_error)

    def start(self, *args: Any, **kwargs: Any) -> PendingCall[Any]:
        """Like call_async, but a request that cannot be published gives a PendingCall that
        fails at once (what a batch needs: every call it names answers, one way or another)."""
        try:
            return self.call_async(*args, **kwargs)
        except ServiceUnavailable as exc:
            return PendingCall(self._service, self._name, None, time.monotonic(), failure=exc)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.call_async(*args, **kwargs).result()


class _ServiceProxy:
    def __init__(
        self,
        worker_ctx: WorkerContext,
        service: str,
        reply_listener: FastReplyListener,
        publisher: RpcPublisher,
    ) -> None:
        self._args = (worker_ctx, service)
        self._reply_listener = reply_listener
        self._publisher = publisher

    def method(self, name: str) -> _FastMethodProxy:
        worker_ctx, service = self._args
        return _FastMethodProxy(worker_ctx, service, name, self._reply_listener, self._publisher)


class _DeadlineProxy:
    def __init__(
        self,
        proxy: _ServiceProxy,
        service: str,
        timeout: float,
        on_error: OnError | None = None,
    ) -> None:
        self._proxy = proxy
        self._service = service
        self._timeout = timeout
        self._on_error = on_error

    def __getattr__(self, name: str) -> _Method:
        if name.startswith("_"):
            raise AttributeError(name)
        return _Method(self._proxy, self._service, name, self._timeout, self._on_error)

    def with_timeout(self, timeout: float, count_errors: bool = True) -> "_DeadlineProxy":
        """The same proxy with another deadline; `count_errors=False` keeps its failures out of
        `on_error` (the metrics scrape asking services for their own figures)."""
        on_error = self._on_error if count_errors else None
        return _DeadlineProxy(self._proxy, self._service, timeout, on_error)


class ServiceRpc(RpcProxy, Generic[C]):
    """`on_error(service, kind)` is told of every failed call (metrics).

    `ServiceRpc[AccountsRpc]("accounts")`: in a worker the attribute is the proxy, typed (for
    mypy only) as the contract's Protocol of operations."""

    if TYPE_CHECKING:  # nameko puts the proxy on the worker; this tells mypy its type

        @overload
        def __get__(self, obj: None, owner: Any) -> Self: ...
        @overload
        def __get__(self, obj: object, owner: Any) -> C: ...
        def __get__(self, obj: object, owner: Any) -> Any: ...

    # requests are transient and unconfirmed on one long-lived channel: the caller waits with a
    # deadline anyway, so a disk write and a confirm round trip per call buy nothing
    rpc_reply_listener = FastReplyListener()
    publisher = RpcPublisher()

    def __init__(
        self, target_service: str, timeout: float | None = None, on_error: OnError | None = None
    ) -> None:
        super().__init__(target_service)
        self._fixed_timeout = timeout
        self._on_error = on_error

    def get_dependency(self, worker_ctx: WorkerContext) -> _DeadlineProxy:
        proxy = _ServiceProxy(
            worker_ctx, self.target_service, self.rpc_reply_listener, self.publisher
        )
        timeout = self._fixed_timeout or float(self.container.config.get("RPC_TIMEOUT", 5.0))
        return _DeadlineProxy(proxy, self.target_service, timeout, self._on_error)


class Batch:
    """The calls of one fan-out, each named where it is made (see the module's docstring)."""

    def __init__(self) -> None:
        self.calls: list[Pending[Any]] = []

    def call(self, method: Operation[P, R], *args: P.args, **kwargs: P.kwargs) -> Pending[R]:
        """Start `method(*args, **kwargs)` (a method of a ServiceRpc proxy, e.g.
        `self.accounts_rpc.with_timeout(2).overview`) and return it, pending."""
        pending = method.start(*args, **kwargs)
        self.calls.append(pending)
        return pending


@contextmanager
def batch() -> Iterator[Batch]:
    """`with batch() as b: x = b.call(proxy.method, …)`: calls under way together."""
    yield Batch()


def fan_out(plan: Mapping[str, tuple[Any, ...]]) -> dict[str, Any]:
    """`{key: (method, *args)}` → `{key: value or exception}`: every call started at once, then
    every answer awaited (each under its own deadline)."""
    with batch() as b:
        calls = {key: b.call(method, *args) for key, (method, *args) in plan.items()}
    return dict(zip(calls, wait_all(calls.values()), strict=True))


def wait_all(calls: Iterable[Pending[Any]]) -> list[Any]:
    """Results of several PendingCalls; a failed one yields its exception instead of a value."""
    out: list[Any] = []
    for call in calls:
        try:
            out.append(call.result())
        except Exception as exc:  # noqa: BLE001  the caller decides per call
            out.append(exc)
    return out


__all__ = [
    "ServiceRpc",
    "PendingCall",
    "RpcDeadlineExceeded",
    "batch",
    "fan_out",
    "wait_all",
    "correlation",
]
