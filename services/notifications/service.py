"""notifications service (placeholder being replaced by its issue's work: it only answers ping)."""

from services.common.entrypoints import rpc


class NotificationsService:
    name = "notifications"

    @rpc
    def ping(self):
        return "pong"
