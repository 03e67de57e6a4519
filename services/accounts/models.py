"""Tables owned by the accounts service: member records, savings accounts, movements."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import Cents
from services.common.events import outbox_table, processed_events_table


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
    # sequence of the last movement posted, so a new one gets the next number
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


outbox = outbox_table(Base.metadata)
processed_events = processed_events_table(Base.metadata)
