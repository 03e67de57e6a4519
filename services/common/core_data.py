"""The core's data, row by row: the rules a bulk-load CSV row and an inbound event share.

docs/integration.md fixes the columns (the same as the inbound events' `data`): `FILES`. A row
parser takes one row of strings (a CSV row) and returns `(clean, errors)`: the row with Decimal
money, dates and ints, and a list of Spanish reasons (empty when the row is good). The rules are
the inbound events' schemas themselves, so each service that owns a file builds its parsers from
its own schemas (`SchemaParser`) in `services/<service>/rows.py`; this module knows no service.
Pure: no database, no broker.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from marshmallow import Schema
from marshmallow import ValidationError as MarshmallowValidationError

from services.common.schemas import flatten

# a row of a CSV file (strings) and the same row clean (Decimal money, dates, ints), with the
# Spanish reasons it was refused for: what every parser returns
RawRow = Mapping[str, str]
CleanRow = dict[str, Any]
Parsed = tuple[CleanRow | None, list[str]]

ZERO = Decimal("0.00")
# file → (required columns, optional extra columns); the order is the order of loading
FILES = {
    "members.csv": (
        (
            "member_number",
            "identification",
            "first_names",
            "last_names",
            "email",
            "phone",
            "status",
        ),
        ("joined_on",),
    ),
    "accounts.csv": (("account_number", "member_number", "product", "opened_on"), ()),
    "movements.csv": (
        (
            "account_number",
            "sequence",
            "date",
            "posted_at",
            "description",
            "reference",
            "debit",
            "credit",
            "balance",
        ),
        (),
    ),
    "loans.csv": (
        (
            "loan_number",
            "member_number",
            "product_code",
            "amount",
            "annual_rate",
            "system",
            "frequency",
            "term_months",
            "disbursed_on",
            "application_number",
        ),
        ("settled_on", "loan_sequence"),
    ),
    "installments.csv": (
        (
            "loan_number",
            "number",
            "due_date",
            "principal",
            "interest",
            "insurance",
            "installment",
            "balance",
            "paid_on",
        ),
        (),
    ),
    "guarantors.csv": (("loan_number", "member_number"), ()),
    # the core's latest arrears snapshot of a loan (loan_due_updated's fields; the overdue
    # installment numbers separated by spaces, "6 7"; empty when out of arrears)
    "loan_dues.csv": (
        (
            "loan_number",
            "as_of",
            "days_overdue",
            "overdue_installments",
            "overdue_principal",
            "overdue_interest",
            "late_interest",
            "other_charges",
            "total_due",
        ),
        (),
    ),
    "deposits.csv": (
        (
            "deposit_number",
            "member_number",
            "amount",
            "annual_rate",
            "term_days",
            "opened_on",
            "maturity_date",
            "interest_payment",
        ),
        (),
    ),
}


class SchemaParser:
    """One row of strings → the inbound event schema's clean values, or Spanish reasons.

    The schemas are the inbound events' own, passed by the service that owns the file
    (services/<owner>/rows.py), so a CSV row and an event are held to the same rules. A CSV
    cell is always text: empty cells of optional columns become null, integer columns become
    integers (the event schemas want JSON numbers there).
    """

    def __init__(
        self,
        schema: type[Schema],
        ints: Sequence[str] = (),
        optional: Sequence[str] = (),
        extra_dates: Sequence[str] = (),
    ) -> None:
        self.schema = schema()
        self.ints = ints
        self.optional = optional
        self.extra_dates = extra_dates

    def __call__(self, raw: RawRow) -> Parsed:
        data: dict[str, object] = dict(raw)
        for name in self.optional:
            if data.get(name) == "":
                data[name] = None
        for name in self.ints:
            value = data.get(name)
            if isinstance(value, str) and value.isdigit() and len(value) < 10:
                data[name] = int(value)
        errors: list[str] = []
        clean: CleanRow | None
        try:
            clean = self.schema.load(data)
        except MarshmallowValidationError as exc:
            clean = None
            for field, messages in flatten(exc.messages).items():
                errors.extend(f"{field}: {message}" for message in messages)
        extras: dict[str, date | None] = {}
        for name in self.extra_dates:
            value = raw.get(name)
            if value in (None, ""):
                extras[name] = None
                continue
            try:
                extras[name] = date.fromisoformat(value)
            except (TypeError, ValueError):
                errors.append(f"{name}: Fecha inválida: use el formato AAAA-MM-DD.")
        if errors:
            return None, errors
        assert clean is not None  # a refusal of the schema always names what is wrong
        clean.update(extras)
        return clean, []


# a money amount as the core writes it: digits, a point, two decimals (the fast paths' test)
MONEY2_RE = re.compile(r"[0-9]{1,12}\.[0-9]{2}")


def balance_error(previous: Decimal, movement: Mapping[str, Decimal]) -> str | None:
    """The contract's check: previous balance + credit − debit = balance (None when it holds)."""
    expected = previous + movement["credit"] - movement["debit"]
    if expected != movement["balance"]:
        return (
            f"el saldo no cuadra: saldo anterior {previous} + crédito {movement['credit']} "
            f"− débito {movement['debit']} = {expected}, no {movement['balance']}"
        )
    return None


# what every row parser is: one row of strings → (clean row or None, Spanish reasons)
Parser = Callable[[RawRow], Parsed]


def wire(value: object) -> object:
    """A clean value as it travels (JSON): money and rates as strings, dates ISO, instants …Z."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    return value


def to_wire(clean: Mapping[str, object]) -> dict[str, object]:
    return {key: wire(value) for key, value in clean.items()}


def checked(parser: Callable[[RawRow], Parsed], raw: RawRow) -> CleanRow:
    """Parse a row that must be good (a service re-checks what it is sent); ValueError if not."""
    clean, errors = parser(raw)
    if errors:
        raise ValueError("; ".join(errors))
    assert clean is not None  # no errors: clean
    return clean
