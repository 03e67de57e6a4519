"""Tables owned by the deposit service: the dated rate chart and the term deposits."""

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Integer, String, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.common.db import Cents
from services.common.events import outbox_table, processed_events_table
from services.common.inbound import held_events_table, refusals_table

RATE_SCALE = 10000
RATE_PLACES = Decimal("0.0001")


class RatePercent(TypeDecorator):
    """A percent rate with four decimals (7.4300 %), stored exactly as an integer (74300)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return int((Decimal(value) * RATE_SCALE).to_integral_value(rounding=ROUND_HALF_UP))

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return (Decimal(int(value)) / RATE_SCALE).quantize(RATE_PLACES)


class Base(DeclarativeBase):
    pass


class RateChart(Base):
    """One version of the rate chart: in force from `valid_from` until a later version starts."""

    __tablename__ = "rate_charts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    valid_from: Mapped[date] = mapped_column(Date, index=True)
    withholding_rate: Mapped[Decimal] = mapped_column(RatePercent)
    min_amount: Mapped[Decimal] = mapped_column(Cents)
    min_term_days: Mapped[int] = mapped_column(Integer)
    max_term_days: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    bands: Mapped[list["RateBand"]] = relationship(
        back_populates="chart", order_by="RateBand.min_days, RateBand.min_amount"
    )


class RateBand(Base):
    __tablename__ = "rate_bands"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chart_id: Mapped[int] = mapped_column(ForeignKey("rate_charts.id"), index=True)
    min_days: Mapped[int] = mapped_column(Integer)
    max_days: Mapped[int | None] = mapped_column(Integer)
    min_amount: Mapped[Decimal] = mapped_column(Cents)
    max_amount: Mapped[Decimal | None] = mapped_column(Cents)
    annual_rate: Mapped[Decimal] = mapped_column(RatePercent)
    chart: Mapped[RateChart] = relationship(back_populates="bands")


class TermDeposit(Base):
    """A member's term deposit, with the rate and withholding it was opened at."""

    __tablename__ = "term_deposits"

    deposit_number: Mapped[str] = mapped_column(String(20), primary_key=True)
    member_number: Mapped[str] = mapped_column(String(12), index=True)
    amount: Mapped[Decimal] = mapped_column(Cents)
    term_days: Mapped[int] = mapped_column(Integer)
    annual_rate: Mapped[Decimal] = mapped_column(RatePercent)
    withholding_rate: Mapped[Decimal] = mapped_column(RatePercent)
    interest_payment: Mapped[str] = mapped_column(String(10))
    opened_on: Mapped[date] = mapped_column(Date)
    maturity_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="activo")  # activo | cerrado
    # set by the core's `deposit_closed`: vencimiento | renovacion | precancelacion
    closed_on: Mapped[date | None] = mapped_column(Date)
    close_reason: Mapped[str | None] = mapped_column(String(20))
    renewed_as: Mapped[str | None] = mapped_column(String(20))
    # the chart version the rate was taken from (for the record; the rate itself is stored above)
    rate_chart_id: Mapped[int | None] = mapped_column(ForeignKey("rate_charts.id"))


outbox = outbox_table(Base.metadata)
processed_events = processed_events_table(Base.metadata)
held_events = held_events_table(Base.metadata)
inbound_refusals = refusals_table(Base.metadata)
