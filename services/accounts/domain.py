"""Pure rules of the accounts service: identity matching, statement ranges and balances, masking."""

import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from stdnum.ec import ci

MAX_STATEMENT_DAYS = 366
ZERO = Decimal("0.00")


def fold(text):
    """Lower-case, accents removed, spaces collapsed: 'María  Fernanda' -> 'maria fernanda'."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


def name_matches(entered, recorded):
    """One given name (or surname) entered matches either of the recorded ones.

    'maria' matches 'María Fernanda'; so does 'Fernanda'; the full 'maría fernanda' too.
    """
    entered_f = fold(entered)
    if not entered_f:
        return False
    recorded_f = fold(recorded)
    return entered_f == recorded_f or entered_f in recorded_f.split()


def valid_cedula(identification):
    return bool(identification) and ci.is_valid(identification)


@dataclass(frozen=True)
class MemberRecord:
    member_number: str
    identification: str
    given_names: str
    surnames: str
    email: str


def registration_matches(record, member_number, identification, first_name, last_name, email):
    """The registration match of docs/domain.md. Yes/no only: never which field failed."""
    if record is None:
        return False
    checks = (
        record.member_number == (member_number or "").strip(),
        valid_cedula((identification or "").strip()),
        record.identification == (identification or "").strip(),
        (record.email or "").strip().casefold() == (email or "").strip().casefold(),
        name_matches(first_name, record.given_names),
        name_matches(last_name, record.surnames),
    )
    return all(checks)


def mask_identification(identification):
    """'1712345675' -> '17******75': the first two and last two digits."""
    ident = identification or ""
    if len(ident) <= 4:
        return "*" * len(ident)
    return ident[:2] + "*" * (len(ident) - 4) + ident[-2:]


def mask_email(email):
    """'maria.perez@example.com' -> 'm*********z@example.com'."""
    local, _, domain = (email or "").partition("@")
    if len(local) <= 2:
        masked = local[:1] + "*"
    else:
        masked = local[0] + "*" * (len(local) - 2) + local[-1]
    return f"{masked}@{domain}"


def display_name(given_names, surnames):
    """First given name and first surname: 'María Pérez'."""
    first = (given_names or "").split()
    last = (surnames or "").split()
    return " ".join(p for p in (first[:1] + last[:1]))


def statement_range_errors(date_from, date_to, today):
    """Spanish messages per field for a statement range, empty when valid."""
    errors = {}
    if date_to > today:
        errors.setdefault("to", []).append("La fecha de corte no puede ser futura.")
    if date_from > today:
        errors.setdefault("from", []).append("La fecha de inicio no puede ser futura.")
    if date_from > date_to:
        errors.setdefault("from", []).append(
            "La fecha de inicio debe ser anterior o igual a la fecha de corte."
        )
    elif (date_to - date_from).days > MAX_STATEMENT_DAYS:
        errors.setdefault("to", []).append(f"El rango no puede superar {MAX_STATEMENT_DAYS} días.")
    return errors


def default_statement_range(today):
    """The current month up to today."""
    return today.replace(day=1), today


def closing_balance(opening, total_credits, total_debits):
    return opening + total_credits - total_debits


def apply_movement(balance, debit, credit):
    """Balance after a movement; an account never goes below zero."""
    new_balance = balance + (credit or ZERO) - (debit or ZERO)
    if new_balance < ZERO:
        raise ValueError("insufficient funds")
    return new_balance


def page_count(total, page_size):
    return max(1, -(-total // page_size))
