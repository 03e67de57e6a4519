"""The core's data, row by row: the rules a bulk-load CSV row and an inbound event share.

docs/integration.md fixes the columns (the same as the inbound events' `data`). Each `parse_*`
takes one row of strings (a CSV row) and returns `(clean, errors)`: the row with Decimal money,
dates and ints, and a list of Spanish reasons (empty when the row is good). The rules are the
inbound events' schemas themselves; movements have a fast path for good rows (a bulk load checks
a million of them). Pure: no database, no broker.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
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

    The schemas are the inbound events' own (services/<owner>/schemas.py), so a CSV row and an
    event are held to the same rules. A CSV cell is always text: empty cells of optional columns
    become null, integer columns become integers (the event schemas want JSON numbers there).
    """

    def __init__(
        self,
        schema_path: str,
        ints: Sequence[str] = (),
        optional: Sequence[str] = (),
        extra_dates: Sequence[str] = (),
    ) -> None:
        self.schema_path = schema_path
        self.ints = ints
        self.optional = optional
        self.extra_dates = extra_dates
        self._schema: Schema | None = None

    @property
    def schema(self) -> Schema:
        if self._schema is None:
            import importlib

            module, name = self.schema_path.rsplit(".", 1)
            self._schema = getattr(importlib.import_module(module), name)()
        return self._schema

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


_parse_member = SchemaParser(
    "services.accounts.schemas.MemberUpsertedSchema",
    optional=("phone",),
    extra_dates=("joined_on",),
)
parse_account = SchemaParser("services.accounts.schemas.AccountOpenedSchema")
_movement_schema = SchemaParser("services.accounts.schemas.CoreMovementSchema", ints=("sequence",))
_parse_loan = SchemaParser(
    "services.credit.schemas.LoanFieldsSchema",
    ints=("term_months",),
    optional=("application_number",),
    extra_dates=("settled_on",),
)
parse_installment = SchemaParser(
    "services.credit.schemas.InstallmentRowSchema", ints=("number",), optional=("paid_on",)
)
parse_guarantor = SchemaParser("services.credit.schemas.GuarantorRowSchema")
parse_deposit = SchemaParser("services.deposit.schemas.DepositOpenedSchema", ints=("term_days",))
_parse_loan_due = SchemaParser(
    "services.credit.schemas.LoanDueUpdatedSchema", ints=("days_overdue",)
)


def parse_loan_due(raw: RawRow) -> Parsed:
    """loan_dues.csv: `loan_due_updated`'s fields, the installment numbers space-separated."""
    numbers = (raw.get("overdue_installments") or "").split()
    if not all(n.isdigit() and len(n) < 10 for n in numbers):
        return None, ["overdue_installments: números de cuota separados por espacios."]
    data: dict[str, object] = {**raw, "overdue_installments": [int(n) for n in numbers]}
    return _parse_loan_due(data)  # type: ignore[arg-type]


def parse_member(raw: RawRow) -> Parsed:
    clean, errors = _parse_member(raw)
    if clean is not None and clean.get("phone") == "":
        clean["phone"] = None
    return clean, errors


def parse_loan(raw: RawRow) -> Parsed:
    """loans.csv: `loan_disbursed`'s fields, plus `settled_on` (a cancelled loan) and
    `loan_sequence`: the last one the core applied to the loan (empty: 0), so its next
    `installment_paid` / `loan_settled` event follows on."""
    clean, errors = _parse_loan(raw)
    sequence = raw.get("loan_sequence") or "0"
    if not (sequence.isdigit() and len(sequence) < 10):
        errors = [*errors, "loan_sequence: Debe ser un entero mayor o igual a 0."]
    if errors:
        return None, errors
    assert clean is not None  # no errors: clean
    clean["loan_sequence"] = int(sequence)
    if clean["settled_on"] and clean["settled_on"] < clean["disbursed_on"]:
        return None, ["settled_on: Es anterior a disbursed_on."]
    return clean, []


MONEY2_RE = re.compile(r"[0-9]{1,12}\.[0-9]{2}")


def parse_movement(raw: RawRow) -> Parsed:
    """A million of these in a bulk load: a good row takes a fast path that accepts only what
    the event schema accepts; anything else goes through the schema, which names the problem."""
    try:
        account, reference, description = (
            raw["account_number"],
            raw["reference"],
            raw["description"],
        )
        sequence, debit, credit, balance = (
            raw["sequence"],
            raw["debit"],
            raw["credit"],
            raw["balance"],
        )
        posted = raw["posted_at"]
        if (
            0 < len(account) <= 16
            and 0 < len(reference) <= 40
            and 0 < len(description) <= 120
            and sequence.isdigit()
            and len(sequence) < 10
            and sequence[0] != "0"
            and MONEY2_RE.fullmatch(debit)
            and MONEY2_RE.fullmatch(credit)
            and MONEY2_RE.fullmatch(balance)
            and (debit == "0.00") != (credit == "0.00")
            and len(raw["date"]) == 10
            and posted[-1:] == "Z"
        ):
            instant = datetime.fromisoformat(posted[:-1])
            if instant.tzinfo is None:
                return {
                    "account_number": account,
                    "sequence": int(sequence),
                    "date": date.fromisoformat(raw["date"]),
                    "posted_at": instant,
                    "description": description,
                    "reference": reference,
                    "debit": Decimal(debit),
                    "credit": Decimal(credit),
                    "balance": Decimal(balance),
                }, []
    except (KeyError, TypeError, ValueError, IndexError):
        pass
    clean, errors = _movement_schema(raw)
    if clean is not None:
        instant = clean["posted_at"]
        if instant.tzinfo is not None:  # stored as naive UTC
            clean["posted_at"] = instant.astimezone(UTC).replace(tzinfo=None)
    return clean, errors


def balance_error(previous: Decimal, movement: Mapping[str, Decimal]) -> str | None:
    """The contract's check: previous balance + credit − debit = balance (None when it holds)."""
    expected = previous + movement["credit"] - movement["debit"]
    if expected != movement["balance"]:
        return (
            f"el saldo no cuadra: saldo anterior {previous} + crédito {movement['credit']} "
            f"− débito {movement['debit']} = {expected}, no {movement['balance']}"
        )
    return None


PARSERS: dict[str, Callable[[RawRow], Parsed]] = {
    "members.csv": parse_member,
    "accounts.csv": parse_account,
    "movements.csv": parse_movement,
    "loans.csv": parse_loan,
    "installments.csv": parse_installment,
    "guarantors.csv": parse_guarantor,
    "deposits.csv": parse_deposit,
    "loan_dues.csv": parse_loan_due,
}


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
