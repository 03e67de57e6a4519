"""What credit does with the core's events (docs/integration.md): `HANDLERS`, the table that
binds the queue `core.credit` and dispatches each event to its use case. Each runs inside the
consumer's transaction, so the change, the inbox claim and the portal's own outgoing events
(outbox) commit together or not at all.

`Refused`: the event can never apply; it is parked at once with the reason. `NotYet`: it names
something the portal may not know *yet* (a loan whose `loan_disbursed`, or a member whose
`member_upserted`, is still on its way): tried again a few times, then parked with the reason.
`installment_paid` and `loan_settled` apply in `loan_sequence` order per loan
(services/common/inbound.py holds an early one until its predecessor is applied).
"""

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Column, select
from sqlalchemy.orm import Session

from services.common import inbound
from services.common.errors import NotFound
from services.common.handlers import HandlerTable
from services.common.inbound import (
    KIND_CONFLICT,
    KIND_UNKNOWN,
    CoreEvent,
    NotYet,
    Refused,
    apply_in_order,
    load_data,
    lock_owner,
)
from services.common.ports import Outbox
from services.credit import catalog, domain, store
from services.credit.contracts import (
    ApplicationStatusChangedEventSchema,
    InstallmentPaidEventSchema,
    LoanSettledEventSchema,
)
from services.credit.models import (
    Application,
    ApplicationStatusChange,
    Guarantor,
    Installment,
    Loan,
    LoanDue,
    LoanPayment,
    held_events,
    processed_events,
)
from services.credit.schemas import (
    ApplicationStatusChangedSchema,
    InstallmentPaidSchema,
    LoanDisbursedSchema,
    LoanDueUpdatedSchema,
    LoanSettledSchema,
)
from services.credit.store import ACTIVE, CANCELLED

# the claims of the core events (the name the Inbox gave them: earlier claims still count)
CORE_CONSUMER = "credit.on_core_event"
LOAN_NUMBER = cast("Column[Any]", Loan.__table__.c.loan_number)
APPLICATION_NUMBER = cast("Column[Any]", Application.__table__.c.application_number)
Members = dict[str, Any]  # member_number → accounts' member record


def _forward(current: str, new: str) -> bool:
    """domain.status_change with its refusal as a parked event's reason."""
    try:
        return domain.status_change(current, new)
    except domain.Refusal as exc:
        raise Refused(str(exc), KIND_CONFLICT) from None


def _lock_loan(session: Session, loan_number: str) -> Loan | None:
    """The loan, locked until commit (two instances apply its events one after the other)."""
    if lock_owner(session, LOAN_NUMBER, loan_number) is None:
        return None
    return session.get(Loan, loan_number)


def _lock_application(session: Session, application_number: str) -> Application | None:
    if lock_owner(session, APPLICATION_NUMBER, application_number) is None:
        return None
    return session.scalars(
        select(Application).where(Application.application_number == application_number)
    ).first()


def _same_loan(loan: Loan, data: dict[str, Any]) -> bool:
    """Is the stored loan the one this event describes (a repeated `loan_disbursed`)?"""
    stored = [
        (r.number, r.due_date, r.principal, r.interest, r.insurance, r.installment, r.balance)
        for r in loan.installments
    ]
    sent = [
        (
            r["number"],
            r["due_date"],
            r["principal"],
            r["interest"],
            r["insurance"],
            r["installment"],
            r["balance"],
        )
        for r in data["schedule"]
    ]
    return (
        loan.member_number == data["member_number"]
        and loan.amount == data["amount"]
        and loan.disbursed_on == data["disbursed_on"]
        and stored == sent
    )


def _move_application(
    session: Session,
    outbox: Outbox,
    app: Application,
    status: str,
    reason: str | None,
    at: datetime,
    event_id: str,
    loan_number: str | None = None,
) -> None:
    """Record `app` moving to `status` and tell the member (e-mail through notifications)."""
    app.status = status
    app.status_reason = reason
    if loan_number is not None:
        app.loan_number = loan_number
    session.add(
        ApplicationStatusChange(
            application_id=app.id, status=status, reason=reason, at=at, event_id=event_id
        )
    )
    outbox.emit(
        "application_status_changed",
        ApplicationStatusChangedEventSchema().dump(
            {
                "application_number": app.application_number,
                "member_number": app.member_number,
                "status": status,
                "reason": reason,
                "loan_number": app.loan_number,
                "changed_at": at,
            }
        ),
    )


