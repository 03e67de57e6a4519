"""The web's side of the second factor (docs/pages.md, "Ingreso en dos pasos"): the pending
challenge between the password and the code, and the remembered device.

- `portal_challenge`: after the right password, the challenge auth opened (its id, methods, expiry,
  the page to come back to), signed with the installation's key so the page can trust what it
  shows; HttpOnly, SameSite=Strict, 5 minutes. No session exists before the code: the session
  cookie is set only with the token that `login_second_factor` returns, a new one (no fixation).
- `portal_device`: auth's remembered-device token (30 days, HttpOnly, SameSite=Strict, Secure under
  HTTPS with the `__Host-` prefix), replaced by the new token of every login that carries one.
"""

import base64
import hashlib
import hmac
import json

from gateway.security import cookie_name, secret_key

CHALLENGE_COOKIE = "portal_challenge"
DEVICE_COOKIE = "portal_device"
CHALLENGE_SECONDS = 5 * 60
DEVICE_SECONDS = 30 * 24 * 3600
METHODS = ("totp", "recovery_code", "email_code")


def _mac(payload: bytes) -> str:
    digest = hmac.new(secret_key(), b"challenge|" + payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def pack_challenge(answer, next_path):
    """The cookie value for a login answer `{challenge_id, methods, challenge_expires_at}`."""
    facts = {
        "c": str(answer.get("challenge_id") or ""),
        "m": [m for m in answer.get("methods") or () if m in METHODS],
        "e": answer.get("challenge_expires_at"),
        "n": next_path,
    }
    payload = base64.urlsafe_b64encode(json.dumps(facts, separators=(",", ":")).encode())
    return payload.decode() + "." + _mac(payload)


def unpack_challenge(request):
    """{challenge_id, methods, expires_at, next} of this browser's pending challenge, or None."""
    value = request.cookies.get(cookie_name(request, CHALLENGE_COOKIE)) or ""
    payload, _, mac = value.partition(".")
    if not payload or len(value) > 2000 or not hmac.compare_digest(_mac(payload.encode()), mac):
        return None
    try:
        facts = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except ValueError:
        return None
    if not facts.get("c") or not facts.get("m"):
        return None
    return {
        "challenge_id": facts["c"],
        "methods": facts["m"],
        "expires_at": facts.get("e"),
        "next": facts.get("n"),
    }


def reference(challenge_id):
    """The reference the code e-mail shows too: the first 8 characters of the challenge."""
    return "".join(ch for ch in challenge_id if ch.isalnum())[:8].upper()


def set_challenge(response, request, value):
    response.set_cookie(
        cookie_name(request, CHALLENGE_COOKIE),
        value,
        max_age=CHALLENGE_SECONDS,
        httponly=True,
        samesite="Strict",
        secure=request.scheme == "https",
        path="/",
    )


def clear_challenge(response, request):
    response.delete_cookie(
        cookie_name(request, CHALLENGE_COOKIE), path="/", secure=request.scheme == "https"
    )


def device_token(request):
    token = request.cookies.get(cookie_name(request, DEVICE_COOKIE))
    return token if token and len(token) <= 200 else None


def set_device(response, request, token):
    """Keep (or replace) the remembered device's token; nothing when the answer has none."""
    if not token:
        return
    response.set_cookie(
        cookie_name(request, DEVICE_COOKIE),
        token,
        max_age=DEVICE_SECONDS,
        httponly=True,
        samesite="Strict",
        secure=request.scheme == "https",
        path="/",
    )


def user_agent(request):
    return (request.headers.get("User-Agent") or "")[:400]
