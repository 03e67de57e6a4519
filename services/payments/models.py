"""Tables owned by the payments service: beneficiaries, limits, orders, the requests to the core."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import Cents
from services.common.events import outbox_table, processed_events_table
from services.common.inbound import refusals_table


class Base(DeclarativeBase):
    pass


class Beneficiary(Base):
    """Another member's account the member may transfer to, once confirmed (`activo`)."""

    __tablename__ = "beneficiaries"
    __table_args__ = (Index("ix_beneficiaries_member", "member_number", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    member_number: Mapped[str] = mapped_column(String(12))
    alias: Mapped[str] = mapped_column(String(40))
    account_number: Mapped[str] = mapped_column(String(16))
    holder_member_number: Mapped[str] = mapped_column(String(12))
    holder_name_masked: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(20))  # por_confirmar | activo | eliminado
    challenge_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class MemberLimits(Base):
    """The member's chosen limits (none: the cooperative's maximum)."""

    __tablename__ = "member_limits"

    member_number: Mapped[str] = mapped_column(String(12), primary_key=True)
    per_transfer: Mapped[Decimal] = mapped_column(Cents)
    daily_to_others: Mapped[Decimal] = mapped_column(Cents)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class DailyCounter(Base):
    """One row per member and Ecuador day of confirmation: locked while a confirmation re-checks
    the daily limit, so two confirmations of one member never both spend the same room."""

    __tablename__ = "daily_counters"

    member_number: Mapped[str] = mapped_column(String(12), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    confirmations: Mapped[int] = mapped_column(Integer, default=0)


class Order(Base):
    """A money-moving order (a transfer or a loan payment) and its request to the core
    (docs/payments.md)."""

    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_member_created", "member_number", "created_at"),
        Index("ix_orders_member_day", "member_number", "confirmed_day"),
        Index("ix_orders_status", "status"),
        Index("ix_orders_loan", "loan_number", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(36), unique=True)
    request_type: Mapped[str] = mapped_column(String(20))  # transfer | loan_payment
    member_number: Mapped[str] = mapped_column(String(12))
    kind: Mapped[str] = mapped_column(String(20))  # propia | socio | loan_payment
    from_account: Mapped[str] = mapped_column(String(16))
    to_account: Mapped[str] = mapped_column(String(16))
    to_member_number: Mapped[str] = mapped_column(String(12))
    beneficiary_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    amount: Mapped[Decimal] = mapped_column(Cents)
    description: Mapped[str] = mapped_column(String(60), default="")
    status: Mapped[str] = mapped_column(String(20))
    reason_code: Mapped[str | None] = mapped_column(String(30), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    digest: Mapped[str] = mapped_column(String(64))
    challenge_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    confirmed_with: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # evidence: who, from where (no code, no secret)
    client_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    confirmed_day: Mapped[date | None] = mapped_column(Date, nullable=True)  # Ecuador's
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    valid_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    request_payload: Mapped[str | None] = mapped_column(Text, nullable=True)  # as first sent
    late_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    answer_event_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    core_reference: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # a loan payment: the loan (also in to_account) and the quote the member saw and confirmed
    loan_number: Mapped[str | None] = mapped_column(String(16), nullable=True)
    installment_numbers: Mapped[str | None] = mapped_column(String(200), nullable=True)  # "5,6"
    quote_as_of: Mapped[date | None] = mapped_column(Date, nullable=True)
    installments_amount: Mapped[Decimal | None] = mapped_column(Cents, nullable=True)
    late_interest: Mapped[Decimal | None] = mapped_column(Cents, nullable=True)
    other_charges: Mapped[Decimal | None] = mapped_column(Cents, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # the order's evidence (JSON, docs/payments.md): where it was created and confirmed from and
    # what the member was shown and confirmed; no code, no secret
    evidence: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


outbox = outbox_table(Base.metadata)
processed_events = processed_events_table(Base.metadata)
inbound_refusals = refusals_table(Base.metadata)

# the requests to the core waiting to be published on `portal.requests` (an outbox of its own)
request_outbox = outbox_table(Base.metadata, "request_outbox")


class IdempotencyKey(Base):
    """An `Idempotency-Key` of an order-creating call, per member (docs/payments.md): the
    operation and body it was first used with, and the first answer, replayed for the same body.
    `answer` is null while the first call is still creating (a reservation)."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_expires", "expires_at"),)

    member_number: Mapped[str] = mapped_column(String(12), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    operation: Mapped[str] = mapped_column(String(30))  # transfer | beneficiary | loan_payment …
    fingerprint: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON of the first answer
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class BeneficiaryAttempts(Base):
    """The member's attempts to add a beneficiary on one Ecuador day (at most 5: each one
    checks an account number and a cédula against accounts, so they are counted, not free)."""

    __tablename__ = "beneficiary_attempts"

    member_number: Mapped[str] = mapped_column(String(12), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class LimitChange(Base):
    """A raise of the member's limits: `por_confirmar` with its second-factor challenge, in
    effect once `confirmada`; `anulada` when not confirmed in time."""

    __tablename__ = "limit_changes"
    __table_args__ = (Index("ix_limit_changes_member", "member_number", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    member_number: Mapped[str] = mapped_column(String(12))
    per_transfer: Mapped[Decimal] = mapped_column(Cents)
    daily_to_others: Mapped[Decimal] = mapped_column(Cents)
    status: Mapped[str] = mapped_column(String(20))  # por_confirmar | confirmada | anulada
    digest: Mapped[str] = mapped_column(String(64))
    challenge_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    confirmed_with: Mapped[str | None] = mapped_column(String(20), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
