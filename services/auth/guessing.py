"""Guessing a password (docs/identity.md, "After repeated failures" and "Guessing from many
addresses"): the warning after repeated failures of one user name from one address, and the
growing wait of a user name guessed from many addresses.

Kept apart from the login use case, which calls it in three places only: before the password
check (`account_wait`), where a failure is counted (`count_failure`) and at a success
(`succeeded`).
"""

import logging
from datetime import timedelta

from services.auth import domain, store
from services.auth.contracts import AccountThrottledSchema
from services.common.events import iso_utc

log = logging.getLogger("services.auth")

# the same for every user name, existing or not: it warns, it does not say that a lock is set
MAY_BE_LOCKED = (
    "Usuario o contraseña incorrectos. Después de varios intentos fallidos, el ingreso desde "
    "este dispositivo puede quedar bloqueado durante {minutes} minutos, aunque escriba la "
    "contraseña correcta. Si no la recuerda, use “¿Olvidó su contraseña?”: con el código "
    "temporal podrá ingresar y elegir una nueva."
)


def may_be_locked_message(minutes):
    return MAY_BE_LOCKED.format(minutes=f"{minutes:g}")


def _number(uc, name, default):
    return uc.settings.number(name, default)


def _known(uc, user, address, now):
    """An address the user opened a session from in the last 30 days: the member's own."""
    if user is None:
        return False
    days = _number(uc, "AUTH_KNOWN_ADDRESS_DAYS", domain.KNOWN_ADDRESS_DAYS)
    return store.address_known(uc.db, user.id, address, now - timedelta(days=days))


def account_wait(uc, name, user, address, now):
    """Seconds this attempt must wait because the user name is being guessed from many
    addresses, or None. An address the member logged in from recently never waits: the wait
    slows the guessing down and cannot keep the member out."""
    row = store.account_throttle(uc.db, name)
    if row is None:
        return None
    retry = domain.account_wait(row.wait_until, now)
    if retry and _known(uc, user, address, now):
        return None
    return retry


def count_failure(uc, name, user, address, now):
    """Count one failed login of the user name from the address (right where the login use
    case counts its failures); the message of the answer when it is not the plain one."""
    _count_for_account(uc, name, user, address, now)
    return _count_for_name_and_address(uc, name, address, now)


def succeeded(uc, name, address):
    """A success from an address forgets that address's failures of the user name."""
    store.clear_name_failures(uc.db, name, address)


def _count_for_name_and_address(uc, name, address, now):
    lock_minutes = uc.settings.lock_minutes
    row = store.name_failure(uc.db, name, address)
    if domain.is_locked(row.warn_until, now):
        return may_be_locked_message(lock_minutes)
    outcome = domain.after_failure(row.failed_attempts, now, uc.settings.max_failures, lock_minutes)
    row.failed_attempts = outcome.failed_attempts
    if outcome.locked_now:
        row.warn_until = outcome.locked_until
        return may_be_locked_message(lock_minutes)
    return None


def _count_for_account(uc, name, user, address, now):
    if _known(uc, user, address, now):
        return  # the member's own mistakes are the per-address lock's business
    row = store.account_throttle_to_count(uc.db, name)
    state = domain.AccountGuessing(
        failures=row.failures or 0,
        window_started_at=row.window_started_at,
        last_failure_at=row.last_failure_at,
        delay_seconds=row.delay_seconds or 0,
        wait_until=row.wait_until,
        episode_started_at=row.episode_started_at,
    )
    state, started = domain.account_after_failure(
        state,
        now,
        int(_number(uc, "AUTH_ACCOUNT_FAILURE_LIMIT", domain.ACCOUNT_FAILURE_LIMIT)),
        _number(uc, "AUTH_ACCOUNT_WINDOW_HOURS", domain.ACCOUNT_WINDOW_HOURS),
        int(_number(uc, "AUTH_ACCOUNT_FIRST_DELAY_SECONDS", domain.ACCOUNT_FIRST_DELAY_SECONDS)),
        int(_number(uc, "AUTH_ACCOUNT_MAX_DELAY_SECONDS", domain.ACCOUNT_MAX_DELAY_SECONDS)),
    )
    row.failures = state.failures
    row.window_started_at = state.window_started_at
    row.last_failure_at = state.last_failure_at
    row.delay_seconds = state.delay_seconds
    row.wait_until = state.wait_until
    row.episode_started_at = state.episode_started_at
    if not started:
        return
    row.episodes = (row.episodes or 0) + 1
    log.warning("guessing of user name %s from many addresses: logins wait", name)
    if user is None:
        return  # nobody to tell; the figures still count it
    # a started episode has both instants (domain.account_after_failure)
    assert state.window_started_at is not None and state.wait_until is not None
    uc.events.emit(
        "account_throttled",
        AccountThrottledSchema().dump(
            {
                "username": user.username,
                "member_number": user.member_number,
                "display_name": user.display_name,
                "email": user.email,
                "failures": state.failures,
                "first_failure_at": iso_utc(state.window_started_at),
                "wait_until": iso_utc(state.wait_until),
                "client_ip": address,
            }
        ),
    )


def figures(uc, now):
    """{episodes, throttled} for the metrics (docs/operations.md)."""
    episodes, throttled = store.guessing_figures(uc.db, now)
    return {"episodes": episodes, "throttled": throttled}
