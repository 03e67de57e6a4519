"""credit's loans as a member reads them: the active ones, one in detail, the position's lines,
the guarantees the member gives. Another member's loan is never found."""

from typing import Any

from sqlalchemy.orm import Session

from services.common.clock import Clock
from services.common.errors import NotFound, ValidationError
from services.common.schemas import member_batch
from services.credit import domain, store
from services.credit.contracts import (
    GuaranteesSchema,
    LoanListSchema,
    LoanPaymentQuoteSchema,
    LoanPositionSchema,
    LoanSchema,
)

LOAN_NOT_FOUND = "El crédito no existe."
LOAN_POSITIONS = LoanPositionSchema(many=True)  # built once: the position asks on every view


def list_loans(session: Session, clock: Clock, member_number: str) -> dict[str, Any]:
    """The member's active loans; none: `loans: []` and "No posee créditos vigentes"."""
    today = clock.today()
    loans = [store.loan_summary(loan, today) for loan in store.active_loans(session, member_number)]
    answer: dict[str, Any] = LoanListSchema().dump(
        {"loans": loans, "message": None if loans else domain.NO_ACTIVE_LOANS}
    )
    return answer


def get_loan(
    session: Session, clock: Clock, member_number: str, loan_number: str
) -> dict[str, Any]:
    loan = store.member_loan(session, member_number, loan_number)
    if loan is None:
        raise NotFound(LOAN_NOT_FOUND)
    detail = store.loan_detail(loan, clock.today(), store.guarantors_of_loan(session, loan))
    answer: dict[str, Any] = LoanSchema().dump(detail)
    return answer


def loans_summary(session: Session, clock: Clock, member_number: str) -> list[dict[str, Any]]:
    """The loans section of the consolidated position."""
    answer: list[dict[str, Any]] = LOAN_POSITIONS.dump(
        store.loan_positions(session, member_number, clock.today())
    )
    return answer


def loans_summaries(session: Session, clock: Clock, member_numbers: object) -> dict[str, Any]:
    """`loans_summary` of several members in one call (the gateway's coalesced position)."""
    found = store.members_loan_positions(session, member_batch(member_numbers), clock.today())
    return {number: LOAN_POSITIONS.dump(loans) for number, loans in found.items()}


def guarantees(session: Session, member_number: str) -> dict[str, Any]:
    answer: dict[str, Any] = GuaranteesSchema().dump(store.guarantees(session, member_number))
    return answer


def payment_quote(
    session: Session, clock: Clock, member_number: str, loan_number: str
) -> dict[str, Any]:
    """The overdue installments and the next with the core's late interest. Another member's
    loan is not found; one that cannot be paid online is a 422 saying why."""
    loan = store.member_loan(session, member_number, loan_number)
    if loan is None:
        raise NotFound(LOAN_NOT_FOUND)
    try:
        quote = domain.payment_quote(loan.status, loan.installments, loan.due, clock.today())
    except domain.Refusal as exc:
        raise ValidationError(str(exc), fields={"loan_number": [str(exc)]}) from None
    answer: dict[str, Any] = LoanPaymentQuoteSchema().dump(
        {"loan_number": loan.loan_number, **vars(quote)}
    )
    return answer
