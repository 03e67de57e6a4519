"""docs/domain.md's worked examples, recomputed through the services' own functions.

Every fenced block marked `json money-example` in docs/domain.md is read here; its `given` goes
through the code that answers members (the domains, and the contracts that put the figures on the
wire) and must produce its `expect` exactly. A figure in the doc the code does not produce fails,
so the written rules and the code cannot drift apart.
"""

import json
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway import consolidation
from services.accounts import domain as accounts
from services.common import clock
from services.common.money import fmt, money
from services.credit import domain as credit
from services.credit import store as credit_store
from services.credit.contracts import ScheduleSchema
from services.deposit import domain as deposit
from services.deposit.contracts import DepositSimulationRequestSchema, ProjectionSchema

DOC = Path(__file__).resolve().parents[2] / "docs" / "domain.md"
BLOCK = re.compile(r"^```json money-example\n(.*?)^```$", re.M | re.S)
D = Decimal
CHART = deposit.DEFAULT_CHART  # the default chart docs/domain.md shows


def examples() -> list[dict[str, Any]]:
    return [json.loads(block) for block in BLOCK.findall(DOC.read_text(encoding="utf-8"))]


def _schedule(given):
    return credit.amortize(
        D(given["amount"]),
        D(given["annual_rate"]),
        given["term_months"],
        given["system"],
        given["frequency"],
        date.fromisoformat(given["start_date"]),
        D(given["insurance_rate"]),
    )


def round_half_up(given):
    return {"rounded": [fmt(money(value)) for value in given["values"]]}


def start_date_window(given):
    today = date.fromisoformat(given["today"])
    days = [date.fromisoformat(day) for day in given["start_dates"]]
    return {
        "latest_start": clock.latest_start(today).isoformat(),
        "accepted": [d.isoformat() for d in days if clock.start_date_error(d, today) is None],
        "refused": [d.isoformat() for d in days if clock.start_date_error(d, today) is not None],
    }


def period_and_effective_rate(given):
    rate, frequency = D(given["annual_rate"]), given["frequency"]
    i = credit.period_rate(rate, frequency)
    # the figures the API answers (a table's `period_rate` is in percent)
    months = credit.months_per_period(frequency)
    schedule = credit.amortize("1000.00", rate, months, "french", frequency, date(2027, 1, 1))
    wire = ScheduleSchema().dump(credit_store.schedule_dict(schedule))
    assert D(wire["effective_annual_rate"]) == credit.effective_annual_rate(rate, frequency)
    return {
        "i": str(i),
        "period_rate": wire["period_rate"],
        "effective_annual_rate": wire["effective_annual_rate"],
    }


def schedule(given):
    built = _schedule(given)
    wire = ScheduleSchema().dump(credit_store.schedule_dict(built))
    first = built.rows[0]
    answer = {
        key: wire[key]
        for key in (
            "installment",
            "period_rate",
            "effective_annual_rate",
            "total_principal",
            "total_interest",
            "total_insurance",
            "total_payment",
        )
    }
    answer["principal_and_interest"] = fmt(first.principal + first.interest)
    answer["first_row"], answer["last_row"] = wire["rows"][0], wire["rows"][-1]
    return answer


def payment_capacity(given):
    built = _schedule(given)
    income, expenses = D(given["monthly_income"]), D(given["monthly_expenses"])
    errors = credit.payment_capacity_errors(built, income, expenses)
    per_month = credit.monthly_equivalent(built.max_installment, built.frequency)
    return {
        "monthly_equivalent": fmt(per_month),
        "capacity": fmt(credit.cents((income - expenses) * credit.PAYMENT_CAPACITY)),
        "accepted": not errors,
    }


class _Stored:
    def __init__(self, row: credit.Row, paid_on: date | None) -> None:
        self.number, self.due_date, self.principal = row.number, row.due_date, row.principal
        self.installment, self.paid_on = row.installment, paid_on


def loan_position(given):
    built = _schedule(given)
    rows = [
        _Stored(row, row.due_date if row.number in given["paid_rows"] else None)
        for row in built.rows
    ]
    pos = credit.loan_position(built.amount, rows, date.fromisoformat(given["today"]))
    return {
        "outstanding_principal": fmt(pos.outstanding_principal),
        "paid_installments": pos.paid_installments,
        "overdue_installments": pos.overdue_installments,
        "overdue_amount": fmt(pos.overdue_amount),
        "oldest_overdue_due_date": (
            pos.oldest_overdue_due_date.isoformat() if pos.oldest_overdue_due_date else None
        ),
        "next_due_date": pos.next_due_date.isoformat() if pos.next_due_date else None,
        "next_installment": fmt(pos.next_installment) if pos.next_installment else None,
    }


