"""RPC between services, always with a deadline.

`accounts = ServiceRpc("accounts")` is nameko's RpcProxy whose calls wait at most `RPC_TIMEOUT`
seconds (or the `timeout` given) and then raise `ServiceUnavailable` naming the service.
`self.accounts.call_async(...)` starts a call without waiting, for parallel fan-out:
start every call first, then `.result()` each (they share one deadline).
"""

import itertools
import time
import uuid

import eventlet
from amqp.exceptions import AMQPError
from kombu.exceptions import KombuError
from nameko.exceptions import RemoteError
from nameko.messaging import HeaderEncoder
from nameko.rpc import RpcProxy, RpcReply

from services.common import correlation
from services.common.errors import ServiceUnavailable
from services.common.messaging import FastPublisher, FastReplyListener, dumps


class RpcDeadlineExceeded(ServiceUnavailable):
    pass


def unavailable(service):
    """The error of a call that could not reach `service` (its request never left)."""
    return ServiceUnavailable(f"El servicio {service} no está disponible.", service=service)


class PendingCall:
    def __init__(self, service, method, reply, listener, deadline, on_error=None):
        self.service = service
        self.method = method
        self._reply = reply
        self._listener = listener
        self.deadline = deadline
        self._on_error = on_error

    def result(self):
        remaining = self.deadline - time.monotonic()
        try:
            with eventlet.Timeout(max(remaining, 0.0)):
                return self._reply.result()
        except RemoteError:
            self._report("remote_error")
            raise
        except (OSError, KombuError, AMQPError) as exc:  # a batched request never left
            self._report("unavailable")
            raise unavailable(self.service) from exc
        except eventlet.Timeout:
            self._report("timeout")
            # forget the reply we stopped waiting for, so it does not pile up
            if self._listener is not None:
                waiting = self._listener._reply_events
                for key, event in list(waiting.items()):
                    if event is self._reply.reply_event:
                        waiting.pop(key, None)
            raise RpcDeadlineExceeded(
                f"El servicio {self.service} no respondió a tiempo.",
                service=self.service,
            ) from None

    def _report(self, kind):
        if self._on_error is not None:
            self._on_error(self.service, kind)


_PREFIX = uuid.uuid4().hex[:12]
_counter = itertools.count()


def next_correlation_id():
    """Unique among this process's pending calls (replies come back to its own queue); a
    counter behind a random prefix costs less than a uuid4 per call."""
    return f"{_PREFIX}.{next(_counter)}"


class _FastMethodProxy(HeaderEncoder):
    """One request on the process's long-lived channel (services/common/messaging.py), with
    nameko's wire format. Not `mandatory`: an unknown service is reported by the deadline."""

    def __init__(self, worker_ctx, service_name, method_name, reply_listener, publisher):
        self.worker_ctx = worker_ctx
        self.service_name = service_name
        self.method_name = method_name
        self.reply_listener = reply_listener
        self.publisher = publisher

    def call_async(self, *args, **kwargs):
        correlation_id = next_correlation_id()
        reply_event = self.reply_listener.get_reply_event(correlation_id)

        def unsent(exc):  # inside a batch: the write failed after call_async returned
            self.reply_listener._reply_events.pop(correlation_id, None)
            reply_event.send_exception(exc)

        try:
            self.publisher.publish(
                dumps({"args": args, "kwargs": kwargs}),
                routing_key=f"{self.service_name}.{self.method_name}",
                reply_to=self.reply_listener.routing_key,
                correlation_id=correlation_id,
                headers=self.get_message_headers(self.worker_ctx),
                on_error=unsent,
            )
        except Exception:
            self.reply_listener._reply_events.pop(correlation_id, None)
            raise
        return RpcReply(reply_event)


class _Method:
    def __init__(self, proxy, service, name, timeout, on_error=None):
        self._method = proxy.method(name)
        self._service = service
        self._name = name
        self._timeout = timeout
        self._on_error = on_error

    def _unavailable(self, cause):
        if self._on_error is not None:
            self._on_error(self._service, "unavailable")
        raise unavailable(self._service) from cause

    def call_async(self, *args, **kwargs):
        deadline = time.monotonic() + self._timeout
        listener = getattr(self._method, "reply_listener", None)
        try:
            reply = self._method.call_async(*args, **kwargs)
        except (OSError, KombuError, AMQPError) as exc:  # the broker is away: fail clearly
            self._unavailable(exc)
        return PendingCall(self._service, self._name, reply, listener, deadline, self._on_error)

    def __call__(self, *args, **kwargs):
        return self.call_async(*args, **kwargs).result()


class _ServiceProxy:
    def __init__(self, worker_ctx, service, reply_listener, publisher):
        self._args = (worker_ctx, service)
        self._reply_listener = reply_listener
        self._publisher = publisher

    def method(self, name):
        worker_ctx, service = self._args
        return _FastMethodProxy(worker_ctx, service, name, self._reply_listener, self._publisher)


class _DeadlineProxy:
    def __init__(self, proxy, service, timeout, on_error=None):
        self._proxy = proxy
        self._service = service
        self._timeout = timeout
        self._on_error = on_error

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return _Method(self._proxy, self._service, name, self._timeout, self._on_error)

    def with_timeout(self, timeout, count_errors=True):
        """The same proxy with another deadline; `count_errors=False` keeps its failures out of
        `on_error` (the metrics scrape asking services for their own figures)."""
        on_error = self._on_error if count_errors else None
        return _DeadlineProxy(self._proxy, self._service, timeout, on_error)

    def batch(self):
        """`with proxy.batch(): …call_async…` sends every request started in the block in one
        write at its end (the container's ServiceRpc proxies share one publisher, so calls to
        several services can be batched together)."""
        return self._proxy._publisher.batch()


class ServiceRpc(RpcProxy):
    """`on_error(service, kind)` is told of every failed call (metrics)."""

    # requests are transient and unconfirmed on one long-lived channel: the caller waits with a
    # deadline anyway, so a disk write and a confirm round trip per call buy nothing
    rpc_reply_listener = FastReplyListener()
    publisher = FastPublisher()

    def __init__(self, target_service, timeout=None, on_error=None):
        super().__init__(target_service)
        self._fixed_timeout = timeout
        self._on_error = on_error

    def get_dependency(self, worker_ctx):
        proxy = _ServiceProxy(
            worker_ctx, self.target_service, self.rpc_reply_listener, self.publisher
        )
        timeout = self._fixed_timeout or float(self.container.config.get("RPC_TIMEOUT", 5.0))
        return _DeadlineProxy(proxy, self.target_service, timeout, self._on_error)


def wait_all(calls):
    """Results of several PendingCalls; a failed one yields its exception instead of a value."""
    out = []
    for call in calls:
        try:
            out.append(call.result())
        except Exception as exc:  # noqa: BLE001  the caller decides per call
            out.append(exc)
    return out


__all__ = ["ServiceRpc", "PendingCall", "RpcDeadlineExceeded", "wait_all", "correlation"]
