"""A failed login's answer between its POST and the GET that shows it (post/redirect/get):
a signed cookie of this browser, read once.

It holds the message, the status (401, 429 or 503 and its wait) and the user name typed — never
the password — signed with the installation's key (its own MAC domain) so the page can trust
what it shows, valid one minute, HttpOnly, SameSite=Lax, and deleted by the page that shows it:
Back or a reload then shows the plain form. Nothing is written on the server, so repeated
failures cost no disk."""

import base64
import hashlib
import hmac
import json
import time

from gateway.security import cookie_name, secret_key

FLASH_COOKIE = "portal_login_flash"
FLASH_SECONDS = 60
FLASH_LIMIT = 3000  # characters of the cookie's value


def _mac(payload: bytes) -> str:
    digest = hmac.new(secret_key(), b"login-flash|" + payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def pack(failed):
    """The cookie's value for `failed` {message, status, retry_after, username, next}."""
    facts = {**failed, "e": int(time.time()) + FLASH_SECONDS}
    payload = base64.urlsafe_b64encode(json.dumps(facts, separators=(",", ":")).encode())
    return payload.decode() + "." + _mac(payload)


def unpack(request):
    """The failed login kept for this browser, or None (none, forged, expired)."""
    value = request.cookies.get(cookie_name(request, FLASH_COOKIE)) or ""
    payload, _, mac = value.partition(".")
    if not payload or len(value) > FLASH_LIMIT:
        return None
    if not hmac.compare_digest(_mac(payload.encode()), mac):
        return None
    try:
        facts = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except ValueError:
        return None
    if not isinstance(facts, dict) or int(facts.get("e") or 0) < time.time():
        return None
    return facts


def keep(response, request, failed):
    response.set_cookie(
        cookie_name(request, FLASH_COOKIE),
        pack(failed),
        max_age=FLASH_SECONDS,
        httponly=True,
        samesite="Lax",
        secure=request.scheme == "https",
        path="/",  # a __Host- cookie (over TLS) must be on /
    )


def forget(response, request):
    response.delete_cookie(
        cookie_name(request, FLASH_COOKIE), path="/", secure=request.scheme == "https"
    )
