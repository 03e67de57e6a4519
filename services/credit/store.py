"""Queries of the credit service (the persistence adapter between the use cases and the tables),
and the plain dicts its schemas dump."""

from collections.abc import Sequence
from datetime import date
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Date,
    Row,
    Select,
    bindparam,
    case,
    func,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session, aliased

from services.common.db import Cents
from services.credit import domain
from services.credit.models import Application, Guarantor, Installment, Loan, LoanDue

ACTIVE, CANCELLED = "activo", "cancelado"
GUARANTEE_ACTIVE, GUARANTEE_RELEASED = "vigente", "liberada"


def member_loan(session: Session, member_number: str, loan_number: str | None) -> Loan | None:
    """The loan when it belongs to the member; None otherwise (never another member's)."""
    loan = session.get(Loan, loan_number) if loan_number else None
    if loan is None or loan.member_number != member_number:
        return None
    return loan


def active_loans(session: Session, member_number: str) -> Sequence[Loan]:
    return session.scalars(
        select(Loan)
        .where(Loan.member_number == member_number, Loan.status == ACTIVE)
        .order_by(Loan.loan_number)
    ).all()


def _loan_positions_statement(several: bool = False) -> Select[Any]:
    """One member's loans (`member_number`), or several members' (`member_numbers`)."""
    today = bindparam("today", type_=Date)
    unpaid = Installment.paid_on.is_(None)
    whose: ColumnElement[bool]
    if several:
        whose = Loan.member_number.in_(bindparam("member_numbers", expanding=True))
    else:
        member: BindParameter[str] = bindparam("member_number")
        whose = Loan.member_number == member
    active = whose & (Loan.status == ACTIVE)
    per_loan = (
        select(
            Installment.loan_number,
            func.sum(case((unpaid, 0), else_=Installment.principal)).label("paid_principal"),
            func.sum(case((unpaid & (Installment.due_date < today), 1), else_=0)).label("overdue"),
            func.sum(
                case((unpaid & (Installment.due_date < today), Installment.installment), else_=0)
            ).label("overdue_amount"),
            # the next installment is never a past date: the first unpaid one due today or later
            func.min(case((unpaid & (Installment.due_date >= today), Installment.number))).label(
                "next_number"
            ),
            func.min(case((unpaid & (Installment.due_date < today), Installment.number))).label(
                "oldest_number"
            ),
        )
        .join(Loan, Loan.loan_number == Installment.loan_number)
        .where(active)
        .group_by(Installment.loan_number)
        .subquery()
    )
    following, oldest = aliased(Installment), aliased(Installment)
    return (
        select(
            Loan.member_number,
            Loan.loan_number,
            Loan.product_name,
            Loan.amount,
            type_coerce(per_loan.c.paid_principal, Cents).label("paid_principal"),
            per_loan.c.overdue,
            type_coerce(per_loan.c.overdue_amount, Cents).label("overdue_amount"),
            following.due_date,
            following.installment,
            oldest.due_date.label("oldest_due_date"),
            LoanDue.as_of.label("due_as_of"),
            LoanDue.days_overdue,
            LoanDue.oldest_overdue_due_date,
            LoanDue.late_interest,
            LoanDue.total_due,
        )
        .outerjoin(per_loan, per_loan.c.loan_number == Loan.loan_number)
        .outerjoin(
            following,
            (following.loan_number == Loan.loan_number)
            & (following.number == per_loan.c.next_number),
        )
        .outerjoin(
            oldest,
            (oldest.loan_number == Loan.loan_number) & (oldest.number == per_loan.c.oldest_number),
        )
        .outerjoin(LoanDue, LoanDue.loan_number == Loan.loan_number)
        .where(active)
        .order_by(Loan.loan_number)
    )


# built once: constructing this statement costs ten times what running it does
LOAN_POSITIONS = _loan_positions_statement()
MEMBERS_LOAN_POSITIONS = _loan_positions_statement(several=True)


def loan_positions(session: Session, member_number: str, today: date) -> list[dict[str, Any]]:
    """The loans section of the consolidated position, summed up by the database.

    The same figures as `domain.loan_position` over each stored schedule (a test holds the two
    to each other for every demo member) without loading whole schedules: the position is the
    most requested page and a schedule has up to 240 rows per loan.
    """
    # Core execution on the session's connection: rows are all it needs, no ORM bookkeeping
    rows = session.connection().execute(
        LOAN_POSITIONS, {"member_number": member_number, "today": today}
    )
    return [_loan_position(row) for row in rows]


