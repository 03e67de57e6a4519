"""Term-deposit rules (docs/domain.md "Term deposits"), exact to the cent."""

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from services.deposit import domain
from services.deposit.contracts import MATURITY, MONTHLY, PAYMENT_MODES

D = Decimal
START = date(2026, 3, 2)


def chart_at(rate, bands=None, **limits):
    return domain.RateChart(
        valid_from=date(2026, 1, 1),
        bands=bands or (domain.RateBand(30, None, D(rate), D("100.00")),),
        **limits,
    )


def test_worked_example_of_domain_md():
    p = domain.project(D("5000.00"), D("7.43"), 180, START, MATURITY, D("2"))
    assert (p.interest, p.withholding, p.net_interest) == (D("185.75"), D("3.72"), D("182.03"))
    assert p.total_at_maturity == p.total_received == D("5182.03")
    assert p.maturity_date == START + timedelta(days=180) == date(2026, 8, 29)
    assert [(x.number, x.date, x.days, x.interest) for x in p.payments] == [
        (1, date(2026, 8, 29), 180, D("185.75"))
    ]


def test_default_chart_bands_of_domain_md():
    chart = domain.DEFAULT_CHART
    amount = D("5000.00")
    expected = {
        30: "5.25",
        60: "5.25",
        61: "5.75",
        90: "5.75",
        91: "6.25",
        120: "6.25",
        121: "7.00",
        180: "7.00",
        181: "7.50",
        270: "7.50",
        271: "8.00",
        360: "8.00",
        361: "8.50",
        1080: "8.50",
    }
    for days, rate in expected.items():
        assert chart.rate_for(days, amount) == D(rate), days
    assert chart.withholding_rate == D("2.00")
    assert (chart.min_amount, chart.min_term_days, chart.max_term_days) == (D("100"), 30, 1080)


def test_amount_band_is_preferred_where_configured():
    chart = chart_at(
        "7.00",
        bands=(
            domain.RateBand(121, 180, D("7.00"), D("100.00")),
            domain.RateBand(121, 180, D("7.25"), D("10000.00"), D("49999.99")),
            domain.RateBand(121, 180, D("7.50"), D("50000.00")),
        ),
    )
    assert chart.rate_for(180, D("9999.99")) == D("7.00")
    assert chart.rate_for(180, D("10000.00")) == D("7.25")
    assert chart.rate_for(180, D("50000.00")) == D("7.50")
    assert chart.rate_for(181, D("50000.00")) is None


def test_maria_and_ana_deposits_at_the_default_chart():
    maria = domain.project(D("5000.00"), D("7.00"), 180, START, MATURITY, D("2"))
    assert (maria.interest, maria.withholding, maria.net_interest) == (
        D("175.00"),
        D("3.50"),
        D("171.50"),
    )
    ana = domain.project(D("10000.00"), D("8.50"), 361, START, MONTHLY, D("2"))
    assert len(ana.payments) == 13
    assert [p.days for p in ana.payments] == [30] * 12 + [1]
    assert ana.payments[0].interest == D("70.83")
    assert ana.payments[0].withholding == D("1.42")
    assert ana.payments[0].net == D("69.41")
    assert ana.payments[-1].interest == D("2.36")
    assert ana.payments[-1].date == ana.maturity_date == START + timedelta(days=361)
    assert ana.interest == D("70.83") * 12 + D("2.36") == D("852.32")
    assert ana.withholding == sum(p.withholding for p in ana.payments)
    assert ana.total_at_maturity == D("10000.00") + ana.payments[-1].net
    assert ana.total_received == D("10000.00") + ana.net_interest


def test_monthly_payments_fall_every_30_days():
    p = domain.project(D("1000.00"), D("6.25"), 95, START, MONTHLY, D("2"))
    assert [x.date for x in p.payments] == [
        START + timedelta(days=30),
        START + timedelta(days=60),
        START + timedelta(days=90),
        START + timedelta(days=95),
    ]
    exact = domain.project(D("1000.00"), D("8.00"), 360, START, MONTHLY, D("2"))
    assert [x.days for x in exact.payments] == [30] * 12


def test_withholding_rounds_half_up():
    assert domain.withholding_for(D("185.75"), D("2")) == D("3.72")  # 3.715
    assert domain.withholding_for(D("0.25"), D("2")) == D("0.01")  # 0.005
    assert domain.withholding_for(D("0.24"), D("2")) == D("0.00")


def test_accrued_interest_to_a_date():
    opened = date(2026, 1, 10)
    amount, rate = D("5000.00"), D("7.00")
    assert domain.accrued_interest(amount, rate, opened, 180, opened) == D("0.00")
    assert domain.accrued_interest(amount, rate, opened, 180, opened - timedelta(days=5)) == D(
        "0.00"
    )
    # 5000 × 7 % × 60 / 360 = 58.333… → 58.33
    assert domain.accrued_interest(amount, rate, opened, 180, opened + timedelta(days=60)) == D(
        "58.33"
    )
    # never beyond the term
    assert domain.accrued_interest(amount, rate, opened, 180, opened + timedelta(days=400)) == D(
        "175.00"
    )


