"""How a member in Ecuador reads and writes money and dates (es-EC): the one place for both.

Shown: `$ 2.500,00`, `2.500,00`, dates `dd/mm/aaaa` and instants `dd/mm/aaaa hh:mm` in Ecuador
time (pages, PDFs and e-mails all format through here). Typed: `parse_amount_input` reads what a
member writes on paper (docs/domain.md, "Money and rounding"): `.` groups thousands and `,` marks
the decimals; a dot followed by one or two digits is the decimal point many members type; anything
that could be read two ways is refused with the expected format, never guessed.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from babel.numbers import format_decimal

from services.common.clock import to_local
from services.common.money import CENT, MAX_AMOUNT

EXPECTED_FORMAT = "Escriba el monto en dólares, por ejemplo 2.500,00 o 2500."
TOO_MANY_DECIMALS = "Use como máximo dos decimales, por ejemplo 2.500,50."
TOO_LARGE = "El monto es demasiado grande."


class AmountInputError(ValueError):
    """An amount typed in a page that cannot be read one way only; `message` is for the member."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# whole part: plain digits, or thousands in groups of three separated by dots ("1.234.567")
_PLAIN = r"\d+"
_GROUPED = r"[1-9]\d{0,2}(?:\.\d{3})+"
_WITH_COMMA = re.compile(rf"^(?P<whole>{_PLAIN}|{_GROUPED}),(?P<frac>\d+)$")
_GROUPED_ONLY = re.compile(rf"^{_GROUPED}$")
_DOT_DECIMAL = re.compile(r"^(?P<whole>\d+)\.(?P<frac>\d{1,2})$")
_DIGITS = re.compile(r"^\d+$")


def parse_amount_input(text: str | None) -> Decimal | None:
    """The amount a member typed, as Decimal to the cent; None for an empty field.

    `2.500` → 2500.00, `2.500,00` → 2500.00, `2500,5` → 2500.50, `$ 2.500,00` → 2500.00,
    `2.5` → 2.50, `1.200` → 1200.00. Refused (AmountInputError): `2.50.0`, `2,500.00`, `1.2345`,
    `10,000.00`, `2,500` (an English thousands comma or three decimals: cannot tell), negatives,
    letters, more than two decimals.
    """
    raw = (text or "").strip()
    if raw.startswith("$"):
        raw = raw[1:].strip()
    if raw.upper().startswith("USD"):
        raw = raw[3:].strip()
    if not raw:
        return None
    if not raw.isascii():
        raise AmountInputError(EXPECTED_FORMAT)
    if _DIGITS.match(raw):
        whole, frac = raw, ""
    elif match := _WITH_COMMA.match(raw):
        whole, frac = match["whole"].replace(".", ""), match["frac"]
        if len(frac) == 3 and "." not in match["whole"]:
            # "2,500" is 2 500 to someone used to US forms and 2,5 to an Ecuadorian: ask
            raise AmountInputError(EXPECTED_FORMAT)
        if len(frac) > 2:
            raise AmountInputError(TOO_MANY_DECIMALS)
    elif _GROUPED_ONLY.match(raw):
        whole, frac = raw.replace(".", ""), ""
    elif match := _DOT_DECIMAL.match(raw):
        whole, frac = match["whole"], match["frac"]
    else:
        raise AmountInputError(EXPECTED_FORMAT)
    try:
        amount = Decimal(f"{whole}.{frac or '0'}")
    except InvalidOperation as exc:  # pragma: no cover - the patterns admit digits only
        raise AmountInputError(EXPECTED_FORMAT) from exc
    if amount >= MAX_AMOUNT:
        raise AmountInputError(TOO_LARGE)
    return amount.quantize(CENT)


def amount_input_text(text: str | None) -> str:
    """What a money field shows again after a send: the amount in es-EC when it was readable,
    else exactly what was typed (so the member can correct it)."""
    try:
        amount = parse_amount_input(text)
    except AmountInputError:
        return (text or "").strip()
    return "" if amount is None else number(amount)


# --- showing ------------------------------------------------------------------------------------


def _decimal(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return amount if amount.is_finite() else None


def number(value: object, places: int = 2) -> str:
    """`2500` → `2.500,00` (places=0: `2.500`); '' for no value."""
    amount = _decimal(value)
    if amount is None:
        return ""
    pattern = "#,##0." + "0" * places if places else "#,##0"
    return format_decimal(amount, format=pattern, locale="es_EC")


def money(value: object) -> str:
    """`2500` → `$ 2.500,00`; a negative amount `-$ 2.500,00`; '' for no value."""
    amount = _decimal(value)
    if amount is None:
        return ""
    sign = "-" if amount < 0 else ""
    return f"{sign}$ {number(abs(amount))}"


def percent(value: object) -> str:
    return "" if value in (None, "") else f"{number(value)} %"


def _moment(value: str | date) -> date:
    if isinstance(value, str):
        text = value.strip()
        if "T" not in text and " " not in text:
            return date.fromisoformat(text)
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        return datetime.fromisoformat(text)
    return value


def fecha(value: str | date | None) -> str:
    """A date `dd/mm/aaaa`; an instant (aware, or naive UTC as stored and sent) in Ecuador time
    `dd/mm/aaaa hh:mm`. Never says UTC: a member only ever reads Ecuador's time."""
    if not value:
        return ""
    try:
        value = _moment(value)
    except ValueError:
        return ""
    if isinstance(value, datetime):
        return to_local(value).strftime("%d/%m/%Y %H:%M")
    return value.strftime("%d/%m/%Y")


def fecha_dia(value: str | date | None) -> str:
    """Only the day (`dd/mm/aaaa`) of a date or an instant, in Ecuador."""
    if not value:
        return ""
    try:
        value = _moment(value)
    except ValueError:
        return ""
    if isinstance(value, datetime):
        value = to_local(value).date()
    return value.strftime("%d/%m/%Y")
