"""Tables owned by the auth service: users, sessions, recovery codes, login locks, address failures.

No secret is stored in clear: passwords and recovery codes as Argon2id hashes, session tokens as
their SHA-256 (a 256-bit random token needs no slow hash). Instants are naive UTC.
"""

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.events import outbox_table, processed_events_table


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(30), unique=True)
    member_number: Mapped[str] = mapped_column(String(12), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(120))
    # None after a temporary code was used: the old password no longer works
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # the member's status in the cooperative (accounts.member_updated): 'inactivo' cannot log in
    status: Mapped[str] = mapped_column(String(20), default="activo", server_default="activo")
    # occurred_at of the last member_updated applied: an older event changes nothing
    member_synced_at: Mapped[datetime | None] = mapped_column(DateTime)
    # when the core last replaced the member's e-mail: no recovery code for 72 h after it
    email_changed_at: Mapped[datetime | None] = mapped_column(DateTime)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime)


class RecoveryCode(Base):
    """A temporary code: single use, valid 15 minutes, stored hashed."""

    __tablename__ = "recovery_codes"
    __table_args__ = (Index("ix_recovery_codes_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    code_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    # set when the password changed before the code was used: it can never be used then
    invalidated_at: Mapped[datetime | None] = mapped_column(DateTime)
    client_ip: Mapped[str | None] = mapped_column(String(64))


class UserSession(Base):
    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_user_revoked", "user_id", "revoked_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(30))
    opened_with_temporary_code: Mapped[bool] = mapped_column(Boolean, default=False)
    recovery_code_id: Mapped[int | None] = mapped_column(ForeignKey("recovery_codes.id"))
    client_ip: Mapped[str | None] = mapped_column(String(64))


class LoginLock(Base):
    """Consecutive failed logins of one user from one address, and that pair's lock.

    Counting per user *and* address keeps an attacker from locking a member out: the member's own
    address, which has not been failing, still gets in (docs/identity.md, "Lockout").
    """

    __tablename__ = "login_locks"
    __table_args__ = (UniqueConstraint("user_id", "address", name="uq_login_locks_user_address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    address: Mapped[str] = mapped_column(String(64))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)


class AddressFailure(Base):
    """One failed attempt (login, recovery or registration mismatch) from a client address."""

    __tablename__ = "address_failures"
    __table_args__ = (Index("ix_address_failures_address_at", "address", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    address: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(DateTime)


class LoginNameFailure(Base):
    """Consecutive failed logins of one *user name* from one address, whether or not a user of
    that name exists: after `AUTH_MAX_FAILURES` the answer warns that access may be blocked for a
    while, the same for every name, so the warning tells nothing about who exists."""

    __tablename__ = "login_name_failures"
    __table_args__ = (
        UniqueConstraint("username", "address", name="uq_login_name_failures_username_address"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(30))
    address: Mapped[str] = mapped_column(String(64))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    warn_until: Mapped[datetime | None] = mapped_column(DateTime)


class AccountThrottle(Base):
    """Failed logins of one user name from addresses it never logged in from, whichever address:
    guessing spread over many addresses, and the growing wait it earns (docs/identity.md,
    "Guessing from many addresses"). Keyed by the name typed, whether or not a user has it."""

    __tablename__ = "account_throttles"

    username: Mapped[str] = mapped_column(String(30), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTime)
    delay_seconds: Mapped[int] = mapped_column(Integer, default=0)
    wait_until: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    episode_started_at: Mapped[datetime | None] = mapped_column(DateTime)
    # episodes of this name since the row was created: their sum is the metrics' counter
    episodes: Mapped[int] = mapped_column(Integer, default=0)


# Second factor (docs/identity.md, "Second factor") --------------------------------------------


class SecondFactor(Base):
    """A user's second-factor state: the app (its secret encrypted with the auth key), the last
    accepted TOTP step (no replay), the lock, and the instant of the last change of factor or
    recovery (48 h without sending to other members)."""

    __tablename__ = "second_factors"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_enrolled_at: Mapped[datetime | None] = mapped_column(DateTime)
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    locked_at: Mapped[datetime | None] = mapped_column(DateTime)
    # 'failures' (10 wrong codes in 24 h) or 'not_me' (the member reported an alert)
    locked_reason: Mapped[str | None] = mapped_column(String(20))
    security_changed_at: Mapped[datetime | None] = mapped_column(DateTime)


class Challenge(Base):
    """One second-factor step: of a login (after the password) or of enrolling an app."""

    __tablename__ = "challenges"
    __table_args__ = (Index("ix_challenges_user", "user_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    purpose: Mapped[str] = mapped_column(String(20))  # 'login' | 'totp_enrollment' | 'order'
    methods: Mapped[str] = mapped_column(String(60))  # comma-separated
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    client_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    device_label: Mapped[str | None] = mapped_column(String(120))
    # an order's challenge (payments): the digest of its amount and accounts a code confirms,
    # and what its e-mail names (kind, amount, masked destination; never a balance)
    order_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    order_summary: Mapped[str | None] = mapped_column(Text, nullable=True)


class EmailCode(Base):
    """A 6-digit code e-mailed for one challenge (keyed hash only); also the resend counter."""

    __tablename__ = "email_codes"
    __table_args__ = (Index("ix_email_codes_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    challenge_id: Mapped[str] = mapped_column(ForeignKey("challenges.id"))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    voided_at: Mapped[datetime | None] = mapped_column(DateTime)


class SecondFactorFailure(Base):
    """One wrong code of a user (10 within 24 h lock the second factor)."""

    __tablename__ = "second_factor_failures"
    __table_args__ = (Index("ix_second_factor_failures_user_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime)


class BackupCode(Base):
    """One of the 10 recovery codes of an enrolled member (keyed hash; single use; login only)."""

    __tablename__ = "backup_codes"
    __table_args__ = (Index("ix_backup_codes_user", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    voided_at: Mapped[datetime | None] = mapped_column(DateTime)


class TotpEnrollment(Base):
    """An app being enrolled: active only after its first correct code (and one of the current
    method, through its challenge)."""

    __tablename__ = "totp_enrollments"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    secret: Mapped[str] = mapped_column(String(255))  # encrypted
    challenge_id: Mapped[str] = mapped_column(ForeignKey("challenges.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)


class Device(Base):
    """A remembered device: its token (SHA-256 only) is replaced at each use."""

    __tablename__ = "devices"
    __table_args__ = (Index("ix_devices_user", "user_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    last_used_at: Mapped[datetime] = mapped_column(DateTime)
    forgotten_at: Mapped[datetime | None] = mapped_column(DateTime)


class LoginRecord(Base):
    """A login attempt as the member sees it in "Seguridad" (and the addresses of 30 days)."""

    __tablename__ = "login_records"
    __table_args__ = (Index("ix_login_records_user_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime)
    address: Mapped[str] = mapped_column(String(64))
    device_label: Mapped[str] = mapped_column(String(120))
    outcome: Mapped[str] = mapped_column(String(30))


class NotMeLink(Base):
    """The one-time "No fui yo" link of an alert event (token made when notifications asks)."""

    __tablename__ = "not_me_links"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    event_type: Mapped[str] = mapped_column(String(40))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)


outbox = outbox_table(Base.metadata)
processed_events = processed_events_table(Base.metadata)
