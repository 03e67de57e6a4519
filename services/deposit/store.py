"""Queries of the deposit service (the persistence adapter between the use cases and the tables)."""

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Date, Row, Select, bindparam, select
from sqlalchemy.orm import Session, selectinload

from services.common.clock import CLOCK
from services.deposit import domain
from services.deposit.models import RateBand, RateChart, TermDeposit

ACTIVE = "activo"


def to_domain_chart(row: RateChart) -> domain.RateChart:
    return domain.RateChart(
        valid_from=row.valid_from,
        bands=tuple(
            domain.RateBand(
                min_days=b.min_days,
                max_days=b.max_days,
                annual_rate=b.annual_rate,
                min_amount=b.min_amount,
                max_amount=b.max_amount,
            )
            for b in row.bands
        ),
        withholding_rate=row.withholding_rate,
        min_amount=row.min_amount,
        min_term_days=row.min_term_days,
        max_term_days=row.max_term_days,
        chart_id=row.id,
    )


def chart_in_force(session: Session, as_of: date) -> domain.RateChart | None:
    """The chart version in force on `as_of` (latest valid_from ≤ as_of; the later one on a tie)."""
    row = session.scalars(
        select(RateChart)
        .options(selectinload(RateChart.bands))
        .where(RateChart.valid_from <= as_of)
        .order_by(RateChart.valid_from.desc(), RateChart.id.desc())
        .limit(1)
    ).first()
    return to_domain_chart(row) if row is not None else None


def add_chart(session: Session, chart: domain.RateChart) -> int:
    """Store a new version of the chart; it applies from its valid_from on."""
    row = RateChart(
        valid_from=chart.valid_from,
        withholding_rate=chart.withholding_rate,
        min_amount=chart.min_amount,
        min_term_days=chart.min_term_days,
        max_term_days=chart.max_term_days,
        created_at=CLOCK.utcnow().replace(microsecond=0),
    )
    session.add(row)
    session.flush()
    for band in chart.bands:
        session.add(
            RateBand(
                chart_id=row.id,
                min_days=band.min_days,
                max_days=band.max_days,
                min_amount=band.min_amount,
                max_amount=band.max_amount,
                annual_rate=band.annual_rate,
            )
        )
    session.flush()
    return row.id


def _active_deposits_statement(several: bool = False) -> Select[Any]:
    """One member's deposits (`member_number`), or several members' (`member_numbers`)."""
    as_of = bindparam("as_of", type_=Date)
    deposits = TermDeposit.__table__
    whose = (
        deposits.c.member_number.in_(bindparam("member_numbers", expanding=True))
        if several
        else deposits.c.member_number == bindparam("member_number")
    )
    return (
        select(deposits)
        .where(
            whose,
            deposits.c.status == ACTIVE,
            deposits.c.opened_on <= as_of,
            deposits.c.maturity_date >= as_of,
        )
        .order_by(deposits.c.opened_on, deposits.c.deposit_number)
    )


# built once (with bind parameters): the position asks for these on every view
ACTIVE_DEPOSITS = _active_deposits_statement()
MEMBERS_ACTIVE_DEPOSITS = _active_deposits_statement(several=True)


def active_deposits(session: Session, member_number: str, as_of: date) -> Sequence[Row[Any]]:
    """The member's deposits in force on `as_of` (opened, not yet past maturity), oldest first,
    as read-only rows (Core on the session's connection: the position asks on every view)."""
    return (
        session.connection()
        .execute(ACTIVE_DEPOSITS, {"member_number": member_number, "as_of": as_of})
        .all()
    )


def members_active_deposits(
    session: Session, member_numbers: list[str], as_of: date
) -> dict[str, list[Row[Any]]]:
    """`active_deposits` of several members in one statement (the gateway's coalesced
    position): {member_number: their deposits}, every member named (none: [])."""
    if len(member_numbers) == 1:  # a member alone: the statement without an IN list to render
        return {member_numbers[0]: list(active_deposits(session, member_numbers[0], as_of))}
    answer: dict[str, list[Row[Any]]] = {number: [] for number in member_numbers}
    params = {"member_numbers": member_numbers, "as_of": as_of}
    for row in session.connection().execute(MEMBERS_ACTIVE_DEPOSITS, params):
        answer[row.member_number].append(row)
    return answer


def terms_of(row: Row[Any]) -> domain.DepositTerms:
    return domain.DepositTerms(
        deposit_number=row.deposit_number,
        amount=row.amount,
        term_days=row.term_days,
        annual_rate=row.annual_rate,
        withholding_rate=row.withholding_rate,
        interest_payment=row.interest_payment,
        opened_on=row.opened_on,
    )
