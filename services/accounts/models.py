"""Tables owned by the accounts service: member records, savings accounts, movements."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import Cents
from services.common.events import outbox_table, processed_events_table
from services.common.inbound import held_events_table, refusals_table


class Base(DeclarativeBase):
    pass


class Member(Base):
    """Ficha del socio."""

    __tablename__ = "members"

    member_number: Mapped[str] = mapped_column(String(12), primary_key=True)
    identification: Mapped[str] = mapped_column(String(13), unique=True)
    given_names: Mapped[str] = mapped_column(String(80))
    surnames: Mapped[str] = mapped_column(String(80))
    email: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(20))
    joined_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="activo")


class SavingsAccount(Base):
    __tablename__ = "savings_accounts"

    account_number: Mapped[str] = mapped_column(String(16), primary_key=True)
    member_number: Mapped[str] = mapped_column(ForeignKey("members.member_number"), index=True)
    product: Mapped[str] = mapped_column(String(30))
    product_name: Mapped[str] = mapped_column(String(80))
    balance: Mapped[Decimal] = mapped_column(Cents)
    available_balance: Mapped[Decimal] = mapped_column(Cents)
    status: Mapped[str] = mapped_column(String(12), default="activa")
    opened_on: Mapped[date] = mapped_column(Date)
    # set by the core's account_closed: the account leaves the position, its statements stay
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    # sequence of the last movement posted (the core's `sequence`): the next one must be +1
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class Movement(Base):
    __tablename__ = "movements"
    __table_args__ = (
        # a statement reads one account's range in order: this index makes it a range scan,
        # so its cost follows the range asked for, not the account's whole history
        Index("ix_movements_account_date_seq", "account_number", "date", "seq", unique=True),
        # post_movement is idempotent by (account, reference): a retried posting is found here
        Index("ix_movements_account_reference", "account_number", "reference"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_number: Mapped[str] = mapped_column(ForeignKey("savings_accounts.account_number"))
    seq: Mapped[int] = mapped_column(Integer)
    date: Mapped[date] = mapped_column(Date)
    posted_at: Mapped[datetime] = mapped_column(DateTime)
    description: Mapped[str] = mapped_column(String(120))
    reference: Mapped[str | None] = mapped_column(String(40))
    debit: Mapped[Decimal] = mapped_column(Cents, default=Decimal("0.00"))
    credit: Mapped[Decimal] = mapped_column(Cents, default=Decimal("0.00"))
    balance: Mapped[Decimal] = mapped_column(Cents)


class Hold(Base):
    """An amount reserved on an account for a confirmed order (docs/payments.md): the account's
    available balance is its balance minus its open holds. Ends once: on the core's movement
    carrying the request_id, or on release (a rejection, an operator's resolution)."""

    __tablename__ = "holds"
    __table_args__ = (Index("ix_holds_account_open", "account_number", "ended_at"),)

    request_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_number: Mapped[str] = mapped_column(ForeignKey("savings_accounts.account_number"))
    member_number: Mapped[str] = mapped_column(String(12))
    amount: Mapped[Decimal] = mapped_column(Cents)
    taken_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # movement (the core posted it) | a release's reason (rechazada, resuelta, ...)
    end_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)


class ReconciliationDay(Base):
    """One business day the core closed (`day_closed`), complete when every chunk arrived."""

    __tablename__ = "reconciliation_days"

    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    chunks: Mapped[int] = mapped_column(Integer)
    received: Mapped[int] = mapped_column(Integer, default=0)
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    differences: Mapped[int] = mapped_column(Integer, default=0)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class ReconciliationChunk(Base):
    """A chunk already compared: the same chunk again changes nothing."""

    __tablename__ = "reconciliation_chunks"

    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    chunk: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    # the core's `accounts` of the chunk as sent (JSON): an operator's redo compares them again
    accounts: Mapped[str | None] = mapped_column(Text, nullable=True)


class ReconciliationDifference(Base):
    """A difference between the portal's copy and the core's figures at the end of a day."""

    __tablename__ = "reconciliation_differences"
    __table_args__ = (
        Index("ix_reconciliation_differences_date", "business_date", "account_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    business_date: Mapped[date] = mapped_column(Date)
    account_number: Mapped[str] = mapped_column(String(16))
    # balance | sequence_behind | sequence_ahead | unknown_account
    kind: Mapped[str] = mapped_column(String(20))
    portal_value: Mapped[str | None] = mapped_column(String(40), nullable=True)
    core_value: Mapped[str | None] = mapped_column(String(40), nullable=True)


outbox = outbox_table(Base.metadata)
processed_events = processed_events_table(Base.metadata)
held_events = held_events_table(Base.metadata)
inbound_refusals = refusals_table(Base.metadata)
