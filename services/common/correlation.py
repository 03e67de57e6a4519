"""Correlation id of the request being handled, carried in nameko's worker context data.

The gateway starts one per HTTP request (or takes X-Request-ID); nameko propagates context data
to every RPC it makes, and the outbox stores it with each event so consumers log it too.
"""

import logging
import uuid
from types import TracebackType

import eventlet.corolocal
from nameko.containers import WorkerContext
from nameko.extensions import DependencyProvider

CONTEXT_KEY = "correlation_id"
log = logging.getLogger("portal.calls")
_local = eventlet.corolocal.local()


def new() -> str:
    return uuid.uuid4().hex


def current() -> str | None:
    value: str | None = getattr(_local, "value", None)
    return value


def set_current(value: str | None) -> None:
    _local.value = value


class CorrelationContext(DependencyProvider):
    """Makes the worker's correlation id current for logs and the outbox; logs each call."""

    def worker_setup(self, worker_ctx: WorkerContext) -> None:
        set_current(worker_ctx.data.get(CONTEXT_KEY))

    def worker_result(
        self,
        worker_ctx: WorkerContext,
        result: object = None,
        exc_info: tuple[type[BaseException], BaseException, TracebackType] | None = None,
    ) -> None:
        log.debug(
            "handled %s.%s",
            worker_ctx.service_name,
            worker_ctx.entrypoint.method_name,
            extra={
                "service": worker_ctx.service_name,
                "method": worker_ctx.entrypoint.method_name,
                "status": "error" if exc_info else "ok",
                "cid": current(),
            },
        )

    def worker_teardown(self, worker_ctx: WorkerContext) -> None:
        set_current(None)
