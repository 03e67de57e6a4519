"""Correlation id of the request being handled, carried in nameko's worker context data.

The gateway starts one per HTTP request (or takes X-Request-ID); nameko propagates context data
to every RPC it makes, and the outbox stores it with each event so consumers log it too.
"""

import logging
import uuid

import eventlet.corolocal
from nameko.extensions import DependencyProvider

CONTEXT_KEY = "correlation_id"
log = logging.getLogger("portal.calls")
_local = eventlet.corolocal.local()


def new():
    return uuid.uuid4().hex


def current():
    return getattr(_local, "value", None)


def set_current(value):
    _local.value = value


class Tracker(DependencyProvider):
    """Makes the worker's correlation id current for logs and the outbox; logs each call."""

    def worker_setup(self, worker_ctx):
        set_current(worker_ctx.data.get(CONTEXT_KEY))

    def worker_result(self, worker_ctx, result=None, exc_info=None):
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

    def worker_teardown(self, worker_ctx):
        set_current(None)
