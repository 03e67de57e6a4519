"""auth service (placeholder being replaced by its issue's work: it only answers ping)."""

from services.common.entrypoints import rpc


class AuthService:
    name = "auth"

    @rpc
    def ping(self):
        return "pong"
