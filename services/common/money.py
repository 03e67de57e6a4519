"""Money is Decimal, rounded to cents ROUND_HALF_UP; on the wire a string with two decimals."""

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# no amount in the portal comes near this; it keeps absurd input ("1e999999") out of arithmetic
MAX_AMOUNT = Decimal("1e12")


class MoneyError(ValueError):
    pass


class MoneyFormatError(MoneyError):
    """A number, but not written as the wire wants it."""


def to_decimal(value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        # floats never carry money: convert through their shortest repr only for rates from config
        value = repr(value)
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise MoneyError(f"not a number: {value!r}") from exc


def money(value: object) -> Decimal:
    """Round to cents, half up."""
    return to_decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def parse_amount(value: object) -> Decimal:
    """A member's amount: a finite number with at most two decimals (never rounded silently)."""
    amount = to_decimal(value)
    if not amount.is_finite() or abs(amount) >= MAX_AMOUNT:
        raise MoneyError("not a finite amount in range")
    if amount != amount.quantize(CENT):
        raise MoneyError("more than two decimals")
    return amount.quantize(CENT)


# docs/domain.md "Money and rounding": an amount on the wire is a string of ASCII digits with
# exactly two decimals (a minus sign only where a balance may be negative; validators refuse it
# in what a member enters)
WIRE_AMOUNT = re.compile(r"-?[0-9]+\.[0-9]{2}")
# a number written otherwise ("1000", "1000.5", " 10.00", "+10.00"): said how to write it
_ALMOST = re.compile(r"\s*[+-]?[0-9]+(\.[0-9]{0,2})?\s*")
# what a page may hand over after reading es-EC input: digits with up to two decimals
_PLAIN_AMOUNT = re.compile(r"[0-9]+(\.[0-9]{1,2})?")


def parse_wire_amount(value: object) -> Decimal:
    """An amount as it arrives in JSON or over RPC: the string `"1234.50"` (nothing else: no
    exponent, sign, blank, underscore or non-ASCII digit), a JSON number with at most two
    decimals, or a Decimal (in-process callers)."""
    if isinstance(value, bool) or value is None:
        raise MoneyError(f"not an amount: {value!r}")
    if isinstance(value, str):
        if not WIRE_AMOUNT.fullmatch(value):
            if re.fullmatch(r"-?[0-9]+\.[0-9]{3,}", value):
                raise MoneyError("more than two decimals")
            if _ALMOST.fullmatch(value):
                raise MoneyFormatError(f"not in wire form: {value!r}")
            raise MoneyError(f"not an amount: {value!r}")
        return parse_amount(value)
    if isinstance(value, int | float | Decimal):
        return parse_amount(value)
    raise MoneyError(f"not an amount: {value!r}")


def canonical_amount(text: str | None) -> str:
    """A page's plain reading of an amount ("2500", "2500.5") in wire form ("2500.50"); anything
    else is returned as typed, for the field to refuse with its message."""
    text = (text or "").strip()
    if _PLAIN_AMOUNT.fullmatch(text):
        return f"{Decimal(text):.2f}"
    return text


def fmt(value: object) -> str:
    """JSON form: '1234.50'."""
    return f"{money(value):.2f}"
