"""Money helpers shared by every service."""

import pytest

from services.common.money import MoneyError, parse_amount


def test_amounts_refuse_absurd_and_over_precise_input():
    assert str(parse_amount("1234.5")) == "1234.50"
    for bad in ("1e999999", "NaN", "Infinity", "10.001", "abc", "1000000000000"):
        with pytest.raises(MoneyError):
            parse_amount(bad)
