"""Money is Decimal, rounded to cents ROUND_HALF_UP; on the wire a string with two decimals."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# no amount in the portal comes near this; it keeps absurd input ("1e999999") out of arithmetic
MAX_AMOUNT = Decimal("1e12")


class MoneyError(ValueError):
    pass


def to_decimal(value):
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        # floats never carry money: convert through their shortest repr only for rates from config
        value = repr(value)
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise MoneyError(f"not a number: {value!r}") from exc


def money(value):
    """Round to cents, half up."""
    return to_decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def parse_amount(value):
    """A member's amount: a finite number with at most two decimals (never rounded silently)."""
    amount = to_decimal(value)
    if not amount.is_finite() or abs(amount) >= MAX_AMOUNT:
        raise MoneyError("not a finite amount in range")
    if amount != amount.quantize(CENT):
        raise MoneyError("more than two decimals")
    return amount.quantize(CENT)


def fmt(value):
    """JSON form: '1234.50'."""
    return f"{money(value):.2f}"
