"""What a report shows, independent of how it is drawn: titles, formats of money and dates."""

from datetime import date, datetime
from decimal import Decimal

from babel.numbers import format_decimal


def money(value):
    if value in (None, ""):
        return ""
    return "$ " + format_decimal(Decimal(str(value)), format="#,##0.00", locale="es_EC")


def number(value, places=2):
    if value in (None, ""):
        return ""
    return format_decimal(Decimal(str(value)), format="#,##0." + "0" * places, locale="es_EC")


def fecha(value):
    if not value:
        return ""
    if isinstance(value, str):
        value = (
            datetime.fromisoformat(value.replace("Z", ""))
            if "T" in value
            else date.fromisoformat(value)
        )
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    return value.strftime("%d/%m/%Y")
