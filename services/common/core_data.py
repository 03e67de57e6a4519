"""The core's data, row by row: the rules a bulk-load CSV row and an inbound event share.

docs/integration.md fixes the columns (the same as the inbound events' `data`). Each `parse_*`
takes one row of strings (a CSV row, or an event's data) and returns `(clean, errors)`: the row
with Decimal money, dates and ints, and a list of Spanish reasons (empty when the row is good).
Hand-written rather than marshmallow because a bulk load checks a million movements.
Pure: no database, no broker.
"""

import re
from datetime import date, datetime
from decimal import Decimal

ZERO = Decimal("0.00")
MONEY_RE = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
RATE_RE = re.compile(r"^[0-9]+(\.[0-9]{1,6})?$")

PRODUCTS = ("AHORRO_VISTA", "AHORRO_PROGRAMADO", "CERTIFICADOS")
PRODUCT_NAMES = {
    "AHORRO_VISTA": "Ahorro a la vista",
    "AHORRO_PROGRAMADO": "Ahorro programado",
    "CERTIFICADOS": "Certificados de aportación",
}
MEMBER_STATUSES = ("activo", "inactivo")
SYSTEMS = ("french", "german")
FREQUENCIES = ("monthly", "bimonthly", "quarterly", "semiannual")
INTEREST_PAYMENTS = ("maturity", "monthly")

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
        ("settled_on",),
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


class Row:
    """Collects the clean values and the reasons of one row."""

    __slots__ = ("raw", "clean", "errors")

    def __init__(self, raw):
        self.raw = raw
        self.clean = {}
        self.errors = []

    def _value(self, name, required=True):
        value = self.raw.get(name)
        value = value.strip() if isinstance(value, str) else value
        if value in (None, ""):
            if required:
                self.errors.append(f"falta {name}")
            return None
        return value

    def text(self, name, max_len, required=True):
        value = self._value(name, required)
        if value is not None:
            if not isinstance(value, str):
                value = str(value)
            if len(value) > max_len:
                self.errors.append(f"{name} tiene más de {max_len} caracteres")
        self.clean[name] = value
        return value

    def choice(self, name, options, required=True):
        value = self._value(name, required)
        if value is not None and value not in options:
            self.errors.append(f"{name} «{value}» no es válido (use {', '.join(options)})")
        self.clean[name] = value
        return value

    def money(self, name, positive=False):
        value = self._value(name)
        amount = None
        if value is not None:
            text = str(value)
            if not MONEY_RE.match(text):
                self.errors.append(f"{name} «{text}» no es un monto (use 1234.50)")
            elif text.startswith("-"):
                self.errors.append(f"{name} no puede ser negativo")
            elif "." not in text or len(text.split(".")[1]) != 2:
                self.errors.append(f"{name} «{text}» debe tener exactamente dos decimales")
            else:
                amount = Decimal(text)
                if positive and amount == 0:
                    self.errors.append(f"{name} debe ser mayor que cero")
        self.clean[name] = amount
        return amount

    def rate(self, name):
        value = self._value(name)
        rate = None
        if value is not None:
            if RATE_RE.match(str(value)):
                rate = Decimal(str(value))
            else:
                self.errors.append(f"{name} «{value}» no es una tasa (use 16.77)")
        self.clean[name] = rate
        return rate

    def integer(self, name, minimum=1):
        value = self._value(name)
        number = None
        if value is not None:
            text = str(value)
            if text.isdigit() and len(text) < 10:
                number = int(text)
                if number < minimum:
                    self.errors.append(f"{name} debe ser al menos {minimum}")
                    number = None
            else:
                self.errors.append(f"{name} «{text}» no es un número entero")
        self.clean[name] = number
        return number

    def day(self, name, required=True):
        value = self._value(name, required)
        result = None
        if value is not None:
            try:
                if len(str(value)) != 10:
                    raise ValueError
                result = date.fromisoformat(str(value))
            except ValueError:
                self.errors.append(f"{name} «{value}» no es una fecha AAAA-MM-DD")
        self.clean[name] = result
        return result

    def instant(self, name):
        value = self._value(name)
        result = None
        if value is not None:
            text = str(value)
            try:
                if not text.endswith("Z"):
                    raise ValueError
                result = datetime.fromisoformat(text[:-1])
                if result.tzinfo is not None:
                    raise ValueError
            except ValueError:
                self.errors.append(f"{name} «{text}» no es un instante ISO-8601 UTC (…Z)")
        self.clean[name] = result
        return result


