"""The credit part of the demo cooperative: loans with their stored schedules and guarantors.

The reference members' loans are exactly those of fixtures/reference_members.json (maria's two
active loans, the 6th installment of CR-100234-02 overdue, her cancelled one; luis's housing
loan). About a quarter of the generated members get a realistic loan (some with an overdue
installment, some with a past cancelled loan and a guarantor from the census). Deterministic
(a fixed seed per member) and idempotent (a loan already loaded is left as it is). Products come
from the credit database (seeded by its migration), so run the migrations first.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from services.common import core_data
from services.common.db import session_scope
from services.common.demo import census, days_ago, member_rng
from services.credit import bulk, catalog, domain
from services.credit import rows as row_rules
from services.credit.store import ACTIVE, CANCELLED

LOAN_SHARE = 0.25


@dataclass
class LoanSpec:
    loan_number: str
    product: str
    amount: Decimal
    term_months: int
    system: str
    frequency: str
    disbursed_on: object
    installments_paid: int | None  # None: every installment due before today is paid
    status: str
    guarantors: list = field(default_factory=list)  # cédulas
    overdue: int = 0  # of the installments due before today, how many (the last ones) are unpaid


def full_name(member):
    return f"{member.given_names} {member.surnames}"


def reference_loans(member, today):
    return [
        LoanSpec(
            loan_number=loan["loan_number"],
            product=loan["product"],
            amount=Decimal(loan["amount"]),
            term_months=loan["term_months"],
            system=loan["system"],
            frequency=loan["frequency"],
            disbursed_on=days_ago(today, loan["disbursed_days_ago"]),
            installments_paid=loan["installments_paid"],
            status="activo" if loan["status"] == "activo" else CANCELLED,
            guarantors=list(loan.get("guarantors", [])),
        )
        for loan in member.reference.get("loans", [])
    ]


PRODUCT_WEIGHTS = (("CONSUMO", 45), ("MICRO", 25), ("EMERGENTE", 20), ("VIVIENDA", 10))
FREQUENCY_WEIGHTS = (("monthly", 80), ("bimonthly", 5), ("quarterly", 10), ("semiannual", 5))


def _amount(rng, product):
    high = min(product.max_amount, Decimal(80000) if product.code == "VIVIENDA" else Decimal(15000))
    steps = int((high - product.min_amount) / 100)
    return product.min_amount + 100 * rng.randint(0, max(steps, 0))


def _term(rng, product, frequency):
    months = domain.FREQUENCIES[frequency]
    choices = [t for t in (6, 12, 18, 24, 36, 48, 60, 72, 120, 180, 240) if t % months == 0]
    choices = [t for t in choices if t <= product.max_term_months] or [months]
    return rng.choice(choices)


def generated_loans(member, members, today, products):
    rng = member_rng(member.member_number, "credit")
    if rng.random() >= LOAN_SHARE:
        return []
    specs = []
    pick = lambda weights: rng.choices([w[0] for w in weights], [w[1] for w in weights])[0]  # noqa: E731
    # reference members guarantee exactly what the fixture says, nothing more
    others = [m for m in members if m.reference is None and m.member_number != member.member_number]

    def guarantors():
        if others and rng.random() < 0.6:
            return [rng.choice(others).identification]
        return []

    if rng.random() < 0.15:
        product = products["EMERGENTE"]
        term = rng.choice((6, 12))
        disbursed = days_ago(today, rng.randint(term * 31 + 60, term * 31 + 900))
        if disbursed >= member.joined_on:
            specs.append(
                LoanSpec(
                    f"CR-{member.member_number}-00",
                    product.code,
                    _amount(rng, product),
                    term,
                    rng.choice(domain.SYSTEMS),
                    "monthly",
                    disbursed,
                    None,
                    CANCELLED,
                    guarantors(),
                )
            )
    product = products[pick(PRODUCT_WEIGHTS)]
    frequency = pick(FREQUENCY_WEIGHTS)
    term = _term(rng, product, frequency)
    running_days = max(15, min(term * 30 - 20, (today - member.joined_on).days))
    disbursed = days_ago(today, rng.randint(10, running_days))
    specs.append(
        LoanSpec(
            f"CR-{member.member_number}-01",
            product.code,
            _amount(rng, product),
            term,
            "french" if rng.random() < 0.7 else "german",
            frequency,
            disbursed,
            None,
            ACTIVE,
            guarantors(),
            overdue=1 if rng.random() < 0.1 else 0,
        )
    )
    return specs


def build(spec, member, products, by_identification, today):
    """(loan, installments, guarantors) rows of a spec, the schedule from the domain engine."""
    product = products[spec.product]
    schedule = domain.amortize(
        spec.amount,
        product.annual_rate,
        spec.term_months,
        spec.system,
        spec.frequency,
        spec.disbursed_on,
        product.insurance_rate,
    )
    rng = member_rng(spec.loan_number, "payments")
    due = [r for r in schedule.rows if r.due_date <= today]
    if spec.status == CANCELLED:
        paid_count = len(schedule.rows)
    elif spec.installments_paid is not None:
        paid_count = spec.installments_paid
    else:
        paid_count = max(0, len(due) - spec.overdue)
    installments = []
    last_paid = None
    for row in schedule.rows:
        paid_on = None
        if row.number <= paid_count:
            paid_on = min(row.due_date - timedelta(days=rng.randint(0, 3)), today)
            last_paid = paid_on
        installments.append(
            {
                "loan_number": spec.loan_number,
                "number": row.number,
                "due_date": row.due_date,
                "principal": row.principal,
                "interest": row.interest,
                "insurance": row.insurance,
                "installment": row.installment,
                "balance": row.balance,
                "paid_on": paid_on,
            }
        )
    closed_on = last_paid if spec.status == CANCELLED else None
    loan = {
        "loan_number": spec.loan_number,
        "member_number": member.member_number,
        "borrower_name": full_name(member),
        "borrower_identification": member.identification,
        "product_code": product.code,
        "product_name": product.name,
        "amount": spec.amount,
        "annual_rate": product.annual_rate,
        "insurance_rate": product.insurance_rate,
        "term_months": spec.term_months,
        "system": spec.system,
        "frequency": spec.frequency,
        "disbursed_on": spec.disbursed_on,
        "status": spec.status,
        "closed_on": closed_on,
    }
    guarantors = []
    for ident in spec.guarantors:
        person = by_identification.get(ident)
        guarantors.append(
            {
                "loan_number": spec.loan_number,
                "identification": ident,
                "name": full_name(person) if person else "Garante externo",
                "member_number": person.member_number if person else None,
                "since": spec.disbursed_on,
                "until": closed_on,
            }
        )
    return loan, installments, guarantors


def _money(value):
    return f"{value:.2f}"


def census_rows(products, today, count=None):
    """The census's loans as bulk-load rows (docs/integration.md's columns): (loans,
    installments, guarantors), lists of dicts of strings. `products` are the credit products
    (code → domain product): the core's rates and the schedule engine's inputs."""
    members = census(today, count)
    by_identification = {m.identification: m for m in members}
    loans: list[dict[str, str]] = []
    installments: list[dict[str, str]] = []
    guarantors: list[dict[str, str]] = []
    for member in members:
        if member.reference is not None:
            specs = reference_loans(member, today)
        else:
            specs = generated_loans(member, members, today, products)
        for spec in specs:
            loan, rows, people = build(spec, member, products, by_identification, today)
            loans.append(
                {
                    "loan_number": loan["loan_number"],
                    "member_number": loan["member_number"],
                    "product_code": loan["product_code"],
                    "amount": _money(loan["amount"]),
                    "annual_rate": f"{loan['annual_rate']:.2f}",  # two decimals, as the core
                    "system": loan["system"],
                    "frequency": loan["frequency"],
                    "term_months": str(loan["term_months"]),
                    "disbursed_on": loan["disbursed_on"].isoformat(),
                    "application_number": "",
                    "settled_on": loan["closed_on"].isoformat() if loan["closed_on"] else "",
                }
            )
            for row in rows:
                installments.append(
                    {
                        "loan_number": row["loan_number"],
                        "number": str(row["number"]),
                        "due_date": row["due_date"].isoformat(),
                        **{
                            k: _money(row[k])
                            for k in ("principal", "interest", "insurance", "installment")
                        },
                        "balance": _money(row["balance"]),
                        "paid_on": row["paid_on"].isoformat() if row["paid_on"] else "",
                    }
                )
            guarantors.extend(
                {"loan_number": g["loan_number"], "member_number": g["member_number"]}
                for g in people
                if g["member_number"]
            )
    return loans, installments, guarantors


# The demo core's late-interest rule (docs/credit.md, "Demo data"): the agreed rate with the
# regulator's 10 % surcharge, on each overdue installment's principal only, for the days since
# that installment's own due date (30/360 days as the schedule). A real core applies its own
# regulated rule; the portal only shows what the core sends (`loan_due_updated`).
LATE_SURCHARGE = Decimal("1.1")


def late_interest(principal, annual_rate, days):
    """Interés de mora of one overdue installment `days` late, as the demo core computes it."""
    return domain.cents(principal * annual_rate * LATE_SURCHARGE / 100 * days / 360)


def arrears_snapshot(loan_number, annual_rate, overdue_rows, as_of):
    """What the demo's core says of a loan in arrears at the close of `as_of` (the data of its
    `loan_due_updated`, the same for loan_dues.csv and the demo core's day's close): days late
    since the oldest unpaid due date, the overdue installments, and the late interest of
    `late_interest` summed over them (the portal never computes it). `overdue_rows`: {number,
    due_date, principal, interest, installment}."""
    rows = sorted(overdue_rows, key=lambda r: date.fromisoformat(str(r["due_date"])))
    rate = Decimal(annual_rate)
    days = (as_of - date.fromisoformat(str(rows[0]["due_date"]))).days
    principal = sum((Decimal(r["principal"]) for r in rows), Decimal("0.00"))
    interest = sum((Decimal(r["interest"]) for r in rows), Decimal("0.00"))
    owed = sum((Decimal(r["installment"]) for r in rows), Decimal("0.00"))
    mora = sum(
        (
            late_interest(
                Decimal(r["principal"]), rate, (as_of - date.fromisoformat(str(r["due_date"]))).days
            )
            for r in rows
        ),
        Decimal("0.00"),
    )
    return {
        "loan_number": loan_number,
        "as_of": as_of.isoformat(),
        "days_overdue": days,
        "overdue_installments": [int(r["number"]) for r in rows],
        "overdue_principal": _money(principal),
        "overdue_interest": _money(interest),
        "late_interest": _money(mora),
        "other_charges": "0.00",
        "total_due": _money(owed + mora),
    }


def census_dues(loans, installments, today):
    """The demo core's snapshots of the last day's close (yesterday), as loan_dues.csv rows:
    one per active loan with an installment unpaid and due before that close."""
    as_of = today - timedelta(days=1)
    rates = {
        loan["loan_number"]: Decimal(loan["annual_rate"])
        for loan in loans
        if not loan["settled_on"]
    }
    late: dict[str, Any] = {}
    for row in installments:
        due_on = date.fromisoformat(row["due_date"])
        if row["loan_number"] in rates and not row["paid_on"] and due_on < as_of:
            late.setdefault(row["loan_number"], []).append(row)
    dues = []
    for number, rows in late.items():
        snapshot = arrears_snapshot(number, rates[number], rows, as_of)
        dues.append(
            {
                **snapshot,
                "days_overdue": str(snapshot["days_overdue"]),
                "overdue_installments": " ".join(map(str, snapshot["overdue_installments"])),
            }
        )
    return dues


def products_of(session):
    return {row.code: catalog.to_domain(row) for row in catalog.active_products(session)}


def load(url, today, count=None):
    """Load the census's loans through the credit bulk load (services/credit/bulk.py) on `url`;
    returns how many loans were created. The test suite's quick way in; `scripts.portal setup`
    writes the same rows as CSV files and imports them (scripts/bulk_import.py)."""
    members = {m.member_number: m for m in census(today, count)}
    with session_scope(url) as session:
        loans, installments, guarantors = census_rows(products_of(session), today, count)
    schedules: dict[str, list[dict[str, str]]] = {}
    people: dict[str, Any] = {}
    for row in installments:
        schedules.setdefault(row["loan_number"], []).append(row)
    for row in guarantors:
        person = members[row["member_number"]]
        people.setdefault(row["loan_number"], []).append(
            {"member_number": person.member_number, **_person(person)}
        )
    rows = [
        {
            **loan,
            "borrower": _person(members[loan["member_number"]]),
            "schedule": schedules.get(loan["loan_number"], []),
            "guarantors": people.get(loan["loan_number"], []),
        }
        for loan in loans
    ]
    dues = [
        core_data.to_wire(core_data.checked(row_rules.parse_loan_due, row))
        for row in census_dues(loans, installments, today)
    ]
    with session_scope(url) as session:
        created = bulk.import_rows(session, "loans", rows)["created"]
        bulk.import_rows(session, "loan_dues", dues)
    return created


def _person(member):
    return {"identification": member.identification, "name": full_name(member)}
