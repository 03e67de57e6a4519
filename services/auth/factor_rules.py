"""Pure rules of the second factor (docs/identity.md, "Second factor").

No nameko, no database; `now` (naive UTC) is passed in, so every lifetime and count is tested
with a fixed clock. Codes are compared in constant time.
"""

import hashlib
import hmac
import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp

# TOTP (RFC 6238): SHA-1, 6 digits, 30-second steps, one step either side
TOTP_DIGITS = 6
TOTP_STEP_SECONDS = 30
TOTP_WINDOW = 1
TOTP_ISSUER = "Cooperativa - Portal en línea"

EMAIL_CODE_DIGITS = 6
EMAIL_CODE_MINUTES = 5
EMAIL_CODES_PER_WINDOW = 5
EMAIL_CODE_WINDOW_MINUTES = 15

CHALLENGE_MINUTES = 10
CHALLENGE_MAX_FAILURES = 5
USER_MAX_FAILURES = 10
USER_FAILURE_WINDOW_HOURS = 24

RECOVERY_CODES = 10
RECOVERY_CODE_LENGTH = 10
# [A-Z2-9] without the look-alikes 0/O, 1/I/L
RECOVERY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
RECOVERY_CODES_LOW = 2

DEVICE_DAYS = 30
DEVICE_TOKEN_BYTES = 24  # 192 bits
NEW_ADDRESS_DAYS = 30
RESTRICTED_HOURS = 48
ENROLLMENT_MINUTES = 10
NOT_ME_LINK_DAYS = 7
RECENT_LOGINS = 20

EMAIL_CODE = "email_code"
TOTP = "totp"
RECOVERY_CODE = "recovery_code"
METHODS = (EMAIL_CODE, TOTP, RECOVERY_CODE)


def methods_for(totp_enrolled: bool) -> list[str]:
    """The methods a challenge names: the app (or a recovery code) once enrolled, else e-mail."""
    return [TOTP, RECOVERY_CODE] if totp_enrolled else [EMAIL_CODE]


# TOTP ----------------------------------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_step(now: datetime) -> int:
    """The 30-second step of a naive-UTC instant."""
    epoch = (now - datetime(1970, 1, 1)).total_seconds()
    return int(epoch // TOTP_STEP_SECONDS)


def totp_code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS).at(
        step * TOTP_STEP_SECONDS
    )


def totp_accepted_step(
    secret: str, code: str | None, now: datetime, last_step: int | None
) -> int | None:
    """The step `code` belongs to (the current one or one either side) when that step is later
    than the last accepted one, else None: a code is good once, and never an earlier one."""
    text = (code or "").strip().replace(" ", "")
    if len(text) != TOTP_DIGITS or not text.isdigit():
        return None
    current = totp_step(now)
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp_code_at(secret, step), text):
            return step
    return None


def otpauth_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS).provisioning_uri(
        name=username, issuer_name=TOTP_ISSUER
    )


# E-mail and recovery codes -------------------------------------------------------------------


def new_email_code() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(EMAIL_CODE_DIGITS))


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
    return [
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        for _ in range(count)
    ]


def normalize_recovery_code(code: str | None) -> str:
    """What a member types: case and separators do not matter ('abcd-efgh-jk')."""
    return "".join(c for c in (code or "").upper() if c.isalnum())


def code_digest(key: bytes, purpose: str, code: str) -> str:
    """A keyed hash (HMAC-SHA256) of a short code: without the service's key a stolen table
    cannot be searched offline for the million e-mail codes."""
    return hmac.new(key, f"{purpose}|{code}".encode(), hashlib.sha256).hexdigest()


def digests_equal(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a, b)


def email_code_expiry(now: datetime) -> datetime:
    return now + timedelta(minutes=EMAIL_CODE_MINUTES)


def email_code_usable(
    expires_at: datetime, used_at: datetime | None, voided_at: datetime | None, now: datetime
) -> bool:
    return used_at is None and voided_at is None and now < expires_at


def email_code_retry_after(
    sent_times: Iterable[datetime],
    now: datetime,
    limit: int = EMAIL_CODES_PER_WINDOW,
    window_minutes: int = EMAIL_CODE_WINDOW_MINUTES,
) -> int | None:
    """Seconds until another code may be e-mailed (at most `limit` per member per window), or
    None when one may be sent now."""
    window = timedelta(minutes=window_minutes)
    recent = sorted(t for t in sent_times if now - window < t <= now)
    if len(recent) < limit:
        return None
    release = recent[len(recent) - limit] + window
    return max(1, math.ceil((release - now).total_seconds()))


# Challenges and failures ---------------------------------------------------------------------


def challenge_expiry(now: datetime) -> datetime:
    return now + timedelta(minutes=CHALLENGE_MINUTES)


def challenge_open(
    expires_at: datetime, used_at: datetime | None, ended_at: datetime | None, now: datetime
) -> bool:
    return used_at is None and ended_at is None and now < expires_at


@dataclass(frozen=True)
class WrongCode:
    attempts_left: int  # on this challenge
    challenge_ended: bool
    lock_factor: bool  # 10 wrong codes of the user within 24 h


def after_wrong_code(
    challenge_failures: int, user_failure_times: Iterable[datetime], now: datetime
) -> WrongCode:
    """One more wrong code: `challenge_failures` and `user_failure_times` already include it."""
    window = timedelta(hours=USER_FAILURE_WINDOW_HOURS)
    recent = sum(1 for t in user_failure_times if now - window < t <= now)
    left = max(0, CHALLENGE_MAX_FAILURES - challenge_failures)
    return WrongCode(left, left == 0, recent >= USER_MAX_FAILURES)


# Devices, addresses, restrictions ------------------------------------------------------------


def new_device_token() -> str:
    return secrets.token_urlsafe(DEVICE_TOKEN_BYTES)


def device_expiry(created_at: datetime) -> datetime:
    """30 days from its creation: replacing the token at each use does not extend it."""
    return created_at + timedelta(days=DEVICE_DAYS)


def device_usable(expires_at: datetime, forgotten_at: datetime | None, now: datetime) -> bool:
    return forgotten_at is None and now < expires_at


def address_is_new(
    address: str, successful_addresses: Iterable[tuple[str, datetime]], now: datetime
) -> bool:
    """No successful login of the user from this address within 30 days (none at all after
    registering counts as new)."""
    since = now - timedelta(days=NEW_ADDRESS_DAYS)
    return not any(seen == address and since < at <= now for seen, at in successful_addresses)


def restricted_until(changes: Iterable[datetime | None]) -> datetime | None:
    """Until when nothing may be sent to other members: 48 h after the latest change of factor
    or password changed with a recovery code."""
    latest = max((c for c in changes if c is not None), default=None)
    return latest + timedelta(hours=RESTRICTED_HOURS) if latest is not None else None


def device_label(user_agent: str | None) -> str:
    """'Chrome en Android', 'Safari en iOS', or 'Dispositivo desconocido'."""
    text = (user_agent or "").strip()[:512]
    if not text:
        return "Dispositivo desconocido"
    from ua_parser import parse  # a table-driven parser, loaded only when needed

    result = parse(text)
    browser = result.user_agent.family if result.user_agent else None
    system = result.os.family if result.os else None
    if browser in (None, "Other"):
        browser = None
    if system in (None, "Other"):
        system = None
    if browser and system:
        return f"{browser} en {system}"[:120]
    return (browser or system or "Dispositivo desconocido")[:120]
