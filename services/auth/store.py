"""Queries of the auth service (the persistence adapter between service.py and the tables)."""

from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from services.auth import domain
from services.auth.models import (
    AccountThrottle,
    AddressFailure,
    LoginLock,
    LoginNameFailure,
    RecoveryCode,
    User,
    UserSession,
)


def user_by_username(session, username):
    return session.scalars(select(User).where(User.username == username)).first()


def user_by_member(session, member_number):
    return session.scalars(select(User).where(User.member_number == member_number)).first()


def session_by_token(session, token):
    return session.scalars(
        select(UserSession).where(UserSession.token_hash == domain.token_hash(token))
    ).first()


def open_session(session, user, token, now, absolute_hours, client_ip, recovery_code=None):
    record = UserSession(
        id=domain.new_session_id(),
        user_id=user.id,
        token_hash=domain.token_hash(token),
        created_at=now,
        last_seen_at=now,
        expires_at=domain.session_expiry(now, absolute_hours),
        opened_with_temporary_code=recovery_code is not None,
        recovery_code_id=recovery_code.id if recovery_code is not None else None,
        client_ip=client_ip,
    )
    session.add(record)
    session.flush()
    return record


def previous_login(session, record):
    """When the user's login before this session's was (None for the first)."""
    return session.scalars(
        select(UserSession.created_at)
        .where(
            UserSession.user_id == record.user_id,
            UserSession.id != record.id,
            UserSession.created_at <= record.created_at,
        )
        .order_by(UserSession.created_at.desc())
        .limit(1)
    ).first()


def active_sessions(session, user_id, except_id=None):
    query = select(UserSession).where(
        UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
    )
    if except_id is not None:
        query = query.where(UserSession.id != except_id)
    return session.scalars(query).all()


def revoke(record, now, reason):
    record.revoked_at = now
    record.revoked_reason = reason


def usable_codes(session, user_id, now):
    return session.scalars(
        select(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.used_at.is_(None),
            RecoveryCode.invalidated_at.is_(None),
            RecoveryCode.expires_at > now,
        )
        .order_by(RecoveryCode.created_at.desc())
    ).all()


def recent_code_times(session, user_id, now):
    return session.scalars(
        select(RecoveryCode.created_at).where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.created_at > now - timedelta(hours=1),
        )
    ).all()


def invalidate_codes(session, user_id, now):
    session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.used_at.is_(None),
            RecoveryCode.invalidated_at.is_(None),
        )
        .values(invalidated_at=now)
    )


def login_lock(session, user_id, address):
    """The failures of this user from this address (None when there were none)."""
    return session.scalars(
        select(LoginLock).where(LoginLock.user_id == user_id, LoginLock.address == address)
    ).first()


def count_login_failure(session, user, address, lock):
    """The user+address row to count one more failure on (created at the first one)."""
    if lock is None:
        lock = LoginLock(user_id=user.id, address=address, failed_attempts=0)
        session.add(lock)
    return lock


def clear_login_lock(session, user_id, address):
    """A success from an address forgets its failures; the other addresses keep theirs."""
    session.execute(
        delete(LoginLock).where(LoginLock.user_id == user_id, LoginLock.address == address)
    )


def clear_login_locks(session, user_id):
    """A new password (or a recovery code) ends every lock of the user."""
    session.execute(delete(LoginLock).where(LoginLock.user_id == user_id))


def address_failure_times(session, address, now, window_minutes):
    return session.scalars(
        select(AddressFailure.at).where(
            AddressFailure.address == address,
            AddressFailure.at > now - timedelta(minutes=window_minutes),
        )
    ).all()


def record_address_failure(session, address, kind, now, window_minutes):
    session.add(AddressFailure(address=address, kind=kind, at=now))
    # rows older than the window are of no further use
    session.execute(
        delete(AddressFailure).where(
            AddressFailure.address == address,
            AddressFailure.at <= now - timedelta(minutes=window_minutes),
        )
    )


# Failures of a user name (docs/identity.md, "Guessing from many addresses") ---------------


def _locked_or_created(session, query, make):
    """The row of `query`, locked for this transaction, else a new one from `make()`. Two
    first failures at once (a guesser's parallel requests) both end up on the same row: the
    loser of the insert reads the winner's."""
    row = session.scalars(query.with_for_update()).first()
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = make()
            session.add(row)
            session.flush()
    except IntegrityError:
        row = session.scalars(query.with_for_update()).one()
    return row


def name_failure(session, username, address):
    """The row counting failures of this user name from this address (created at the first)."""
    query = select(LoginNameFailure).where(
        LoginNameFailure.username == username, LoginNameFailure.address == address
    )
    return _locked_or_created(
        session,
        query,
        lambda: LoginNameFailure(username=username, address=address, failed_attempts=0),
    )


def clear_name_failures(session, username, address):
    session.execute(
        delete(LoginNameFailure).where(
            LoginNameFailure.username == username, LoginNameFailure.address == address
        )
    )


def account_throttle(session, username):
    return session.get(AccountThrottle, username)


def account_throttle_to_count(session, username):
    """The user name's row, locked to count one more failure (created at the first)."""
    query = select(AccountThrottle).where(AccountThrottle.username == username)
    return _locked_or_created(
        session,
        query,
        lambda: AccountThrottle(username=username, failures=0, delay_seconds=0, episodes=0),
    )


def address_known(session, user_id, address, since):
    """True when the user opened a session from this address since `since`."""
    return (
        session.scalars(
            select(UserSession.id).where(
                UserSession.user_id == user_id,
                UserSession.client_ip == address,
                UserSession.created_at >= since,
            )
        ).first()
        is not None
    )


def guessing_figures(session, now):
    """(episodes ever started, user names waiting now) for the metrics."""
    episodes = session.scalar(select(func.coalesce(func.sum(AccountThrottle.episodes), 0)))
    waiting = session.scalar(
        select(func.count()).select_from(AccountThrottle).where(AccountThrottle.wait_until > now)
    )
    return int(episodes or 0), int(waiting or 0)
