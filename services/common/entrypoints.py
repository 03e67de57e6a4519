"""nameko entrypoints that commit the worker's database sessions *before* answering.

nameko sends an RPC reply (or acks an event, or writes the HTTP response) in `handle_result`,
which runs before dependency providers see `worker_result`. Committing there would let a caller
read its own write before it is committed, or get "ok" for a commit that then fails. These
subclasses commit first and turn a failed commit into the worker's error.
"""

import sys

from nameko.events import EventHandler
from nameko.rpc import Rpc


def finish_transactions(worker_ctx, exc_info):
    from services.common.db import Database

    for provider in worker_ctx.container.dependencies:
        if isinstance(provider, Database):
            try:
                provider.finish(worker_ctx, success=exc_info is None)
            except Exception:
                exc_info = sys.exc_info()
    return exc_info


class PortalRpc(Rpc):
    def handle_result(self, message, worker_ctx, result, exc_info):
        exc_info = finish_transactions(worker_ctx, exc_info)
        if exc_info is not None:
            result = None
        return super().handle_result(message, worker_ctx, result, exc_info)


class PortalEventHandler(EventHandler):
    """Durable, reliable, one queue per handler (competing consumers across instances)."""

    def __init__(self, source_service, event_type, **kwargs):
        kwargs.setdefault("reliable_delivery", True)
        super().__init__(source_service, event_type, **kwargs)

    def handle_result(self, message, worker_ctx, result=None, exc_info=None):
        exc_info = finish_transactions(worker_ctx, exc_info)
        return super().handle_result(message, worker_ctx, result, exc_info)


rpc = PortalRpc.decorator
event_handler = PortalEventHandler.decorator