def deposit_amount_limit(given):
    def refused(amount):
        body = {"amount": amount, "term_days": 180, "interest_payment": "maturity"}
        return "amount" in DepositSimulationRequestSchema().validate(body)

    def below_minimum(amount):
        return bool(deposit.simulation_errors(D(amount), 180, None, date(2027, 1, 1), CHART))

    amounts = given["amounts"]
    out = [a for a in amounts if refused(a) or below_minimum(a)]
    return {"accepted": [a for a in amounts if a not in out], "refused": out}


def deposit_projection(given):
    amount, term = D(given["amount"]), given["term_days"]
    rate = CHART.rate_for(term, amount) if given.get("chart") else D(given["annual_rate"])
    assert rate is not None
    projection = deposit.project(
        amount,
        rate,
        term,
        date.fromisoformat(given["start_date"]),
        given["interest_payment"],
        D(given["withholding_rate"]),
    )
    data = vars(projection).copy()
    data["interest_payment_name"] = projection.interest_payment_name
    wire = ProjectionSchema().dump(data)
    answer = {key: wire[key] for key in wire if not isinstance(wire[key], list | dict)}
    answer["payments_count"] = len(wire["payments"])
    answer["first_payment"], answer["last_payment"] = wire["payments"][0], wire["payments"][-1]
    return answer


def accrued_interest(given):
    opened, term = date.fromisoformat(given["opened_on"]), given["term_days"]
    amount, rate = D(given["amount"]), D(given["annual_rate"])
    terms = deposit.DepositTerms("DPF-1", amount, term, rate, D("2.00"), "maturity", opened)
    days = [date.fromisoformat(day) for day in given["as_of"]]
    return {
        "days_elapsed": [deposit.position(terms, day).days_elapsed for day in days],
        "accrued_interest": [
            fmt(deposit.accrued_interest(amount, rate, opened, term, day)) for day in days
        ],
    }


def statement_closing(given):
    opening = D(given["opening_balance"])
    balance = opening
    for movement in given["movements"]:
        debit, credit_ = movement.get("debit"), movement.get("credit")
        balance = accounts.apply_movement(
            balance, D(debit) if debit else None, D(credit_) if credit_ else None
        )
    credits = sum((D(m.get("credit", "0")) for m in given["movements"]), D("0.00"))
    debits = sum((D(m.get("debit", "0")) for m in given["movements"]), D("0.00"))
    closing = accounts.closing_balance(opening, credits, debits)
    assert closing == balance  # movement by movement and over the range: one figure
    return {
        "total_credits": fmt(credits),
        "total_debits": fmt(debits),
        "closing_balance": fmt(closing),
    }


def position_totals(given):
    savings = [{"balance": b} for b in given["savings"]]
    deposits = [{"amount": a} for a in given["deposits"]]
    loans = [{"outstanding_principal": o} for o in given["loans_outstanding"]]
    shares = [{"balance": b} for b in given["shares"]]
    totals = consolidation.totals(savings, deposits, loans, given["unavailable"], shares)
    return {key: None if value is None else fmt(value) for key, value in totals.items()}


def available_balance(given):
    return {
        "available_balance": [
            fmt(accounts.available_balance(a["product"], D(a["available_balance"])))
            for a in given["accounts"]
        ]
    }


RULES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    fn.__name__: fn
    for fn in (
        round_half_up,
        start_date_window,
        period_and_effective_rate,
        schedule,
        payment_capacity,
        loan_position,
        deposit_amount_limit,
        deposit_projection,
        accrued_interest,
        statement_closing,
        position_totals,
        available_balance,
    )
}


def test_every_rule_has_a_worked_example_and_every_example_a_rule():
    found = {example["rule"] for example in examples()}
    assert found == set(RULES)


@pytest.mark.parametrize(
    "example", examples(), ids=lambda e: f"{e['rule']}:{json.dumps(e['given'])[:60]}"
)
def test_worked_example_is_what_the_code_computes(example):
    computed = RULES[example["rule"]](example["given"])
    expected = example["expect"]
    assert {key: computed.get(key) for key in expected} == expected
