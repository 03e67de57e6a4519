"""Tables owned by the credit service: products and rate caps (configuration), loans with their
stored schedules, guarantors, and loan applications."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.common.db import Cents
from services.common.events import outbox_table, processed_events_table
from services.common.inbound import held_events_table, refusals_table


class DecimalText(TypeDecorator):
    """A rate (percent, 4+ decimals) kept exactly as text in every database."""

    impl = String(20)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else str(Decimal(value))

    def process_result_value(self, value, dialect):
        return None if value is None else Decimal(value)


class Base(DeclarativeBase):
    pass


class RateCapRow(Base):
    """The regulator's maximum effective annual rate of a segment, from a date on."""

    __tablename__ = "rate_caps"
    __table_args__ = (UniqueConstraint("segment", "valid_from", name="uq_rate_caps_segment_from"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    segment: Mapped[str] = mapped_column(String(60))
    max_effective_rate: Mapped[Decimal] = mapped_column(DecimalText)
    valid_from: Mapped[date] = mapped_column(Date)
    source: Mapped[str | None] = mapped_column(String(200))


class ProductRow(Base):
    __tablename__ = "products"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    segment: Mapped[str] = mapped_column(String(60))
    annual_rate: Mapped[Decimal] = mapped_column(DecimalText)
    min_amount: Mapped[Decimal] = mapped_column(Cents)
    max_amount: Mapped[Decimal] = mapped_column(Cents)
    max_term_months: Mapped[int] = mapped_column(Integer)
    systems: Mapped[str] = mapped_column(String(40))  # comma-separated
    frequencies: Mapped[str] = mapped_column(String(80))  # comma-separated
    insurance_rate: Mapped[Decimal] = mapped_column(DecimalText)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)


class Loan(Base):
    __tablename__ = "loans"

    loan_number: Mapped[str] = mapped_column(String(20), primary_key=True)
    member_number: Mapped[str] = mapped_column(String(12), index=True)
    borrower_name: Mapped[str] = mapped_column(String(160))
    borrower_identification: Mapped[str] = mapped_column(String(13))
    product_code: Mapped[str] = mapped_column(String(20))
    product_name: Mapped[str] = mapped_column(String(80))
    amount: Mapped[Decimal] = mapped_column(Cents)
    annual_rate: Mapped[Decimal] = mapped_column(DecimalText)
    insurance_rate: Mapped[Decimal] = mapped_column(DecimalText)
    term_months: Mapped[int] = mapped_column(Integer)
    system: Mapped[str] = mapped_column(String(10))
    frequency: Mapped[str] = mapped_column(String(12))
    disbursed_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12))  # activo | cancelado
    closed_on: Mapped[date | None] = mapped_column(Date)
    # the last `loan_sequence` of the core applied to this loan (installment_paid, loan_settled)
    last_sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # the portal application this loan answers, when the core named one
    application_number: Mapped[str | None] = mapped_column(String(20))

    installments: Mapped[list["Installment"]] = relationship(
        order_by="Installment.number", lazy="selectin"
    )
    # the core's latest arrears snapshot (loan_due_updated), if any
    due: Mapped["LoanDue | None"] = relationship(lazy="selectin", uselist=False)


class LoanDue(Base):
    """The core's latest `loan_due_updated` of a loan in arrears (docs/integration.md): a
    snapshot, replaced by a later `as_of`, never by an older one."""

    __tablename__ = "loan_dues"

    loan_number: Mapped[str] = mapped_column(
        String(20), ForeignKey("loans.loan_number"), primary_key=True
    )
    as_of: Mapped[date] = mapped_column(Date)  # the core's business date of the figures
    days_overdue: Mapped[int] = mapped_column(Integer)
    overdue_installments: Mapped[str] = mapped_column(String(400))  # "5,6": numbers, oldest first
    # the due date of the oldest of them in the stored table (None out of arrears)
    oldest_overdue_due_date: Mapped[date | None] = mapped_column(Date)
    overdue_principal: Mapped[Decimal] = mapped_column(Cents)
    overdue_interest: Mapped[Decimal] = mapped_column(Cents)
    late_interest: Mapped[Decimal] = mapped_column(Cents)
    other_charges: Mapped[Decimal] = mapped_column(Cents)
    total_due: Mapped[Decimal] = mapped_column(Cents)