def parse_member(raw):
    row = Row(raw)
    row.text("member_number", 12)
    identification = row.text("identification", 13)
    if identification is not None and not identification.isdigit():
        row.errors.append("identification debe tener solo dígitos")
    row.text("first_names", 80)
    row.text("last_names", 80)
    email = row.text("email", 120)
    if email is not None and ("@" not in email or " " in email):
        row.errors.append(f"email «{email}» no es un correo electrónico")
    row.text("phone", 20, required=False)
    row.choice("status", MEMBER_STATUSES)
    row.day("joined_on", required=False)
    return row.clean, row.errors


def parse_account(raw):
    row = Row(raw)
    row.text("account_number", 16)
    row.text("member_number", 12)
    row.choice("product", PRODUCTS)
    row.day("opened_on")
    return row.clean, row.errors


MONEY2_RE = re.compile(r"[0-9]{1,12}\.[0-9]{2}")


def parse_movement(raw):
    """A million of these in a bulk load: a good row takes the fast path, a bad one the
    thorough one that names every problem."""
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
            and MONEY2_RE.fullmatch(debit)
            and MONEY2_RE.fullmatch(credit)
            and MONEY2_RE.fullmatch(balance)
            and (debit == "0.00" or credit == "0.00")
            and len(raw["date"]) == 10
            and posted[-1:] == "Z"
            and int(sequence) > 0
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
    except (KeyError, TypeError, ValueError):
        pass
    row = Row(raw)
    row.text("account_number", 16)
    row.integer("sequence")
    row.day("date")
    row.instant("posted_at")
    row.text("description", 120)
    row.text("reference", 40)
    debit = row.money("debit")
    credit = row.money("credit")
    row.money("balance")
    if debit and credit:
        row.errors.append("debit y credit no pueden tener valor a la vez (uno de ellos 0.00)")
    return row.clean, row.errors


def balance_error(previous, movement):
    """The contract's check: previous balance + credit − debit = balance (None when it holds)."""
    expected = previous + movement["credit"] - movement["debit"]
    if expected != movement["balance"]:
        return (
            f"el saldo no cuadra: saldo anterior {previous} + crédito {movement['credit']} "
            f"− débito {movement['debit']} = {expected}, no {movement['balance']}"
        )
    return None


def parse_loan(raw):
    row = Row(raw)
    row.text("loan_number", 20)
    row.text("member_number", 12)
    row.text("product_code", 20)
    row.money("amount", positive=True)
    row.rate("annual_rate")
    row.choice("system", SYSTEMS)
    row.choice("frequency", FREQUENCIES)
    row.integer("term_months")
    disbursed = row.day("disbursed_on")
    row.text("application_number", 20, required=False)
    settled = row.day("settled_on", required=False)
    if disbursed and settled and settled < disbursed:
        row.errors.append("settled_on es anterior a disbursed_on")
    return row.clean, row.errors


def parse_installment(raw):
    row = Row(raw)
    row.text("loan_number", 20)
    row.integer("number")
    row.day("due_date")
    for name in ("principal", "interest", "insurance", "installment", "balance"):
        row.money(name)
    row.day("paid_on", required=False)
    return row.clean, row.errors


def parse_guarantor(raw):
    row = Row(raw)
    row.text("loan_number", 20)
    row.text("member_number", 12)
    return row.clean, row.errors


def parse_deposit(raw):
    row = Row(raw)
    row.text("deposit_number", 20)
    row.text("member_number", 12)
    row.money("amount", positive=True)
    row.rate("annual_rate")
    row.integer("term_days")
    opened = row.day("opened_on")
    maturity = row.day("maturity_date")
    row.choice("interest_payment", INTEREST_PAYMENTS)
    if opened and maturity and maturity <= opened:
        row.errors.append("maturity_date debe ser posterior a opened_on")
    return row.clean, row.errors


PARSERS = {
    "members.csv": parse_member,
    "accounts.csv": parse_account,
    "movements.csv": parse_movement,
    "loans.csv": parse_loan,
    "installments.csv": parse_installment,
    "guarantors.csv": parse_guarantor,
    "deposits.csv": parse_deposit,
}


def wire(value):
    """A clean value as it travels (JSON): money and rates as strings, dates ISO, instants …Z."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    return value


def to_wire(clean):
    return {key: wire(value) for key, value in clean.items()}


def checked(parser, raw):
    """Parse a row that must be good (a service re-checks what it is sent); ValueError if not."""
    clean, errors = parser(raw)
    if errors:
        raise ValueError("; ".join(errors))
    return clean
