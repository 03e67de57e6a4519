"""The auth service's own key: encrypts the TOTP secrets at rest and keys the hashes of short codes.

`AUTH_SECRET_KEY` (a Fernet key: 32 random bytes, URL-safe base64) in production, the same on every
auth host; the embedded default makes one once in the var directory (mode 0600), like the
gateway's secret key. Losing it makes every enrolled app and every pending code useless (the
members re-enrol after a recovery): back it up with the database (docs/identity.md).
"""

import base64
import hashlib
import hmac
import logging
import os
from functools import cache

from cryptography.fernet import Fernet, InvalidToken

from services.common.config import env, var_dir

log = logging.getLogger("services.auth")

KEY_FILE = "auth_secret_key"


@cache
def _key() -> bytes:
    given = env("AUTH_SECRET_KEY")
    if given:
        key = given.strip().encode()
        Fernet(key)  # a malformed key fails at the first use, loudly
        return key
    path = var_dir() / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    key = Fernet.generate_key()
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    log.info("auth key created in %s", path)
    return key


def reset_cache() -> None:
    """Tests that point PORTAL_VAR_DIR elsewhere read the key again."""
    _key.cache_clear()


def encrypt(text: str) -> str:
    return Fernet(_key()).encrypt(text.encode()).decode()


def decrypt(token: str) -> str | None:
    try:
        return Fernet(_key()).decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        log.error("a stored TOTP secret could not be decrypted (AUTH_SECRET_KEY changed?)")
        return None


def code_key() -> bytes:
    """A subkey for the HMAC of e-mail and recovery codes (never the encryption key itself)."""
    raw = base64.urlsafe_b64decode(_key())
    return hmac.new(raw, b"portal auth code hashes", hashlib.sha256).digest()