class Installment(Base):
    """One row of a loan's stored amortization table."""

    __tablename__ = "installments"
    __table_args__ = (
        UniqueConstraint("loan_number", "number", name="uq_installments_loan_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    loan_number: Mapped[str] = mapped_column(ForeignKey("loans.loan_number"))
    number: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date] = mapped_column(Date)
    principal: Mapped[Decimal] = mapped_column(Cents)
    interest: Mapped[Decimal] = mapped_column(Cents)
    insurance: Mapped[Decimal] = mapped_column(Cents)
    installment: Mapped[Decimal] = mapped_column(Cents)
    balance: Mapped[Decimal] = mapped_column(Cents)
    paid_on: Mapped[date | None] = mapped_column(Date)


class LoanPayment(Base):
    """A payment of an installment applied from the core (`installment_paid`), as sent.

    `reference` is unique in the core: a second event with the same reference changes nothing.
    """

    __tablename__ = "loan_payments"
    __table_args__ = (UniqueConstraint("reference", name="uq_loan_payments_reference"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    loan_number: Mapped[str] = mapped_column(ForeignKey("loans.loan_number"), index=True)
    loan_sequence: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    paid_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(60))
    principal: Mapped[Decimal] = mapped_column(Cents)
    interest: Mapped[Decimal] = mapped_column(Cents)
    insurance: Mapped[Decimal] = mapped_column(Cents)
    late_interest: Mapped[Decimal] = mapped_column(Cents)
    event_id: Mapped[str | None] = mapped_column(String(36))


class Guarantor(Base):
    """A guarantor of a loan; `member_number` is set when the guarantor is a member."""

    __tablename__ = "guarantors"
    __table_args__ = (
        Index("ix_guarantors_member_number", "member_number"),
        Index("ix_guarantors_loan_number", "loan_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    loan_number: Mapped[str] = mapped_column(ForeignKey("loans.loan_number"))
    identification: Mapped[str] = mapped_column(String(13))
    name: Mapped[str] = mapped_column(String(160))
    member_number: Mapped[str | None] = mapped_column(String(12))
    since: Mapped[date] = mapped_column(Date)
    until: Mapped[date | None] = mapped_column(Date)


class Application(Base):
    """A loan application filed from the portal (`ingresada` until a credit officer acts)."""

    __tablename__ = "applications"
    __table_args__ = (
        UniqueConstraint("member_number", "idempotency_key", name="uq_applications_idempotency"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_number: Mapped[str | None] = mapped_column(String(20), unique=True)
    member_number: Mapped[str] = mapped_column(String(12), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    product_code: Mapped[str] = mapped_column(String(20))
    product_name: Mapped[str] = mapped_column(String(80))
    amount: Mapped[Decimal] = mapped_column(Cents)
    annual_rate: Mapped[Decimal] = mapped_column(DecimalText)
    insurance_rate: Mapped[Decimal] = mapped_column(DecimalText)
    term_months: Mapped[int] = mapped_column(Integer)
    system: Mapped[str] = mapped_column(String(10))
    frequency: Mapped[str] = mapped_column(String(12))
    start_date: Mapped[date] = mapped_column(Date)
    purpose: Mapped[str] = mapped_column(Text)
    monthly_income: Mapped[Decimal] = mapped_column(Cents)
    monthly_expenses: Mapped[Decimal] = mapped_column(Cents)
    installment: Mapped[Decimal] = mapped_column(Cents)
    status: Mapped[str] = mapped_column(String(20))
    submitted_at: Mapped[datetime] = mapped_column(DateTime)
    # the credit desk's words for the member about the last decision (or None)
    status_reason: Mapped[str | None] = mapped_column(Text)
    # the loan the core disbursed for this application (`desembolsada`)
    loan_number: Mapped[str | None] = mapped_column(String(20))

    guarantors: Mapped[list["ApplicationGuarantor"]] = relationship(
        order_by="ApplicationGuarantor.position", lazy="selectin"
    )
    changes: Mapped[list["ApplicationStatusChange"]] = relationship(
        order_by="ApplicationStatusChange.id", lazy="selectin"
    )


class ApplicationStatusChange(Base):
    """One step of an application's lifecycle after `ingresada`, with the instant it happened
    (the core's `changed_at`, or the disbursement)."""

    __tablename__ = "application_status_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime)
    event_id: Mapped[str | None] = mapped_column(String(36))


class ApplicationGuarantor(Base):
    __tablename__ = "application_guarantors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    identification: Mapped[str] = mapped_column(String(13))
    name: Mapped[str] = mapped_column(String(160))


outbox = outbox_table(Base.metadata)
processed_events = processed_events_table(Base.metadata)
held_events = held_events_table(Base.metadata)
inbound_refusals = refusals_table(Base.metadata)
