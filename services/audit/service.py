"""audit service (placeholder being replaced by its issue's work: it only answers ping)."""

from services.common.entrypoints import rpc


class AuditService:
    name = "audit"

    @rpc
    def ping(self):
        return "pong"
