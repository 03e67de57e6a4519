"""The amortization engine and the loan rules of docs/domain.md ("Loans"), to the cent."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.ec import ci

from services.credit import domain

D = Decimal
START = date(2026, 1, 15)


def check_schedule(system):
    return domain.amortize(D("10000.00"), D("16.77"), 12, system, "monthly", START, D("0"))


def test_french_check_numbers_of_domain_md():
    schedule = check_schedule("french")
    assert schedule.installment == D("910.96")
    assert [r.installment for r in schedule.rows[:-1]] == [D("910.96")] * 11
    assert schedule.rows[-1].installment == D("910.90")
    assert schedule.total_interest == D("931.46")
    assert schedule.rows[0].interest == D("139.75")
    assert schedule.rows[-1].balance == D("0.00")
    assert schedule.total_principal == D("10000.00")
    assert schedule.total_payment == D("10931.46")


def test_german_check_numbers_of_domain_md():
    schedule = check_schedule("german")
    first = schedule.rows[0]
    assert (first.principal, first.interest, first.installment) == (
        D("833.33"),
        D("139.75"),
        D("973.08"),
    )
    assert schedule.rows[-1].installment == D("845.02")
    assert schedule.total_interest == D("908.38")
    assert schedule.rows[-1].principal == D("833.37")  # absorbs the rounding
    assert schedule.total_principal == D("10000.00")


def test_period_rate_and_effective_annual_rate():
    assert domain.period_rate(D("16.77"), "monthly") == D("0.013975")
    assert domain.period_rate(D("12.00"), "quarterly") == D("0.03")
    assert domain.effective_annual_rate(D("16.77"), "monthly") == D("18.12")
    assert domain.effective_annual_rate(D("15.60"), "monthly") == D("16.77")
    assert domain.effective_annual_rate(D("12.00"), "semiannual") == D("12.36")
    assert check_schedule("french").effective_annual_rate == D("18.12")


def test_insurance_column_is_monthly_rate_of_the_opening_balance_times_months():
    monthly = domain.amortize(D("10000.00"), D("16.77"), 12, "french", "monthly", START)
    assert monthly.rows[0].insurance == D("5.00")  # 10 000 × 0.05 %
    assert monthly.rows[1].insurance == domain.cents(monthly.rows[0].balance * D("0.0005"))
    # the insurance is its own column: principal + interest stays the fixed installment
    assert monthly.rows[0].principal + monthly.rows[0].interest == D("910.96")
    assert monthly.rows[0].installment == D("915.96")
    assert monthly.installment == D("915.96")
    assert monthly.total_insurance == sum(r.insurance for r in monthly.rows)
    quarterly = domain.amortize(D("10000.00"), D("16.77"), 12, "french", "quarterly", START)
    assert quarterly.rows[0].insurance == D("15.00")  # three months of 0.05 %
    assert len(quarterly.rows) == 4


def test_due_dates_keep_the_original_day_when_the_month_has_it():
    schedule = domain.amortize(
        D("1200.00"), D("12"), 6, "french", "monthly", date(2027, 1, 31), D("0")
    )
    assert [r.due_date for r in schedule.rows] == [
        date(2027, 2, 28),
        date(2027, 3, 31),
        date(2027, 4, 30),
        date(2027, 5, 31),
        date(2027, 6, 30),
        date(2027, 7, 31),
    ]
    assert domain.add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    semi = domain.amortize(D("1200.00"), D("12"), 12, "german", "semiannual", date(2027, 8, 31))
    assert [r.due_date for r in semi.rows] == [date(2028, 2, 29), date(2028, 8, 31)]


def test_term_must_be_a_multiple_of_the_period():
    with pytest.raises(ValueError):
        domain.amortize(D("1000.00"), D("12"), 10, "french", "quarterly", START)


def test_installment_status_against_today():
    today = date(2026, 6, 10)
    assert domain.installment_status(date(2026, 6, 1), date(2026, 5, 30), today) == "pagada"
    assert domain.installment_status(date(2026, 6, 1), None, today) == "vencida"
    assert domain.installment_status(date(2026, 6, 10), None, today) == "pendiente"
    assert domain.installment_status(date(2026, 7, 1), None, today) == "pendiente"


def test_loan_position_counts_overdue_and_next_installment():
    schedule = domain.amortize(D("4000.00"), D("24.50"), 24, "german", "monthly", date(2026, 1, 5))

    class StoredRow:
        def __init__(self, row, paid_on):
            self.number, self.due_date, self.principal = row.number, row.due_date, row.principal
            self.installment, self.paid_on = row.installment, paid_on

    rows = [StoredRow(r, r.due_date if r.number <= 5 else None) for r in schedule.rows]
    position = domain.loan_position(D("4000.00"), rows, date(2026, 7, 20))
    assert position.paid_installments == 5
    assert position.overdue_installments == 1  # the 6th, due 05/07/2026
    assert position.oldest_overdue_due_date == date(2026, 7, 5)
    assert position.overdue_amount == schedule.rows[5].installment
    # the next installment is never a past date (API.md): the 7th, due 05/08/2026
    assert position.next_due_date == date(2026, 8, 5)
    assert position.next_installment == schedule.rows[6].installment
    assert position.outstanding_principal == schedule.rows[4].balance
    # due today is the next one, not overdue
    on_the_day = domain.loan_position(D("4000.00"), rows, date(2026, 8, 5))
    assert on_the_day.next_due_date == date(2026, 8, 5) and on_the_day.overdue_installments == 1


def test_arrears_are_the_cores_latest_figures_or_none():
    class Snapshot:
        as_of, days_overdue, oldest_overdue_due_date = date(2026, 7, 19), 14, date(2026, 7, 5)
        late_interest, total_due = D("3.21"), D("259.36")

    assert domain.arrears(Snapshot(), date(2026, 7, 5)) == {
        "days_overdue": 14,
        "oldest_overdue_due_date": date(2026, 7, 5),
        "late_interest": D("3.21"),
        "total_due": D("259.36"),
        "due_as_of": date(2026, 7, 19),
    }
    # none sent: no figures of the core, the stored table still says since when
    assert domain.arrears(None, date(2026, 7, 5)) == {
        "days_overdue": None,
        "oldest_overdue_due_date": date(2026, 7, 5),
        "late_interest": None,
        "total_due": None,
        "due_as_of": None,
    }
    up_to_date = Snapshot()
    up_to_date.days_overdue = 0
    assert domain.arrears(up_to_date, None)["late_interest"] is None


# --- products and caps ----------------------------------------------------------------------


def product(rate, segment="Consumo ordinario", code="X"):
    return domain.Product(code, "Prueba", segment, D(rate), D("100"), D("1000"), 12)


CAPS = [
    domain.RateCap("Consumo ordinario", D("17.30"), date(2024, 1, 1)),
    domain.RateCap("Consumo ordinario", D("16.77"), date(2025, 1, 1)),
    domain.RateCap("Microcrédito", D("28.50"), date(2025, 1, 1)),
]


def test_cap_in_force_is_the_latest_one_not_after_the_date():
    assert domain.cap_in_force(CAPS, "Consumo ordinario", date(2024, 6, 1)).max_effective_rate == D(
        "17.30"
    )
    assert domain.cap_in_force(CAPS, "Consumo ordinario", date(2025, 1, 1)).max_effective_rate == D(
        "16.77"
    )
    assert domain.cap_in_force(CAPS, "Inmobiliario", date(2025, 6, 1)) is None


def test_product_over_its_segment_cap_is_refused():
    # 15.60 % nominal is 16.77 % effective: exactly the consumo cap
    assert domain.check_rate_cap(product("15.60"), CAPS, date(2026, 1, 1)) == D("16.77")
    with pytest.raises(domain.RateCapExceeded):
        domain.check_rate_cap(product("15.70"), CAPS, date(2026, 1, 1))
    # the same product was allowed under the older, higher cap
    assert domain.check_rate_cap(product("15.70"), CAPS, date(2024, 6, 1)) == D("16.88")
    with pytest.raises(domain.RateCapExceeded):
        domain.check_rate_cap(product("10", segment="Inmobiliario"), CAPS, date(2026, 1, 1))


# --- request and application rules ----------------------------------------------------------

CONSUMO = domain.Product(
    "CONSUMO", "Crédito de consumo", "Consumo ordinario", D("15.60"), D("500"), D("40000"), 72
)


def test_request_errors_name_each_field_in_spanish():
    today = date(2026, 3, 1)
    assert domain.request_errors(None, D("1000"), 12, "french", "monthly", today, today) == {
        "product_code": ["El producto de crédito no existe."]
    }
    errors = domain.request_errors(
        CONSUMO, D("100.00"), 80, "french", "quarterly", date(2026, 2, 1), today
    )
    assert errors["amount"] == [
        "El monto debe estar entre $ 500,00 y $ 40.000,00 para Crédito de consumo."
    ]
    assert "El plazo máximo de Crédito de consumo es 72 meses." in errors["term_months"]
    assert "start_date" in errors
    errors = domain.request_errors(CONSUMO, D("1000"), 10, "french", "quarterly", today, today)
    assert errors == {
        "term_months": ["El plazo debe ser múltiplo de 3 meses para la frecuencia trimestral."]
    }
    assert domain.request_errors(CONSUMO, D("1000"), 12, "german", "monthly", today, today) == {}


def test_payment_capacity_is_40_percent_of_income_minus_expenses():
    schedule = domain.amortize(D("10000.00"), D("16.77"), 12, "french", "monthly", START, D("0"))
    # 910.96 needs (income − expenses) × 40 % ≥ 910.96
    assert domain.payment_capacity_errors(schedule, D("2500.00"), D("222.60")) == {}
    errors = domain.payment_capacity_errors(schedule, D("2500.00"), D("222.70"))
    assert "supera su capacidad de pago de $ 910,92" in errors["monthly_income"][0]
    assert domain.payment_capacity_errors(schedule, D("0"), D("0")) == {
        "monthly_income": ["Los ingresos mensuales deben ser mayores que 0."]
    }
    assert "monthly_expenses" in domain.payment_capacity_errors(schedule, D("500"), D("600"))


def test_guarantor_rules():
    applicant = "1712345675"

    def is_applicant(ident):
        return ident == applicant

    ok = [{"identification": "1709876542"}, {"identification": "0104567896"}]
    assert domain.guarantor_errors(ok, ci.is_valid, is_applicant) == {}
    four = ok + [{"identification": "0918765439"}, {"identification": "1803456787"}]
    assert domain.guarantor_errors(four, ci.is_valid, is_applicant) == {
        "guarantors": ["Puede registrar como máximo 3 garantes."]
    }
    errors = domain.guarantor_errors(
        [
            {"identification": "1712345670"},
            {"identification": applicant},
            {"identification": "1709876542"},
        ],
        ci.is_valid,
        is_applicant,
    )
    assert errors == {
        "guarantors.0.identification": ["La cédula no es válida."],
        "guarantors.1.identification": ["El solicitante no puede ser su propio garante."],
    }


def test_mask_identification():
    assert domain.mask_identification("1712345675") == "17******75"


# --- properties over random valid inputs ----------------------------------------------------


# (min amount, max amount, max term) of the catalogue's products: the valid inputs
CATALOGUE_LIMITS = [(500, 40_000, 72), (300, 20_000, 48), (10_000, 150_000, 240), (100, 3_000, 12)]


@st.composite
def loans(draw):
    low, high, max_term = draw(st.sampled_from(CATALOGUE_LIMITS))
    frequency = draw(st.sampled_from(list(domain.FREQUENCIES)))
    months = domain.FREQUENCIES[frequency]
    n = draw(st.integers(min_value=1, max_value=max_term // months))
    amount = D(draw(st.integers(min_value=low * 100, max_value=high * 100))) / 100
    rate = D(draw(st.integers(min_value=1, max_value=3500))) / 100
    insurance = draw(st.sampled_from([D("0"), D("0.0500"), D("0.0800")]))
    start = draw(st.dates(min_value=date(2024, 1, 1), max_value=date(2035, 12, 31)))
    system = draw(st.sampled_from(domain.SYSTEMS))
    return amount, rate, n * months, system, frequency, start, insurance


@settings(max_examples=300, deadline=None)
@given(loans())
def test_schedule_properties(loan):
    amount, rate, term, system, frequency, start, insurance = loan
    schedule = domain.amortize(amount, rate, term, system, frequency, start, insurance)
    rows = schedule.rows
    i = domain.period_rate(rate, frequency)
    months = domain.FREQUENCIES[frequency]
    assert len(rows) == term // months
    assert sum(r.principal for r in rows) == amount
    assert rows[-1].balance == D("0.00")
    previous = amount
    for row in rows:
        assert row.balance >= 0
        assert row.balance < previous  # strictly decreasing
        assert row.interest == domain.cents(previous * i)
        assert row.insurance == domain.cents(previous * insurance / 100 * months)
        assert row.installment == row.principal + row.interest + row.insurance
        assert row.balance == previous - row.principal
        for value in (row.principal, row.interest, row.insurance, row.balance):
            assert value == domain.cents(value)
        previous = row.balance
    payments = [r.principal + r.interest for r in rows]
    if system == "french":
        assert len(set(payments[:-1])) <= 1
    else:
        assert len({r.principal for r in rows[:-1]}) <= 1
    assert schedule.total_payment == sum(r.installment for r in rows)


# --- an application equal to one in process; withdrawing -------------------------------------


def stored_application(status, product_code="CONSUMO", amount="5000.00", term_months=24):
    from types import SimpleNamespace

    return SimpleNamespace(
        application_number="SC-2026-000001",
        status=status,
        product_code=product_code,
        amount=D(amount),
        term_months=term_months,
    )


@pytest.mark.parametrize("status", ["ingresada", "en_analisis"])
def test_an_equal_application_in_process_is_refused_naming_it(status):
    message = domain.duplicate_refusal([stored_application(status)], "CONSUMO", D("5000"), 24)
    assert message is not None and "SC-2026-000001" in message


@pytest.mark.parametrize(
    "status, product, amount, term",
    [
        ("desistida", "CONSUMO", "5000.00", 24),
        ("negada", "CONSUMO", "5000.00", 24),
        ("desembolsada", "CONSUMO", "5000.00", 24),
        ("ingresada", "EMERGENTE", "5000.00", 24),
        ("ingresada", "CONSUMO", "5000.01", 24),
        ("ingresada", "CONSUMO", "5000.00", 36),
    ],
)
def test_another_application_or_one_no_longer_in_process_is_no_duplicate(
    status, product, amount, term
):
    assert domain.duplicate_refusal([stored_application(status)], product, D(amount), term) is None


def test_only_an_application_in_process_can_be_withdrawn():
    assert domain.withdrawal_refusal("SC-2026-000001", "ingresada") is None
    assert domain.withdrawal_refusal("SC-2026-000001", "en_analisis") is None
    for status in ("aprobada", "negada", "desembolsada", "desistida"):
        assert "SC-2026-000001" in domain.withdrawal_refusal("SC-2026-000001", status)


def test_the_core_cannot_move_a_withdrawn_application():
    with pytest.raises(domain.Refusal, match="desistió"):
        domain.status_change("desistida", "aprobada")


# --- the quote of Pagar cuota ----------------------------------------------------------------


@dataclass
class _Row:
    number: int
    due_date: date
    principal: Decimal
    installment: Decimal
    paid_on: date | None = None


@dataclass
class _Snapshot:
    as_of: date
    days_overdue: int
    late_interest: Decimal
    other_charges: Decimal


QUOTE_TODAY = date(2026, 12, 7)
QUOTE_ROWS = [
    _Row(1, date(2026, 10, 5), Decimal("80.00"), Decimal("100.10"), paid_on=date(2026, 10, 5)),
    _Row(2, date(2026, 11, 5), Decimal("81.00"), Decimal("100.10")),
    _Row(3, date(2026, 12, 7), Decimal("82.00"), Decimal("99.95")),
    _Row(4, date(2027, 1, 5), Decimal("83.00"), Decimal("99.80")),
]


def test_a_quote_of_a_loan_up_to_date_is_its_next_installment_alone():
    paid = _Row(2, date(2026, 11, 5), Decimal("81.00"), Decimal("100.10"), date(2026, 11, 5))
    rows = [QUOTE_ROWS[0], paid, *QUOTE_ROWS[2:]]
    quote = domain.payment_quote("activo", rows, None, QUOTE_TODAY)
    # due today is not overdue: the next one, with no late interest and no date of the core
    assert (quote.installment_numbers, quote.amount) == ((3,), Decimal("99.95"))
    assert (quote.late_interest, quote.as_of, quote.days_overdue) == (Decimal("0.00"), None, 0)


def test_an_overdue_quote_adds_the_cores_late_interest_and_needs_its_snapshot():
    snapshot = _Snapshot(date(2026, 12, 6), 31, Decimal("2.37"), Decimal("1.50"))
    quote = domain.payment_quote("activo", QUOTE_ROWS, snapshot, QUOTE_TODAY)
    assert quote.installment_numbers == (2, 3)
    assert quote.installments_amount == Decimal("200.05")
    assert quote.amount == Decimal("203.92")  # 100.10 + 99.95 + 2.37 + 1.50
    assert (quote.as_of, quote.days_overdue, quote.due_date) == (
        date(2026, 12, 6),
        31,
        date(2026, 11, 5),
    )
    for missing in (None, _Snapshot(date(2026, 12, 6), 0, Decimal(0), Decimal(0))):
        with pytest.raises(domain.Refusal, match="interés de mora"):
            domain.payment_quote("activo", QUOTE_ROWS, missing, QUOTE_TODAY)
    with pytest.raises(domain.Refusal, match="cancelado"):
        domain.payment_quote("cancelado", QUOTE_ROWS, snapshot, QUOTE_TODAY)
