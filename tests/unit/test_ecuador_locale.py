"""es-EC money as members type and read it (docs/domain.md, "Money and rounding")."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.ecuador_locale import (
    EXPECTED_FORMAT,
    AmountInputError,
    amount_input_text,
    fecha,
    fecha_dia,
    money,
    number,
    parse_amount_input,
)

READ_AS = {
    "2.500": "2500.00",
    "2.500,00": "2500.00",
    "2500": "2500.00",
    "2500,5": "2500.50",
    "$ 2.500,00": "2500.00",
    "$2.500,00": "2500.00",
    "  2.500,00 ": "2500.00",
    "1.200": "1200.00",
    "100.000": "100000.00",
    "1.234.567,89": "1234567.89",
    "2.5": "2.50",
    "2.50": "2.50",
    "2500.50": "2500.50",
    "2,5": "2.50",
    "0,50": "0.50",
    "10000": "10000.00",
    "0": "0.00",
}

REFUSED = [
    "2.50.0",
    "2,500.00",
    "10,000.00",
    "1.2345",
    "2,500",  # US thousands or three decimals: cannot tell
    "1,234,567",
    "12.34.567",
    "1234.567",
    "0.500",
    "2.500,001",
    "-100",
    "+100",
    "1e3",
    "abc",
    "2 500",
    "2.500,",
    ",50",
    ".50",
    "١٢٣",
    "1000000000000",
]


@pytest.mark.parametrize(("typed", "meant"), READ_AS.items())
def test_an_amount_reads_as_an_ecuadorian_means_it(typed, meant):
    assert parse_amount_input(typed) == Decimal(meant)


@pytest.mark.parametrize("typed", REFUSED)
def test_an_amount_that_reads_two_ways_is_refused_never_guessed(typed):
    with pytest.raises(AmountInputError) as refused:
        parse_amount_input(typed)
    assert "2.500" in refused.value.message or "grande" in refused.value.message


def test_an_empty_field_is_no_amount():
    assert parse_amount_input("") is None
    assert parse_amount_input("   ") is None
    assert parse_amount_input(None) is None
    assert parse_amount_input("$ ") is None


def test_the_refusal_shows_the_expected_format():
    with pytest.raises(AmountInputError) as refused:
        parse_amount_input("2,500.00")
    assert refused.value.message == EXPECTED_FORMAT
    assert "2.500,00" in EXPECTED_FORMAT


cents = st.decimals(min_value=0, max_value=Decimal("999999999.99"), places=2)


@given(cents)
def test_what_the_portal_shows_reads_back_as_the_same_amount(amount):
    assert parse_amount_input(number(amount)) == amount
    assert parse_amount_input(money(amount)) == amount
    assert parse_amount_input(f"{amount:.2f}".replace(".", ",")) == amount


@given(st.integers(min_value=1000, max_value=999_999_999))
def test_a_dot_before_three_digits_groups_thousands(whole):
    grouped = f"{whole:,}".replace(",", ".")
    assert parse_amount_input(grouped) == Decimal(whole)


@given(st.integers(min_value=0, max_value=99_999), st.integers(min_value=0, max_value=99))
def test_a_dot_before_one_or_two_digits_is_the_decimal_point(whole, frac):
    for text in (f"{whole}.{frac:02d}", f"{whole}.{frac}" if frac < 10 else f"{whole}.{frac}"):
        digits = text.split(".")[1]
        assert parse_amount_input(text) == Decimal(f"{whole}.{digits}").quantize(Decimal("0.01"))


@given(st.text(max_size=12))
def test_any_text_is_read_or_refused_never_an_exception_of_another_kind(text):
    try:
        amount = parse_amount_input(text)
    except AmountInputError:
        return
    assert amount is None or (amount >= 0 and amount == amount.quantize(Decimal("0.01")))


def test_the_field_shows_again_the_amount_read_or_what_was_typed():
    assert amount_input_text("2500") == "2.500,00"
    assert amount_input_text("2,500.00") == "2,500.00"
    assert amount_input_text("") == ""


def test_money_and_numbers_are_shown_es_ec():
    assert money("2500") == "$ 2.500,00"
    assert money(Decimal("-1234.5")) == "-$ 1.234,50"
    assert money(None) == "" and money("") == "" and money("x") == ""
    assert number("40000", places=0) == "40.000"


def test_instants_are_shown_in_ecuador_time_and_dates_as_they_are():
    # 02:00 UTC on 1 December is still 30 November, 21:00, in Ecuador
    assert fecha("2026-12-01T02:00:00Z") == "30/11/2026 21:00"
    assert fecha(datetime(2026, 12, 1, 2, 0)) == "30/11/2026 21:00"  # naive = UTC as stored
    assert fecha(datetime(2026, 12, 1, 2, 0, tzinfo=UTC)) == "30/11/2026 21:00"
    assert fecha_dia("2026-12-01T02:00:00Z") == "30/11/2026"
    assert fecha(date(2026, 11, 30)) == "30/11/2026"
    assert fecha("2026-11-30") == "30/11/2026"
    assert fecha("not a date") == ""
