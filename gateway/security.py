"""Cross-site request defences of the web face (docs/operations.md, "Security"):

- CSRF tokens signed per session: a form's token is an HMAC, under the installation's secret
  key, of the browser's session cookie (before login, of a random per-browser cookie). A token
  taken from another session, or a cookie planted by a sibling site, does not verify.
- The Origin (else Referer) of every state-changing request must be the portal's own; a
  cross-site one is refused with 403 before any handler runs.
- Over TLS the cookies carry the `__Host-` prefix (Secure, Path=/, no Domain): no other site,
  not even a sibling subdomain, can set or overwrite them.
"""

import base64
import hashlib
import hmac
import logging
import os
import secrets
from functools import cache
from urllib.parse import urlsplit

from services.common.config import env, var_dir
from services.common.files import private_dir

log = logging.getLogger("gateway.security")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_COOKIE = "portal_session"
CSRF_COOKIE = "portal_csrf"
CROSS_SITE = "Solicitud rechazada: no se originó en el portal."


def cookie_name(request, base):
    """`__Host-portal_session` over TLS (directly or from the trusted proxy), else `base`."""
    return f"__Host-{base}" if request.scheme == "https" else base


@cache
def secret_key():
    """`PORTAL_SECRET_KEY`, or one made once per installation in the var directory (every
    process of the machine shares it; several gateway hosts must share the variable)."""
    given = env("PORTAL_SECRET_KEY")
    if given:
        return given.encode()
    path = var_dir() / "secret_key"
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as fh:
        key = secrets.token_urlsafe(48).encode()
        fh.write(key)
    log.info("secret key created in %s", path)
    return key


def csrf_binding(request):
    """What a form's token is bound to: the session cookie when there is one, else the
    browser's random CSRF cookie (login, registration and recovery come before a session)."""
    session = request.cookies.get(cookie_name(request, SESSION_COOKIE))
    if session and len(session) <= 200:
        return "s:" + session
    seed = request.cookies.get(cookie_name(request, CSRF_COOKIE))
    if seed and len(seed) == 43:
        return "b:" + seed
    return None


def sign(binding):
    mac = hmac.new(secret_key(), b"csrf|" + binding.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def valid_token(request, sent):
    binding = csrf_binding(request)
    if not binding or not sent or len(sent) > 100:
        return False
    return hmac.compare_digest(sign(binding), sent)


def origin_of(url):
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_origins(request):
    own = {f"{request.scheme}://{request.host}".lower()}
    extra = {o.strip().lower().rstrip("/") for o in (env("PORTAL_ORIGINS") or "").split(",")}
    return own | (extra - {""})


def cross_site(request):
    """True when a state-changing request names another site as its origin. A request with
    neither Origin nor Referer (an API client, a privacy-minded browser) is let through: the
    CSRF token (pages) and the Bearer token (API) still stand."""
    if request.method in SAFE_METHODS:
        return False
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin.strip().lower() not in allowed_origins(request)  # "null" too
    referer = request.headers.get("Referer")
    if referer:
        return origin_of(referer) not in allowed_origins(request)
    return False
