"""Money helpers shared by every service."""

import pytest

from services.common.money import MoneyError, parse_amount


def test_amounts_refuse_absurd_and_over_precise_input():
    assert str(parse_amount("1234.5")) == "1234.50"
    for bad in ("1e999999", "NaN", "Infinity", "10.001", "abc", "1000000000000"):
        with pytest.raises(MoneyError):
            parse_amount(bad)


def test_wire_amounts_follow_the_pattern_or_are_json_numbers_with_two_decimals():
    from decimal import Decimal

    from services.common.money import canonical_amount, parse_wire_amount

    assert parse_wire_amount("1000.00") == Decimal("1000.00")
    assert parse_wire_amount(1000.5) == Decimal("1000.50")  # a JSON number, one decimal
    assert parse_wire_amount(250) == Decimal("250.00")
    for bad in (
        "1e3",
        " 1000.00",
        "1000.00 ",
        "1000.00\n",
        "+1000.00",
        "1_000.00",
        "1000.5",
        "1000",
        "\u0661\u0660\u0660\u0660.00",
        "\uff11\uff10\uff10\uff10.00",
        1000.505,
        True,
        None,
        float("nan"),
        float("inf"),
    ):
        with pytest.raises(MoneyError):
            parse_wire_amount(bad)
    # what a page read from es-EC input goes out in wire form; anything else as typed
    assert canonical_amount("2500") == "2500.00"
    assert canonical_amount("2500.5") == "2500.50"
    assert canonical_amount("2,500.00") == "2,500.00"


def test_counts_are_integers_only_and_query_digits_become_integers():
    from marshmallow import ValidationError

    from services.common.fields import Count, counts

    field = Count()
    assert field.deserialize(12) == 12
    for bad in (12.9, 12.0, "12", True):
        with pytest.raises(ValidationError):
            field.deserialize(bad)
    assert counts({"page": "3", "other": "3"}, ("page",)) == {"page": 3, "other": "3"}
    assert counts({"page": "\u0663"}, ("page",)) == {"page": "\u0663"}  # not ASCII: refused later
