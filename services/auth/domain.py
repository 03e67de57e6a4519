"""Pure rules of the auth service (docs/identity.md; docs/domain.md "Identity").

No nameko, no database, time passed in.

Every rule that depends on the time takes `now` (naive UTC), so it is tested without waiting.
"""

import hashlib
import math
import re
import secrets
import string
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

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
# guessing spread over addresses (docs/identity.md, "Guessing from many addresses")
ACCOUNT_FAILURE_LIMIT = 10
ACCOUNT_WINDOW_HOURS = 24
ACCOUNT_FIRST_DELAY_SECONDS = 30
ACCOUNT_MAX_DELAY_SECONDS = 3600
KNOWN_ADDRESS_DAYS = 30
# no recovery code to an e-mail the core replaced less than this long ago
EMAIL_CHANGE_HOLD_HOURS = 72
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
MSG_PASSWORD_BLANK = "La contraseña no puede estar formada solo por espacios."  # noqa: S105
MSG_PASSWORD_REPEATED = "La contraseña debe tener al menos 3 caracteres distintos."  # noqa: S105
MSG_PASSWORD_PERSONAL = (
    "La contraseña no puede contener sus datos de socio: cédula, número de socio, nombres "  # noqa: S105
    "ni apellidos."
)
# a name part shorter than this is not looked for inside a password ("Al" is in too many words)
NAME_PART_MIN = 3
MIN_DISTINCT_CHARACTERS = 3
IDENTIFICATION_LENGTH = 10  # an Ecuadorian cédula


def _load_common_passwords() -> frozenset[str]:
    words = set()
    for line in COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            words.add(line.casefold())
    return frozenset(words)


COMMON_PASSWORDS = _load_common_passwords()


def fold(text: str | None) -> str:
    """Lower-case without accents: 'María' -> 'maria'."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def normalize_username(username: str | None) -> str:
    return (username or "").strip().lower()


def username_problems(username: str) -> list[str]:
    """Spanish messages of what is wrong with a (normalized) username; empty when valid."""
    problems = []
    if not USERNAME_MIN <= len(username) <= USERNAME_MAX:
        problems.append(MSG_USERNAME_LENGTH)
    if username and not USERNAME_RE.match(username):
        problems.append(MSG_USERNAME_CHARS)
    return problems


def is_common_password(password: str) -> bool:
    folded = password.strip().casefold()
    return folded in COMMON_PASSWORDS or fold(password.strip()) in COMMON_PASSWORDS


@dataclass(frozen=True)
class MemberFacts:
    """What the password must not contain: the member's own data, from the accounts service.

    `identification` is the cédula when it is known (at registration, typed and verified); at a
    change of password it is not (accounts never hands it out), and the caller asks accounts
    instead whether one of `identification_candidates(password)` is the member's.
    """

    member_number: str = ""
    given_names: str = ""
    surnames: str = ""
    identification: str = ""


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _letters_and_digits(text: str) -> str:
    return "".join(c for c in fold(text) if c.isalnum())


def identification_candidates(password: str, limit: int = 40) -> list[str]:
    """Every run of 10 digits in the password (separators ignored): what could be a cédula."""
    digits = _digits(password)
    found: list[str] = []
    for start in range(max(0, len(digits) - IDENTIFICATION_LENGTH + 1)):
        window = digits[start : start + IDENTIFICATION_LENGTH]
        if window not in found:
            found.append(window)
        if len(found) >= limit:
            break
    return found


def has_personal_data(
    password: str, member: MemberFacts | None, identification_found: bool = False
) -> bool:
    """True when the password holds the member's cédula, member number, a given name or a
    surname: in any case, with or without accents, separators ignored."""
    if identification_found:
        return True
    if member is None:
        return False
    digits = _digits(password)
    for number in (member.identification, member.member_number):
        number = _digits(number or "")
        if len(number) >= 4 and number in digits:
            return True
    plain = _letters_and_digits(password)
    for part in f"{member.given_names or ''} {member.surnames or ''}".split():
        name = _letters_and_digits(part)
        if len(name) >= NAME_PART_MIN and name in plain:
            return True
    return False


def password_problems(
    password: str,
    username: str | None,
    member: MemberFacts | None = None,
    identification_found: bool = False,
) -> list[str]:
    """The password policy (docs/identity.md): every rule broken, as a message that says what
    is wrong. `member` holds the member's data the password must not contain."""
    problems = []
    if len(password) < PASSWORD_MIN:
        problems.append(MSG_PASSWORD_SHORT)
    if len(password) > PASSWORD_MAX:
        problems.append(MSG_PASSWORD_LONG)
    if password and not password.strip():
        problems.append(MSG_PASSWORD_BLANK)
    elif password and len(set(password.casefold())) < MIN_DISTINCT_CHARACTERS:
        problems.append(MSG_PASSWORD_REPEATED)
    user = normalize_username(username)
    if user and (user in password.casefold() or user in fold(password)):
        problems.append(MSG_PASSWORD_USERNAME)
    if has_personal_data(password, member, identification_found):
        problems.append(MSG_PASSWORD_PERSONAL)
    if is_common_password(password):
        problems.append(MSG_PASSWORD_COMMON)
    return problems