def members_of(accounts: Any, event: CoreEvent) -> Members:
    """The member records a `loan_disbursed` names (borrower and guarantors), asked of accounts
    *before* the handler writes anything: on SQLite a worker must not hold the write lock while
    it waits for another service. {} for the other events."""
    if event["event_type"] != "loan_disbursed":
        return {}
    data = load_data(LoanDisbursedSchema(), event["data"], "loan_disbursed")
    numbers = [data["member_number"], *data["guarantors"]]
    calls = {number: accounts.get_member.call_async(number) for number in dict.fromkeys(numbers)}
    members = {}
    for number, call in calls.items():
        try:
            members[number] = call.result()
        except NotFound:
            raise NotYet(f"El socio {number} no existe en el portal.") from None
    return members


def loan_disbursed(
    session: Session, outbox: Outbox, event: CoreEvent, members: Members, now: datetime
) -> None:
    """The loan and its table as the core sent them; the application named becomes
    `desembolsada`. A repeated event with the same content changes nothing."""
    data = load_data(LoanDisbursedSchema(), event["data"], "loan_disbursed")
    number = data["loan_number"]
    existing = _lock_loan(session, number)
    if existing is not None:
        if _same_loan(existing, data):
            return
        raise Refused(f"El crédito {number} ya existe con otros datos.", KIND_CONFLICT)
    product_row = catalog.get_product(session, data["product_code"])
    if product_row is None:
        raise Refused(f"El producto {data['product_code']} no existe en el catálogo del portal.")
    if len(set(data["guarantors"])) != len(data["guarantors"]):
        raise Refused(f"El crédito {number} repite un garante.")
    if data["member_number"] in data["guarantors"]:
        raise Refused(f"El socio {data['member_number']} no puede garantizar su propio crédito.")
    borrower = members[data["member_number"]]
    application = None
    if data["application_number"]:
        application = _lock_application(session, data["application_number"])
        if application is None:
            raise Refused(f"La solicitud {data['application_number']} no existe.", KIND_UNKNOWN)
        if application.member_number != data["member_number"]:
            raise Refused(
                f"La solicitud {data['application_number']} es de otro socio que el crédito.",
                KIND_CONFLICT,
            )
        if not _forward(application.status, domain.DISBURSED):
            raise Refused(
                f"La solicitud {data['application_number']} ya fue desembolsada con el crédito "
                f"{application.loan_number}.",
                KIND_CONFLICT,
            )
    # the portal keeps what it shows: accounts hands out the masked cédula, never the cédula
    session.add(
        Loan(
            loan_number=number,
            member_number=data["member_number"],
            borrower_name=borrower["display_name"],
            borrower_identification=borrower["identification_masked"],
            product_code=product_row.code,
            product_name=product_row.name,
            amount=data["amount"],
            annual_rate=data["annual_rate"],
            insurance_rate=product_row.insurance_rate,
            term_months=data["term_months"],
            system=data["system"],
            frequency=data["frequency"],
            disbursed_on=data["disbursed_on"],
            status=ACTIVE,
            last_sequence=0,
            application_number=data["application_number"],
        )
    )
    session.flush()
    for row in data["schedule"]:
        session.add(Installment(loan_number=number, paid_on=None, **row))
    for member_number in data["guarantors"]:
        guarantor = members[member_number]
        session.add(
            Guarantor(
                loan_number=number,
                identification=guarantor["identification_masked"],
                name=guarantor["display_name"],
                member_number=member_number,
                since=data["disbursed_on"],
                until=None,
            )
        )
    if application is not None:
        _move_application(
            session,
            outbox,
            application,
            domain.DISBURSED,
            None,
            now,
            event["event_id"],
            loan_number=number,
        )
    session.flush()


def read_ordered(event: CoreEvent) -> tuple[dict[str, Any], str, int]:
    """(schema data, loan_number, loan_sequence) of an `installment_paid` / `loan_settled`."""
    schema = {"installment_paid": InstallmentPaidSchema, "loan_settled": LoanSettledSchema}[
        event["event_type"]
    ]
    data = load_data(schema(), event.get("data"), event["event_type"])
    return data, data["loan_number"], data["loan_sequence"]