def members_loan_positions(
    session: Session, member_numbers: list[str], today: date
) -> dict[str, list[dict[str, Any]]]:
    """`loan_positions` of several members in one statement (the gateway's coalesced
    position): {member_number: their loans}, every member named (none: [])."""
    if len(member_numbers) == 1:  # a member alone: the statement without an IN list to render
        return {member_numbers[0]: loan_positions(session, member_numbers[0], today)}
    answer: dict[str, list[dict[str, Any]]] = {number: [] for number in member_numbers}
    rows = session.connection().execute(
        MEMBERS_LOAN_POSITIONS, {"member_numbers": member_numbers, "today": today}
    )
    for row in rows:
        answer[row.member_number].append(_loan_position(row))
    return answer


def _loan_position(row: Row[Any]) -> dict[str, Any]:
    return {
        "loan_number": row.loan_number,
        "product_name": row.product_name,
        "amount": row.amount,
        "outstanding_principal": row.amount - (row.paid_principal or domain.ZERO),
        "next_due_date": row.due_date,
        "next_installment": row.installment,
        "overdue_installments": int(row.overdue or 0),
        "overdue_amount": row.overdue_amount or domain.ZERO,
        **domain.arrears(_snapshot(row), row.oldest_due_date),
    }


def _snapshot(row: Row[Any]) -> SimpleNamespace | None:
    """The loan_dues columns of a position row as a snapshot (None when the core sent none)."""
    if row.due_as_of is None:
        return None
    return SimpleNamespace(
        as_of=row.due_as_of,
        days_overdue=row.days_overdue,
        oldest_overdue_due_date=row.oldest_overdue_due_date,
        late_interest=row.late_interest,
        total_due=row.total_due,
    )


def loan_summary(loan: Loan, today: date) -> dict[str, Any]:
    """A loan as listed, with the core's latest arrears figures (`loan.due`)."""
    position = domain.loan_position(loan.amount, loan.installments, today)
    return {
        "loan_number": loan.loan_number,
        "product_code": loan.product_code,
        "product_name": loan.product_name,
        "amount": loan.amount,
        "annual_rate": loan.annual_rate,
        "term_months": loan.term_months,
        "system": loan.system,
        "frequency": loan.frequency,
        "disbursed_on": loan.disbursed_on,
        "status": loan.status,
        "installments_count": len(loan.installments),
        "paid_installments": position.paid_installments,
        "outstanding_principal": position.outstanding_principal,
        "next_due_date": position.next_due_date,
        "next_installment": position.next_installment,
        "overdue_installments": position.overdue_installments,
        "overdue_amount": position.overdue_amount,
        **domain.arrears(loan.due, position.oldest_overdue_due_date),
    }


def loan_detail(loan: Loan, today: date, guarantors: list[dict[str, Any]]) -> dict[str, Any]:
    rows = loan.installments
    data = loan_summary(loan, today)
    data.update(
        {
            "period_rate": domain.period_rate(loan.annual_rate, loan.frequency) * 100,
            "insurance_rate": loan.insurance_rate,
            "effective_annual_rate": domain.effective_annual_rate(loan.annual_rate, loan.frequency),
            "installment": rows[0].installment if rows else domain.ZERO,
            "total_principal": sum((r.principal for r in rows), domain.ZERO),
            "total_interest": sum((r.interest for r in rows), domain.ZERO),
            "total_insurance": sum((r.insurance for r in rows), domain.ZERO),
            "total_payment": sum((r.installment for r in rows), domain.ZERO),
            "rows": [
                {
                    "number": r.number,
                    "due_date": r.due_date,
                    "principal": r.principal,
                    "interest": r.interest,
                    "insurance": r.insurance,
                    "installment": r.installment,
                    "balance": r.balance,
                    "status": domain.installment_status(r.due_date, r.paid_on, today),
                    "paid_on": r.paid_on,
                }
                for r in rows
            ],
            "guarantors": guarantors,
        }
    )
    return data