def test_position_of_maria_sixty_days_in():
    opened = date(2026, 1, 10)
    terms = domain.DepositTerms(
        "DPF-100234-01", D("5000.00"), 180, D("7.00"), D("2.00"), MATURITY, opened
    )
    pos = domain.position(terms, opened + timedelta(days=60))
    assert pos.days_left == 120
    assert pos.days_elapsed == 60
    assert pos.accrued_interest == D("58.33")
    assert pos.payments_made == ()
    assert pos.next_payment.date == opened + timedelta(days=180)
    assert pos.projection.net_interest == D("171.50")


def test_position_of_ana_lists_the_payments_already_made():
    opened = date(2026, 1, 10)
    terms = domain.DepositTerms(
        "DPF-100781-01", D("10000.00"), 361, D("8.50"), D("2.00"), MONTHLY, opened
    )
    pos = domain.position(terms, opened + timedelta(days=30))
    assert [p.number for p in pos.payments_made] == [1]
    assert pos.payments_made[0].net == D("69.41")
    assert pos.next_payment.number == 2
    assert pos.days_left == 331
    assert pos.accrued_interest == D("70.83")
    before = domain.position(terms, opened + timedelta(days=29))
    assert before.payments_made == ()


def test_simulation_errors_in_spanish():
    chart = domain.DEFAULT_CHART
    today = date(2026, 5, 1)
    ok = domain.simulation_errors(D("100.00"), 30, today, today, chart)
    assert ok == {}
    errors = domain.simulation_errors(D("99.99"), 29, today - timedelta(days=1), today, chart)
    assert errors == {
        "amount": ["El monto mínimo es $ 100,00."],
        "term_days": ["El plazo mínimo es de 30 días."],
        "start_date": ["La fecha de inicio no puede estar en el pasado."],
    }
    assert domain.simulation_errors(D("500"), 1081, today, today, chart) == {
        "term_days": ["El plazo máximo es de 1.080 días."]
    }
    assert domain.simulation_errors(D("500"), 1080, today, today, chart) == {}


def test_chart_without_a_band_for_the_term_refuses_it():
    chart = chart_at("7.43", bands=(domain.RateBand(30, 180, D("7.43"), D("100.00")),))
    today = date(2026, 5, 1)
    assert domain.simulation_errors(D("5000"), 181, today, today, chart) == {
        "term_days": ["No hay una tasa vigente para este plazo y monto."]
    }


def test_chart_errors():
    bad = domain.RateChart(
        valid_from=date(2026, 1, 1),
        bands=(domain.RateBand(90, 60, D("0"), D("100"), D("50")),),
        withholding_rate=D("100"),
        min_term_days=90,
        max_term_days=30,
    )
    errors = domain.chart_errors(bad)
    assert set(errors) == {"bands.0", "withholding_rate", "max_term_days"}
    assert len(errors["bands.0"]) == 3
    assert domain.chart_errors(domain.DEFAULT_CHART) == {}


amounts = st.integers(min_value=10000, max_value=100_000_000).map(lambda c: D(c) / 100)
rates = st.integers(min_value=1, max_value=250_000).map(lambda r: D(r) / 10000)
terms = st.integers(min_value=30, max_value=1080)
withholdings = st.integers(min_value=0, max_value=3500).map(lambda w: D(w) / 100)


@given(amounts, rates, terms, withholdings)
def test_monthly_payments_add_up_to_the_interest_at_maturity(amount, rate, term, withholding):
    monthly = domain.project(amount, rate, term, START, MONTHLY, withholding)
    at_maturity = domain.interest_for(amount, rate, term)
    assert abs(monthly.interest - at_maturity) <= D("0.01") * len(monthly.payments)
    assert sum(p.days for p in monthly.payments) == term
    assert monthly.payments[-1].date == monthly.maturity_date
    assert all(p.days == 30 for p in monthly.payments[:-1])
    assert 1 <= monthly.payments[-1].days <= 30


@given(amounts, rates, terms, withholdings, st.sampled_from(PAYMENT_MODES))
def test_net_is_interest_less_withholding_and_never_negative(amount, rate, term, withholding, mode):
    p = domain.project(amount, rate, term, START, mode, withholding)
    assert p.net_interest == p.interest - p.withholding
    assert p.net_interest >= 0 and p.withholding >= 0 and p.interest >= 0
    for payment in p.payments:
        assert payment.net == payment.interest - payment.withholding
        assert payment.net >= 0 and payment.withholding <= payment.interest
        assert payment.interest == payment.interest.quantize(D("0.01"))
    assert p.total_received == p.amount + p.net_interest
    if mode == MATURITY:
        assert p.interest == domain.interest_for(amount, rate, term)
        assert p.total_at_maturity == p.total_received


@given(amounts, rates, terms, st.integers(min_value=-30, max_value=1200))
def test_accrued_interest_grows_with_time_and_stops_at_the_term(amount, rate, term, day):
    on = START + timedelta(days=day)
    accrued = domain.accrued_interest(amount, rate, START, term, on)
    later = domain.accrued_interest(amount, rate, START, term, on + timedelta(days=1))
    assert D("0.00") <= accrued <= later <= domain.interest_for(amount, rate, term)