def _pay_installment(
    session: Session, outbox: Outbox, loan: Loan, data: dict[str, Any], event_id: str
) -> None:
    """That installment becomes `pagada` on `paid_on`; exactly once by the core's reference."""
    done = session.scalars(
        select(LoanPayment).where(LoanPayment.reference == data["reference"])
    ).first()
    if done is not None:
        same = (done.loan_number, done.number, done.principal, done.interest) == (
            loan.loan_number,
            data["number"],
            data["principal"],
            data["interest"],
        )
        if not same:
            raise Refused(
                f"La referencia {data['reference']} ya se aplicó a otro pago.", KIND_CONFLICT
            )
        return  # the same payment told twice: nothing more to do
    rows = {row.number: row for row in loan.installments}
    paid = {number for number, row in rows.items() if row.paid_on is not None}
    problem = domain.payment_refusal(loan.status, data["number"], paid, set(rows))
    if problem:
        raise Refused(f"{loan.loan_number}: {problem}", KIND_CONFLICT)
    rows[data["number"]].paid_on = data["paid_on"]
    session.add(
        LoanPayment(
            loan_number=loan.loan_number,
            loan_sequence=data["loan_sequence"],
            number=data["number"],
            paid_on=data["paid_on"],
            reference=data["reference"],
            principal=data["principal"],
            interest=data["interest"],
            insurance=data["insurance"],
            late_interest=data["late_interest"],
            event_id=event_id,
        )
    )
    session.flush()
    outstanding = loan.amount - sum(
        (row.principal for row in rows.values() if row.paid_on is not None), domain.ZERO
    )
    outbox.emit(
        "installment_paid",
        InstallmentPaidEventSchema().dump(
            {**data, "member_number": loan.member_number, "outstanding_principal": outstanding}
        ),
    )


def _settle(
    session: Session, outbox: Outbox, loan: Loan, data: dict[str, Any], event_id: str
) -> None:
    """The loan is no longer active; its guarantees are released on that date."""
    if loan.status == CANCELLED:
        return
    if data["settled_on"] < loan.disbursed_on:
        raise Refused(f"{loan.loan_number}: la cancelación es anterior al desembolso.")
    loan.status = CANCELLED
    loan.closed_on = data["settled_on"]
    for guarantor in session.scalars(
        select(Guarantor).where(
            Guarantor.loan_number == loan.loan_number, Guarantor.until.is_(None)
        )
    ):
        guarantor.until = data["settled_on"]
    outbox.emit(
        "loan_settled",
        LoanSettledEventSchema().dump(
            {
                "loan_number": loan.loan_number,
                "member_number": loan.member_number,
                "settled_on": data["settled_on"],
            }
        ),
    )


def _applied_as(session: Session, loan: Loan, event_type: str, data: dict[str, Any]) -> bool:
    """Is this event (of a sequence already passed) what was applied at that sequence?"""
    if event_type == "loan_settled":
        return loan.status == CANCELLED and loan.closed_on == data["settled_on"]
    payment = (
        session.scalars(
            select(LoanPayment).where(
                LoanPayment.loan_number == loan.loan_number,
                LoanPayment.loan_sequence == data["loan_sequence"],
            )
        ).first()
        or session.scalars(
            select(LoanPayment).where(LoanPayment.reference == data["reference"])
        ).first()
    )
    return payment is not None and (
        payment.reference,
        payment.number,
        payment.principal,
        payment.interest,
        payment.insurance,
        payment.late_interest,
    ) == (
        data["reference"],
        data["number"],
        data["principal"],
        data["interest"],
        data["insurance"],
        data["late_interest"],
    )


def loan_event(
    session: Session, outbox: Outbox, event: CoreEvent, members: Members, now: datetime
) -> None:
    """`installment_paid` / `loan_settled`, in `loan_sequence` order per loan, under its lock:
    the installment becomes `pagada` (exactly once by the core's reference), or the loan is no
    longer active and its guarantees are released."""
    data, number, sequence = read_ordered(event)
    loan = _lock_loan(session, number)
    if loan is None:
        raise NotYet(f"El crédito {number} no existe en el portal.")

    def apply(ordered_event: CoreEvent) -> None:
        ordered, _, ordered_sequence = read_ordered(ordered_event)
        current = session.get(Loan, number)
        assert current is not None  # locked above
        if ordered_event["event_type"] == "installment_paid":
            _pay_installment(session, outbox, current, ordered, ordered_event["event_id"])
        else:
            _settle(session, outbox, current, ordered, ordered_event["event_id"])
        current.last_sequence = ordered_sequence
        session.flush()

    def same(past_event: CoreEvent) -> bool:
        past, _, _ = read_ordered(past_event)
        return _applied_as(session, loan, past_event["event_type"], past)

    apply_in_order(
        session, held_events, f"loan:{number}", loan.last_sequence, sequence, event, apply, same
    )


