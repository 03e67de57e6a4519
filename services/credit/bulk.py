"""Bulk load of the credit side (docs/integration.md, "Bulk load"): loans with the core's schedule
stored exactly as sent, and their guarantors. Called by the `import_rows` / `import_state` RPCs,
and in-process on the service's own database by `scripts.portal setup`.

One row per loan, shaped like `loan_disbursed`'s data: the loans.csv columns plus `schedule` (its
installments.csv rows), `guarantors` ([{member_number, identification, name}], the importer names
them from the accounts side) and `borrower` ({identification, name}). A loan already loaded is
`unchanged` (its schedule too). Checked again here with the same rules as the importer.
"""

from datetime import date

from sqlalchemy import insert, select

from services.common import core_data
from services.common.errors import ValidationError
from services.credit import domain
from services.credit import rows as row_rules
from services.credit.models import Application, Guarantor, Installment, Loan, ProductRow
from services.credit.store import ACTIVE, CANCELLED

IN_CHUNK = 500


def state(session, request):
    loans = list(request.get("loans", ()))
    existing = []
    for start in range(0, len(loans), IN_CHUNK):
        keys = loans[start : start + IN_CHUNK]
        existing.extend(session.scalars(select(Loan.loan_number).where(Loan.loan_number.in_(keys))))
    products = list(session.scalars(select(ProductRow.code)))
    out = {"loans": existing, "products": products}
    if request.get("active_loans_of"):
        out["active_loans"] = _active_loans(session, request["active_loans_of"])
    if request.get("loan_books"):
        out["loan_books"] = _loan_books(session, request["loan_books"])
    if request.get("loans_in_arrears"):
        out["loans_in_arrears"] = _loans_in_arrears(session, request["loans_in_arrears"])
    if request.get("pending_applications"):
        out["pending_applications"] = [
            {"application_number": number, "status": status}
            for number, status in session.execute(
                select(Application.application_number, Application.status)
                .where(Application.status.in_(("ingresada", "en_analisis")))
                .where(Application.application_number.is_not(None))
                .order_by(Application.id)
                .limit(int(request["pending_applications"]))
            )
        ]
    return out


def _active_loans(session, member_numbers):
    """Active loans of these members with their core sequence and next unpaid installment (what
    the core simulator needs to post a payment)."""
    out = []
    for start in range(0, len(member_numbers), IN_CHUNK):
        keys = member_numbers[start : start + IN_CHUNK]
        for loan in session.scalars(
            select(Loan).where(Loan.member_number.in_(keys), Loan.status == ACTIVE)
        ):
            unpaid = [row for row in loan.installments if row.paid_on is None]
            nxt = unpaid[0] if unpaid else None
            out.append(
                {
                    "loan_number": loan.loan_number,
                    "member_number": loan.member_number,
                    "last_sequence": loan.last_sequence,
                    "next": nxt
                    and {
                        "number": nxt.number,
                        "due_date": nxt.due_date.isoformat(),
                        "principal": str(nxt.principal),
                        "interest": str(nxt.interest),
                        "insurance": str(nxt.insurance),
                    },
                }
            )
    return out


def _loans_in_arrears(session, as_of):
    """The active loans with an installment unpaid and due before the close of `as_of`
    (YYYY-MM-DD): what the demo core's day's close reports on (scripts/demo_core.py):
    {loan_number: {member_number, annual_rate, overdue: [{number, due_date, principal,
    interest, installment}]}}."""
    cutoff = date.fromisoformat(str(as_of))
    late = (
        select(Installment.loan_number)
        .where(Installment.paid_on.is_(None), Installment.due_date < cutoff)
        .distinct()
    )
    out = {}
    for loan in session.scalars(
        select(Loan).where(Loan.status == ACTIVE, Loan.loan_number.in_(late))
    ):
        out[loan.loan_number] = {
            "member_number": loan.member_number,
            "annual_rate": str(loan.annual_rate),
            "overdue": [
                {
                    "number": row.number,
                    "due_date": row.due_date.isoformat(),
                    **{
                        name: str(getattr(row, name))
                        for name in ("principal", "interest", "installment")
                    },
                }
                for row in sorted(loan.installments, key=lambda r: r.number)
                if row.paid_on is None and row.due_date < cutoff
            ],
        }
    return out