def schedule_dict(
    schedule: domain.Schedule, product: domain.Product | None = None
) -> dict[str, Any]:
    """A domain Schedule as docs/api.md's Schedule."""
    return {
        "product_code": product.code if product else None,
        "product_name": product.name if product else None,
        "system": schedule.system,
        "frequency": schedule.frequency,
        "amount": schedule.amount,
        "annual_rate": schedule.annual_rate,
        "period_rate": schedule.period_rate * 100,
        "insurance_rate": schedule.insurance_rate,
        "term_months": schedule.term_months,
        "installments_count": schedule.installments_count,
        "effective_annual_rate": schedule.effective_annual_rate,
        "start_date": schedule.start_date,
        "installment": schedule.installment,
        "total_principal": schedule.total_principal,
        "total_interest": schedule.total_interest,
        "total_insurance": schedule.total_insurance,
        "total_payment": schedule.total_payment,
        "rows": [
            {
                "number": r.number,
                "due_date": r.due_date,
                "principal": r.principal,
                "interest": r.interest,
                "insurance": r.insurance,
                "installment": r.installment,
                "balance": r.balance,
            }
            for r in schedule.rows
        ],
    }


def _guarantee(
    loan_number: str,
    product_name: str,
    identification: str,
    name: str,
    since: date,
    until: date | None,
) -> dict[str, Any]:
    return {
        "loan_number": loan_number,
        "product_name": product_name,
        "identification_masked": domain.mask_identification(identification),
        "name": name,
        "since": since,
        "until": until,
        "status": GUARANTEE_ACTIVE if until is None else GUARANTEE_RELEASED,
    }


def guarantors_of_loan(session: Session, loan: Loan) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Guarantor).where(Guarantor.loan_number == loan.loan_number).order_by(Guarantor.id)
    ).all()
    return [
        _guarantee(loan.loan_number, loan.product_name, g.identification, g.name, g.since, g.until)
        for g in rows
    ]


def guarantees(session: Session, member_number: str) -> dict[str, list[dict[str, Any]]]:
    """Both directions: who guarantees my loans (current and past), whose loans I guarantee."""
    mine = session.execute(
        select(Guarantor, Loan)
        .join(Loan, Loan.loan_number == Guarantor.loan_number)
        .where(Loan.member_number == member_number)
        .order_by(Guarantor.since.desc(), Guarantor.id)
    ).all()
    given = session.execute(
        select(Guarantor, Loan)
        .join(Loan, Loan.loan_number == Guarantor.loan_number)
        .where(Guarantor.member_number == member_number)
        .order_by(Guarantor.since.desc(), Guarantor.id)
    ).all()
    return {
        "guarantors": [
            _guarantee(
                loan.loan_number, loan.product_name, g.identification, g.name, g.since, g.until
            )
            for g, loan in mine
        ],
        "guaranteed_by_me": [
            _guarantee(
                loan.loan_number,
                loan.product_name,
                loan.borrower_identification,
                loan.borrower_name,
                g.since,
                g.until,
            )
            for g, loan in given
        ],
    }


def application_by_key(session: Session, member_number: str, key: str) -> Application | None:
    return session.scalars(
        select(Application).where(
            Application.member_number == member_number, Application.idempotency_key == key
        )
    ).first()


def member_application(
    session: Session, member_number: str, application_number: str
) -> Application | None:
    """One of the member's applications, locked until commit (the core's events may move it
    meanwhile: one after the other); None for another member's or a missing one."""
    return session.scalars(
        select(Application)
        .where(
            Application.member_number == member_number,
            Application.application_number == application_number,
        )
        .with_for_update()
    ).first()


def applications(session: Session, member_number: str) -> Sequence[Application]:
    return session.scalars(
        select(Application)
        .where(Application.member_number == member_number)
        .order_by(Application.submitted_at.desc(), Application.id.desc())
    ).all()


def application_dict(app: Application) -> dict[str, Any]:
    return {
        "application_number": app.application_number,
        "status": app.status,
        "status_reason": app.status_reason,
        "loan_number": app.loan_number,
        "history": domain.status_history(app.submitted_at, app.changes),
        "submitted_at": app.submitted_at,
        "product_code": app.product_code,
        "product_name": app.product_name,
        "amount": app.amount,
        "term_months": app.term_months,
        "system": app.system,
        "frequency": app.frequency,
        "start_date": app.start_date,
        "annual_rate": app.annual_rate,
        "purpose": app.purpose,
        "monthly_income": app.monthly_income,
        "monthly_expenses": app.monthly_expenses,
        "installment": app.installment,
        "guarantors": [
            {
                "identification_masked": domain.mask_identification(g.identification),
                "name": g.name,
            }
            for g in app.guarantors
        ],
    }


def last_loan_sequence(session: Session, loan_number: str) -> int | None:
    """The loan's last applied `loan_sequence`, or None for an unknown loan."""
    return session.scalar(select(Loan.last_sequence).where(Loan.loan_number == loan_number))
