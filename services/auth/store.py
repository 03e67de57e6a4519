"""Queries of the auth service (the persistence adapter between service.py and the tables)."""

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

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

RowT = TypeVar("RowT")


def user_by_username(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username)).first()


def user_by_member(session: Session, member_number: str) -> User | None:
    return session.scalars(select(User).where(User.member_number == member_number)).first()


def session_by_token(session: Session, token: str) -> UserSession | None:
    return session.scalars(
        select(UserSession).where(UserSession.token_hash == domain.token_hash(token))
    ).first()


def open_session(
    session: Session,
    user: User,
    token: str,
    now: datetime,
    absolute_hours: float,
    client_ip: str | None,
    recovery_code: RecoveryCode | None = None,
) -> UserSession:
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


def previous_login(session: Session, record: UserSession) -> datetime | None:
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


def active_sessions(
    session: Session, user_id: int, except_id: str | None = None
) -> Sequence[UserSession]:
    query = select(UserSession).where(
        UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
    )
    if except_id is not None:
        query = query.where(UserSession.id != except_id)
    return session.scalars(query).all()


def revoke(record: UserSession, now: datetime, reason: str) -> None:
    record.revoked_at = now
    record.revoked_reason = reason


def usable_codes(session: Session, user_id: int, now: datetime) -> Sequence[RecoveryCode]:
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


def recent_code_times(session: Session, user_id: int, now: datetime) -> Sequence[datetime]:
    return session.scalars(
        select(RecoveryCode.created_at).where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.created_at > now - timedelta(hours=1),
        )
    ).all()


def invalidate_codes(session: Session, user_id: int, now: datetime) -> None:
    session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.used_at.is_(None),
            RecoveryCode.invalidated_at.is_(None),
        )
        .values(invalidated_at=now)
    )


def login_lock(session: Session, user_id: int, address: str) -> LoginLock | None:
    """The failures of this user from this address (None when there were none)."""
    return session.scalars(
        select(LoginLock).where(LoginLock.user_id == user_id, LoginLock.address == address)
    ).first()


def count_login_failure(
    session: Session, user: User, address: str, lock: LoginLock | None
) -> LoginLock:
    """The user+address row to count one more failure on (created at the first one)."""
    if lock is None:
        lock = LoginLock(user_id=user.id, address=address, failed_attempts=0)
        session.add(lock)
    return lock


def clear_login_lock(session: Session, user_id: int, address: str) -> None:
    """A success from an address forgets its failures; the other addresses keep theirs."""
    session.execute(
        delete(LoginLock).where(LoginLock.user_id == user_id, LoginLock.address == address)
    )


def clear_login_locks(session: Session, user_id: int) -> None:
    """A new password (or a recovery code) ends every lock of the user."""
    session.execute(delete(LoginLock).where(LoginLock.user_id == user_id))


def address_failure_times(
    session: Session, address: str, now: datetime, window_minutes: float
) -> Sequence[datetime]:
    return session.scalars(
        select(AddressFailure.at).where(
            AddressFailure.address == address,
            AddressFailure.at > now - timedelta(minutes=window_minutes),
        )
    ).all()


def record_address_failure(
    session: Session, address: str, kind: str, now: datetime, window_minutes: float
) -> None:
    session.add(AddressFailure(address=address, kind=kind, at=now))
    # rows older than the window are of no further use
    session.execute(
        delete(AddressFailure).where(
            AddressFailure.address == address,
            AddressFailure.at <= now - timedelta(minutes=window_minutes),
        )
    )


# Failures of a user name (docs/identity.md, "Guessing from many addresses") ---------------


def _locked_or_created(session: Session, query: Select[RowT], make: Callable[[], RowT]) -> RowT:
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


def name_failure(session: Session, username: str, address: str) -> LoginNameFailure:
    """The row counting failures of this user name from this address (created at the first)."""
    query = select(LoginNameFailure).where(
        LoginNameFailure.username == username, LoginNameFailure.address == address
    )
    return _locked_or_created(
        session,
        query,
        lambda: LoginNameFailure(username=username, address=address, failed_attempts=0),
    )


def clear_name_failures(session: Session, username: str, address: str) -> None:
    session.execute(
        delete(LoginNameFailure).where(
            LoginNameFailure.username == username, LoginNameFailure.address == address
        )
    )


def account_throttle(session: Session, username: str) -> AccountThrottle | None:
    return session.get(AccountThrottle, username)


def account_throttle_to_count(session: Session, username: str) -> AccountThrottle:
    """The user name's row, locked to count one more failure (created at the first)."""
    query = select(AccountThrottle).where(AccountThrottle.username == username)
    return _locked_or_created(
        session,
        query,
        lambda: AccountThrottle(username=username, failures=0, delay_seconds=0, episodes=0),
    )


def address_known(session: Session, user_id: int, address: str, since: datetime) -> bool:
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


def guessing_figures(session: Session, now: datetime) -> tuple[int, int]:
    """(episodes ever started, user names waiting now) for the metrics."""
    episodes = session.scalar(select(func.coalesce(func.sum(AccountThrottle.episodes), 0)))
    waiting = session.scalar(
        select(func.count()).select_from(AccountThrottle).where(AccountThrottle.wait_until > now)
    )
    return int(episodes or 0), int(waiting or 0)
