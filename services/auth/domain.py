"""Pure rules of the auth service (docs/domain.md "Identity"): no nameko, no database, time
passed in.

Every rule that depends on the time takes `now` (naive UTC), so it is tested without waiting.
"""

import hashlib
import math
import re
import secrets
import string
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

USERNAME_MIN, USERNAME_MAX = 4, 30
PASSWORD_MIN, PASSWORD_MAX = 8, 128
USERNAME_RE = re.compile(r"^[a-z0-9._-]+$")

CODE_LENGTH = 8
CODE_ALPHABET = string.ascii_letters + string.digits  # [A-Za-z0-9]
CODE_RE = re.compile(r"^[A-Za-z0-9]{8}$")
TOKEN_BYTES = 32  # 256 bits

MAX_FAILURES = 5
LOCK_MINUTES = 15
IDLE_MINUTES = 15
ABSOLUTE_HOURS = 8
CODE_VALID_MINUTES = 15
RECOVERIES_PER_HOUR = 3
ADDRESS_FAILURE_LIMIT = 30
ADDRESS_WINDOW_MINUTES = 10
# a session's last_seen is written at most this often (idle timeout precision)
TOUCH_EVERY = timedelta(seconds=30)

COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")

# Messages a member reads
MSG_USERNAME_LENGTH = f"El usuario debe tener entre {USERNAME_MIN} y {USERNAME_MAX} caracteres."
MSG_USERNAME_CHARS = (
    "El usuario solo puede tener letras minúsculas sin tildes, números, punto (.), "
    "guion (-) y guion bajo (_)."
)
MSG_PASSWORD_SHORT = f"La contraseña debe tener al menos {PASSWORD_MIN} caracteres."
MSG_PASSWORD_LONG = f"La contraseña no puede tener más de {PASSWORD_MAX} caracteres."
MSG_PASSWORD_USERNAME = "La contraseña no puede ser igual al usuario ni contenerlo."  # noqa: S105  (a message)
MSG_PASSWORD_COMMON = "La contraseña es demasiado común: elija una más difícil de adivinar."  # noqa: S105
MSG_PASSWORD_SAME = "La nueva contraseña debe ser distinta de la actual."  # noqa: S105


def _load_common_passwords():
    words = set()
    for line in COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            words.add(line.casefold())
    return frozenset(words)


COMMON_PASSWORDS = _load_common_passwords()


def fold(text):
    """Lower-case without accents: 'María' -> 'maria'."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def normalize_username(username):
    return (username or "").strip().lower()


def username_problems(username):
    """Spanish messages of what is wrong with a (normalized) username; empty when valid."""
    problems = []
    if not USERNAME_MIN <= len(username) <= USERNAME_MAX:
        problems.append(MSG_USERNAME_LENGTH)
    if username and not USERNAME_RE.match(username):
        problems.append(MSG_USERNAME_CHARS)
    return problems


def is_common_password(password):
    folded = password.casefold()
    return folded in COMMON_PASSWORDS or fold(password) in COMMON_PASSWORDS


def password_problems(password, username):
    """docs/domain.md's password policy: every rule broken, as a message that says what is wrong."""
    problems = []
    if len(password) < PASSWORD_MIN:
        problems.append(MSG_PASSWORD_SHORT)
    if len(password) > PASSWORD_MAX:
        problems.append(MSG_PASSWORD_LONG)
    user = normalize_username(username)
    if user and user in password.casefold():
        problems.append(MSG_PASSWORD_USERNAME)
    if is_common_password(password):
        problems.append(MSG_PASSWORD_COMMON)
    return problems


# Secrets -----------------------------------------------------------------------------------


def generate_code():
    """A temporary code: 8 characters [A-Za-z0-9] from `secrets` (like '5uqZ7zkp')."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def looks_like_code(text):
    return bool(CODE_RE.match(text or ""))


def new_token():
    """An opaque session token of 256 random bits (43 URL-safe characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_session_id():
    return secrets.token_hex(16)


# Lockout and throttling --------------------------------------------------------------------


def seconds_until(moment, now):
    """Whole seconds from now to moment, rounded up, at least 1."""
    return max(1, math.ceil((moment - now).total_seconds()))


def is_locked(locked_until, now):
    return locked_until is not None and now < locked_until


@dataclass(frozen=True)
class FailureOutcome:
    failed_attempts: int
    locked_until: object  # datetime | None
    locked_now: bool


def after_failure(failed_attempts, now, max_failures=MAX_FAILURES, lock_minutes=LOCK_MINUTES):
    """One more consecutive failure: at `max_failures` the user is locked for `lock_minutes`.

    The counter starts again from zero once the lock is set, so after the lock ends the member has
    `max_failures` attempts again.
    """
    count = (failed_attempts or 0) + 1
    if count >= max_failures:
        return FailureOutcome(0, now + timedelta(minutes=lock_minutes), True)
    return FailureOutcome(count, None, False)


def throttle_retry_after(
    failure_times, now, limit=ADDRESS_FAILURE_LIMIT, window_minutes=ADDRESS_WINDOW_MINUTES
):
    """Seconds to wait when an address has `limit` failures within the window, else None."""
    window = timedelta(minutes=window_minutes)
    recent = sorted(t for t in failure_times if now - window < t <= now)
    if len(recent) < limit:
        return None
    # the window slides: it reopens when enough of the oldest failures leave it
    release = recent[len(recent) - limit] + window
    return seconds_until(release, now)


def recovery_allowed(recent_request_times, now, limit=RECOVERIES_PER_HOUR):
    hour_ago = now - timedelta(hours=1)
    return sum(1 for t in recent_request_times if hour_ago < t <= now) < limit


# Sessions ----------------------------------------------------------------------------------

ACTIVE = "active"
REVOKED = "revoked"
IDLE_TIMEOUT = "idle_timeout"
ABSOLUTE_TIMEOUT = "absolute_timeout"


def session_expiry(created_at, absolute_hours=ABSOLUTE_HOURS):
    return created_at + timedelta(hours=absolute_hours)


def session_state(last_seen_at, expires_at, revoked_at, now, idle_minutes=IDLE_MINUTES):
    """'active', 'revoked', 'absolute_timeout' (8 h after login) or 'idle_timeout' (15 min idle)."""
    if revoked_at is not None:
        return REVOKED
    if now >= expires_at:
        return ABSOLUTE_TIMEOUT
    if now - last_seen_at >= timedelta(minutes=idle_minutes):
        return IDLE_TIMEOUT
    return ACTIVE


def should_touch(last_seen_at, now):
    return now - last_seen_at >= TOUCH_EVERY


def code_usable(expires_at, used_at, invalidated_at, now):
    return used_at is None and invalidated_at is None and now < expires_at


# Presentation ------------------------------------------------------------------------------


def display_name(given_names, surnames):
    """First given name and first surname: 'María Pérez'."""
    first = (given_names or "").split()
    last = (surnames or "").split()
    return " ".join(first[:1] + last[:1])


def mask_email(email):
    """'maria.perez@example.com' -> 'm*********z@example.com'."""
    local, _, domain = (email or "").partition("@")
    if len(local) <= 2:
        masked = local[:1] + "*"
    else:
        masked = local[0] + "*" * (len(local) - 2) + local[-1]
    return f"{masked}@{domain}"
