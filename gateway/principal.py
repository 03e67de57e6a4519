"""The one authentication step every member-scoped page and API call goes through.

It reads the session token (Bearer header for the API, the HttpOnly cookie for pages), asks the
auth service over RPC, and yields the session's member. Nothing member-scoped ever takes a member
number from the client: handlers use `principal.member_number` only.
"""

from gateway import sessions
from gateway.parts import GatewayParts, Principal
from gateway.security import SESSION_COOKIE, cookie_name
from services.common.entrypoints import broadcast_handler
from services.common.errors import PasswordChangeRequired, Unauthenticated


def token_from(request):
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    if not request.path.startswith("/api/"):
        return request.cookies.get(cookie_name(request, SESSION_COOKIE)) or None
    return None


class AuthenticationMixin(GatewayParts):
    """Used by GatewayService: `self.require_member(request)`."""

    def require_member(self, request, allow_password_change=False):
        token = token_from(request)
        if not token or len(token) > 200:
            raise Unauthenticated()
        info = sessions.cache.get(token)
        if info is None:
            info = self.auth_rpc.authenticate(token)
            sessions.cache.put(token, info)
        principal = Principal(
            token=token,
            username=info["username"],
            member_number=info["member_number"],
            display_name=info.get("display_name") or info["username"],
            must_change_password=bool(info.get("must_change_password")),
            session_id=info.get("session_id", ""),
            last_login_at=info.get("last_login_at"),
        )
        if principal.must_change_password and not allow_password_change:
            raise PasswordChangeRequired()
        return principal

    def forget_session(self, token):
        sessions.cache.forget(token)

    # every gateway instance hears these (broadcast): no instance keeps an ended session
    @broadcast_handler("auth", "logged_out")
    def on_logged_out(self, payload):
        sessions.cache.forget_member((payload.get("data") or {}).get("member_number"))

    @broadcast_handler("auth", "password_changed")
    def on_password_changed(self, payload):
        sessions.cache.forget_member((payload.get("data") or {}).get("member_number"))

    def optional_member(self, request):
        """The member when the request carries a valid session, else None (public pages)."""
        try:
            return self.require_member(request, allow_password_change=True)
        except Unauthenticated:
            return None