def application_status_changed(
    session: Session, outbox: Outbox, event: CoreEvent, members: Members, now: datetime
) -> None:
    """The credit desk's decision: forward only; the member sees it and gets an e-mail."""
    data = load_data(ApplicationStatusChangedSchema(), event["data"], "application_status_changed")
    application = _lock_application(session, data["application_number"])
    if application is None:
        raise Refused(f"La solicitud {data['application_number']} no existe.", KIND_UNKNOWN)
    if not _forward(application.status, data["status"]):
        return  # already there: nothing changes, nobody is told twice
    at = data["changed_at"].astimezone(UTC).replace(tzinfo=None)
    reason = (data["reason"] or "").strip() or None
    _move_application(session, outbox, application, data["status"], reason, at, event["event_id"])
    session.flush()


def loan_due_updated(
    session: Session, outbox: Outbox, event: CoreEvent, members: Members, now: datetime
) -> None:
    """The core's arrears snapshot of a loan (`apply_loan_due`)."""
    apply_loan_due(session, event["data"])


def apply_loan_due(session: Session, raw: object) -> str:
    """The core's arrears snapshot of a loan: kept when it is as new as the one held or newer
    (`as_of`), ignored when older; one with days_overdue 0 says the loan left arrears. The
    bulk load's loan_dues.csv rows come here too. created, updated or unchanged."""
    data = load_data(LoanDueUpdatedSchema(), raw, "loan_due_updated")
    number = data["loan_number"]
    loan = _lock_loan(session, number)
    if loan is None:
        raise NotYet(f"El crédito {number} no existe en el portal.")
    due_dates = {row.number: row.due_date for row in loan.installments}
    unknown = [n for n in data["overdue_installments"] if n not in due_dates]
    if unknown:
        raise Refused(
            f"loan_due_updated rechazado: la cuota {unknown[0]} no existe en la tabla del "
            f"crédito {number}.",
            KIND_CONFLICT,
        )
    held = session.get(LoanDue, number)
    if held is not None and held.as_of > data["as_of"]:
        return "unchanged"  # an older snapshot than the one held: the later one stands
    overdue = sorted(data["overdue_installments"])
    values = {
        "as_of": data["as_of"],
        "days_overdue": data["days_overdue"],
        "overdue_installments": ",".join(str(n) for n in overdue),
        "oldest_overdue_due_date": due_dates[overdue[0]] if overdue else None,
        **{
            name: data[name]
            for name in (
                "overdue_principal",
                "overdue_interest",
                "late_interest",
                "other_charges",
                "total_due",
            )
        },
    }
    if held is None:
        session.add(LoanDue(loan_number=number, **values))
        outcome = "created"
    elif all(getattr(held, name) == value for name, value in values.items()):
        return "unchanged"  # the same snapshot told again (a bulk load run twice)
    else:
        for name, value in values.items():
            setattr(held, name, value)
        outcome = "updated"
    session.flush()
    return outcome


# every core event credit consumes: the queue's bindings and the dispatch (one table)
HANDLERS = HandlerTable(
    {
        "loan_disbursed": loan_disbursed,
        "installment_paid": loan_event,
        "loan_settled": loan_event,
        "application_status_changed": application_status_changed,
        "loan_due_updated": loan_due_updated,
    }
)


def core_event(
    session: Session, outbox: Outbox, accounts: Any, event: CoreEvent, now: datetime
) -> None:
    """Apply one core event: the members it names asked first (before any write), claimed by
    event_id with its content (an id reused for other content is refused), then its handler."""
    members = members_of(accounts, event)
    if not inbound.claim(session, processed_events, event, CORE_CONSUMER):
        return
    HANDLERS.dispatch(event["event_type"], session, outbox, event, members, now)


def inbound_status(session: Session) -> dict[str, Any]:
    """Refusals of core events by kind, and how many wait for a predecessor."""
    return {
        "service": "credit",
        "refusals": inbound.refusal_counts(session, "credit"),
        "held": inbound.held_count(session, held_events),
    }


def stream_last(session: Session, stream: str) -> int | None:
    """The last sequence applied of a stream `loan:<number>` (for the operators' held list)."""
    return store.last_loan_sequence(session, stream.partition(":")[2])