# Secrets -----------------------------------------------------------------------------------


def generate_code() -> str:
    """A temporary code: 8 characters [A-Za-z0-9] from `secrets` (like '5uqZ7zkp')."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def looks_like_code(text: str | None) -> bool:
    return bool(CODE_RE.match(text or ""))


def new_token() -> str:
    """An opaque session token of 256 random bits (43 URL-safe characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_session_id() -> str:
    return secrets.token_hex(16)


# Lockout and throttling --------------------------------------------------------------------


def seconds_until(moment: datetime, now: datetime) -> int:
    """Whole seconds from now to moment, rounded up, at least 1."""
    return max(1, math.ceil((moment - now).total_seconds()))


def is_locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and now < locked_until


@dataclass(frozen=True)
class FailureOutcome:
    failed_attempts: int
    locked_until: datetime | None
    locked_now: bool


def after_failure(
    failed_attempts: int | None,
    now: datetime,
    max_failures: int = MAX_FAILURES,
    lock_minutes: float = LOCK_MINUTES,
) -> FailureOutcome:
    """One more consecutive failure of a user from one address: at `max_failures` that user is
    locked at that address for `lock_minutes`.

    The counter starts again from zero once the lock is set, so after the lock ends the member has
    `max_failures` attempts again.
    """
    count = (failed_attempts or 0) + 1
    if count >= max_failures:
        return FailureOutcome(0, now + timedelta(minutes=lock_minutes), True)
    return FailureOutcome(count, None, False)


def throttle_retry_after(
    failure_times: Iterable[datetime],
    now: datetime,
    limit: int = ADDRESS_FAILURE_LIMIT,
    window_minutes: float = ADDRESS_WINDOW_MINUTES,
) -> int | None:
    """Seconds to wait when an address has `limit` failures within the window, else None."""
    window = timedelta(minutes=window_minutes)
    recent = sorted(t for t in failure_times if now - window < t <= now)
    if len(recent) < limit:
        return None
    # the window slides: it reopens when enough of the oldest failures leave it
    release = recent[len(recent) - limit] + window
    return seconds_until(release, now)


@dataclass(frozen=True)
class AccountGuessing:
    """Failed logins of one user name from addresses it never logged in from (any of them)."""

    failures: int = 0
    window_started_at: datetime | None = None
    last_failure_at: datetime | None = None
    delay_seconds: int = 0
    wait_until: datetime | None = None
    episode_started_at: datetime | None = None


def account_wait(wait_until: datetime | None, now: datetime) -> int | None:
    """Seconds the user name must still wait, or None."""
    if wait_until is None or now >= wait_until:
        return None
    return seconds_until(wait_until, now)


def account_after_failure(
    state: AccountGuessing,
    now: datetime,
    limit: int = ACCOUNT_FAILURE_LIMIT,
    window_hours: float = ACCOUNT_WINDOW_HOURS,
    first_delay: int = ACCOUNT_FIRST_DELAY_SECONDS,
    max_delay: int = ACCOUNT_MAX_DELAY_SECONDS,
) -> tuple[AccountGuessing, bool]:
    """One more failure of the user name from an unfamiliar address; True when it starts an
    episode of guessing (the member is told once per episode).

    Failures count within `window_hours` of the first one. The `limit`-th starts a wait of
    `first_delay` seconds; each failure after a wait doubles it, up to `max_delay`. An episode
    ends after `window_hours` without a failure: then the count starts again.
    """
    window = timedelta(hours=window_hours)
    if state.episode_started_at is not None:
        over = state.last_failure_at is None or now - state.last_failure_at >= window
    else:
        over = state.window_started_at is None or now - state.window_started_at >= window
    if over:
        state = AccountGuessing()
    failures = state.failures + 1
    started = state.window_started_at or now
    if failures < limit:
        return replace(
            state, failures=failures, window_started_at=started, last_failure_at=now
        ), False
    delay = first_delay if state.delay_seconds <= 0 else min(state.delay_seconds * 2, max_delay)
    new_episode = state.episode_started_at is None
    return AccountGuessing(
        failures=failures,
        window_started_at=started,
        last_failure_at=now,
        delay_seconds=delay,
        wait_until=now + timedelta(seconds=delay),
        episode_started_at=state.episode_started_at or now,
    ), new_episode


def recovery_held(
    email_changed_at: datetime | None, now: datetime, hold_hours: float = EMAIL_CHANGE_HOLD_HOURS
) -> bool:
    """True while the e-mail is too newly changed to receive a recovery code."""
    return email_changed_at is not None and now - email_changed_at < timedelta(hours=hold_hours)


def recovery_allowed(
    recent_request_times: Iterable[datetime], now: datetime, limit: int = RECOVERIES_PER_HOUR
) -> bool:
    hour_ago = now - timedelta(hours=1)
    return sum(1 for t in recent_request_times if hour_ago < t <= now) < limit


# Sessions ----------------------------------------------------------------------------------

SessionState = Literal["active", "revoked", "idle_timeout", "absolute_timeout"]
ACTIVE: SessionState = "active"
REVOKED: SessionState = "revoked"
IDLE_TIMEOUT: SessionState = "idle_timeout"
ABSOLUTE_TIMEOUT: SessionState = "absolute_timeout"


def session_expiry(created_at: datetime, absolute_hours: float = ABSOLUTE_HOURS) -> datetime:
    return created_at + timedelta(hours=absolute_hours)


def session_state(
    last_seen_at: datetime,
    expires_at: datetime,
    revoked_at: datetime | None,
    now: datetime,
    idle_minutes: float = IDLE_MINUTES,
) -> SessionState:
    """'active', 'revoked', 'absolute_timeout' (8 h after login) or 'idle_timeout' (15 min idle)."""
    if revoked_at is not None:
        return REVOKED
    if now >= expires_at:
        return ABSOLUTE_TIMEOUT
    if now - last_seen_at >= timedelta(minutes=idle_minutes):
        return IDLE_TIMEOUT
    return ACTIVE


def should_touch(last_seen_at: datetime, now: datetime) -> bool:
    return now - last_seen_at >= TOUCH_EVERY


def code_usable(
    expires_at: datetime, used_at: datetime | None, invalidated_at: datetime | None, now: datetime
) -> bool:
    return used_at is None and invalidated_at is None and now < expires_at


# Presentation ------------------------------------------------------------------------------


def display_name(given_names: str | None, surnames: str | None) -> str:
    """First given name and first surname: 'María Pérez'."""
    first = (given_names or "").split()
    last = (surnames or "").split()
    return " ".join(first[:1] + last[:1])


def mask_email_brief(email: str | None) -> str:
    """'maria.perez@example.com' -> 'm***@example.com' (says where, not how long)."""
    local, _, domain = (email or "").strip().lower().partition("@")
    return f"{local[:1]}***@{domain}"


def mask_email(email: str | None) -> str:
    """'maria.perez@example.com' -> 'm*********z@example.com'."""
    local, _, domain = (email or "").partition("@")
    if len(local) <= 2:
        masked = local[:1] + "*"
    else:
        masked = local[0] + "*" * (len(local) - 2) + local[-1]
    return f"{masked}@{domain}"