def _loan_books(session, loan_numbers):
    """What the demo core keeps of these loans (its own books): the owner, the last
    `loan_sequence`, the unpaid installments and the latest arrears snapshot."""
    out = {}
    for start in range(0, len(loan_numbers), IN_CHUNK):
        keys = loan_numbers[start : start + IN_CHUNK]
        for loan in session.scalars(select(Loan).where(Loan.loan_number.in_(keys))):
            due = loan.due
            out[loan.loan_number] = {
                "member_number": loan.member_number,
                "status": loan.status,
                "last_sequence": loan.last_sequence,
                "unpaid": [
                    {
                        "number": row.number,
                        "due_date": row.due_date.isoformat(),
                        **{
                            name: str(getattr(row, name))
                            for name in ("principal", "interest", "insurance", "installment")
                        },
                    }
                    for row in loan.installments
                    if row.paid_on is None
                ],
                "due": due
                and {
                    "as_of": due.as_of.isoformat(),
                    "days_overdue": due.days_overdue,
                    "late_interest": str(due.late_interest),
                    "other_charges": str(due.other_charges),
                },
            }
    return out


def _check(parser, raw):
    try:
        return core_data.checked(parser, raw)
    except ValueError as exc:
        raise ValidationError(f"Fila inválida: {exc}") from None


def import_dues(session, rows):
    """loan_dues.csv: each loan's arrears snapshot, applied as a `loan_due_updated` would be (a
    later `as_of` replaces the one held, an older one changes nothing)."""
    from services.common.inbound import NotYet, Refused
    from services.credit.usecases.from_core import apply_loan_due

    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for row in rows:
        try:
            counts[apply_loan_due(session, row)] += 1
        except (NotYet, Refused) as exc:
            raise ValidationError(f"Fila inválida: {exc}") from None
    return counts


def import_rows(session, kind, rows):
    if kind == "loan_dues":
        return import_dues(session, rows)
    if kind != "loans":
        raise ValidationError(f"Tipo de carga desconocido: {kind}.")
    products = {p.code: p for p in session.scalars(select(ProductRow))}
    numbers = [r.get("loan_number") for r in rows]
    existing = set(state(session, {"loans": numbers})["loans"])
    loans, installments, guarantors = [], [], []
    counts = {"created": 0, "unchanged": 0, "installments": 0, "guarantors": 0}
    for raw in rows:
        loan = _check(row_rules.parse_loan, raw)
        if loan["loan_number"] in existing:
            counts["unchanged"] += 1
            continue
        product = products.get(loan["product_code"])
        if product is None:
            raise ValidationError(f"Producto de crédito desconocido: {loan['product_code']}.")
        schedule = [_check(row_rules.parse_installment, r) for r in raw.get("schedule") or []]
        problems = domain.schedule_errors(loan["amount"], schedule)
        if problems:
            raise ValidationError(f"Crédito {loan['loan_number']}: {' '.join(problems)}")
        settled = loan["settled_on"]
        loans.append(
            {
                "loan_number": loan["loan_number"],
                "member_number": loan["member_number"],
                "borrower_name": raw["borrower"]["name"],
                "borrower_identification": raw["borrower"]["identification"],
                "product_code": product.code,
                "product_name": product.name,
                "amount": loan["amount"],
                "annual_rate": loan["annual_rate"],
                "insurance_rate": product.insurance_rate,
                "term_months": loan["term_months"],
                "system": loan["system"],
                "frequency": loan["frequency"],
                "disbursed_on": loan["disbursed_on"],
                "status": CANCELLED if settled else ACTIVE,
                "closed_on": settled,
                "application_number": loan["application_number"],
                "last_sequence": loan["loan_sequence"],
            }
        )
        for r in schedule:
            installments.append(
                {k: r[k] for k in core_data.FILES["installments.csv"][0] if k in r}
                | {"loan_number": loan["loan_number"]}
            )
        for person in raw.get("guarantors") or []:
            guarantors.append(
                {
                    "loan_number": loan["loan_number"],
                    "identification": person["identification"],
                    "name": person["name"],
                    "member_number": person["member_number"],
                    "since": loan["disbursed_on"],
                    "until": settled,
                }
            )
        counts["created"] += 1
    if loans:
        session.execute(insert(Loan), loans)
        session.execute(insert(Installment), installments)
        if guarantors:
            session.execute(insert(Guarantor), guarantors)
    counts["installments"] = len(installments)
    counts["guarantors"] = len(guarantors)
    return counts
