"""Pure rules of the accounts service: identity matching, statement ranges and balances, masking."""

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol, TypedDict

from stdnum.ec import ci

from services.common import ordering

MAX_STATEMENT_DAYS = 3660  # ten years (docs/api.md)
RANGE_TOO_LONG = "El rango no puede superar diez años (3.660 días)."
ZERO = Decimal("0.00")


def fold(text: str | None) -> str:
    """Lower-case, accents removed, spaces collapsed: 'María  Fernanda' -> 'maria fernanda'."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


def name_matches(entered: str | None, recorded: str | None) -> bool:
    """One given name (or surname) entered matches either of the recorded ones.

    'maria' matches 'María Fernanda'; so does 'Fernanda'; the full 'maría fernanda' too.
    """
    entered_f = fold(entered)
    if not entered_f:
        return False
    recorded_f = fold(recorded)
    return entered_f == recorded_f or entered_f in recorded_f.split()


def valid_cedula(identification: str) -> bool:
    return bool(identification) and ci.is_valid(identification)


@dataclass(frozen=True)
class MemberRecord:
    member_number: str
    identification: str
    given_names: str
    surnames: str
    email: str


def registration_matches(
    record: MemberRecord | None,
    member_number: str | None,
    identification: str | None,
    first_name: str | None,
    last_name: str | None,
    email: str | None,
) -> bool:
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


def mask_identification(identification: str | None) -> str:
    """'1712345675' -> '17******75': the first two and last two digits."""
    ident = identification or ""
    if len(ident) <= 4:
        return "*" * len(ident)
    return ident[:2] + "*" * (len(ident) - 4) + ident[-2:]


def mask_email(email: str | None) -> str:
    """'maria.perez@example.com' -> 'm*********z@example.com'."""
    local, _, domain = (email or "").partition("@")
    if len(local) <= 2:
        masked = local[:1] + "*"
    else:
        masked = local[0] + "*" * (len(local) - 2) + local[-1]
    return f"{masked}@{domain}"


def display_name(given_names: str | None, surnames: str | None) -> str:
    """First given name and first surname: 'María Pérez'."""
    first = (given_names or "").split()
    last = (surnames or "").split()
    return " ".join(p for p in (first[:1] + last[:1]))


def statement_range_errors(date_from: date, date_to: date, today: date) -> dict[str, list[str]]:
    """Spanish messages per field for a statement range, empty when valid."""
    errors: dict[str, list[str]] = {}
    if date_to > today:
        errors.setdefault("to", []).append("La fecha de corte no puede ser futura.")
    if date_from > today:
        errors.setdefault("from", []).append("La fecha de inicio no puede ser futura.")
    if date_from > date_to:
        errors.setdefault("from", []).append(
            "La fecha de inicio debe ser anterior o igual a la fecha de corte."
        )
    elif (date_to - date_from).days > MAX_STATEMENT_DAYS:
        errors.setdefault("to", []).append(RANGE_TOO_LONG)
    return errors


def default_statement_range(today: date) -> tuple[date, date]:
    """The current month up to today."""
    return today.replace(day=1), today


def closing_balance(opening: Decimal, total_credits: Decimal, total_debits: Decimal) -> Decimal:
    return opening + total_credits - total_debits


def apply_movement(balance: Decimal, debit: Decimal | None, credit: Decimal | None) -> Decimal:
    """Balance after a movement; an account never goes below zero."""
    new_balance = balance + (credit or ZERO) - (debit or ZERO)
    if new_balance < ZERO:
        raise ValueError("insufficient funds")
    return new_balance


def page_count(total: int, page_size: int) -> int:
    return max(1, -(-total // page_size))


def page_errors(page: int, total: int, page_size: int) -> dict[str, list[str]]:
    """A page beyond the last is refused (docs/domain.md, "Time"), never read as empty."""
    last = page_count(total, page_size)
    if page > last:
        pages = "1 página" if last == 1 else f"{last} páginas"
        return {"page": [f"La página {page} no existe: el estado de cuenta tiene {pages}."]}
    return {}


# --- the core's events (docs/integration.md) ---------------------------------------------------

PRODUCT_NAMES = {
    "AHORRO_VISTA": "Ahorro a la vista",
    "AHORRO_PROGRAMADO": "Ahorro programado",
    "CERTIFICADOS": "Certificados de aportación",
}
CLOSED = "cerrada"
# certificados de aportación: the member's capital in the cooperative, not savings
SHARES = "CERTIFICADOS"


def available_balance(product: str, stored: Decimal) -> Decimal:
    """What the member may dispose of: the core's available balance, except for certificados de
    aportación, which are capital and never available (saldo disponible 0,00)."""
    return ZERO if product == SHARES else stored


# --- holds of confirmed orders (docs/payments.md) -----------------------------------------------
# orders debit only AHORRO_VISTA; CERTIFICADOS (the member's capital) have nothing available
DEBITABLE_PRODUCTS = ("AHORRO_VISTA",)
NO_AVAILABLE_PRODUCTS = ("CERTIFICADOS",)
INSUFFICIENT_FUNDS = "fondos_insuficientes"
ACCOUNT_UNAVAILABLE = "cuenta_no_disponible"
INSUFFICIENT_FUNDS_MESSAGE = "Fondos insuficientes: el saldo disponible de la cuenta no alcanza."
ACCOUNT_UNAVAILABLE_MESSAGE = "La cuenta no admite débitos desde el portal."


def shown_available(product: str, available: Decimal) -> Decimal:
    """The saldo disponible a member sees: none on CERTIFICADOS, else balance − open holds."""
    return ZERO if product in NO_AVAILABLE_PRODUCTS else available


def hold_refusal(
    product: str, status: str, available: Decimal, amount: Decimal
) -> tuple[str, str] | None:
    """(reason_code, message) when `amount` cannot be reserved on the account; else None."""
    if product not in DEBITABLE_PRODUCTS or status == CLOSED:
        return ACCOUNT_UNAVAILABLE, ACCOUNT_UNAVAILABLE_MESSAGE
    if amount > available:
        return INSUFFICIENT_FUNDS, INSUFFICIENT_FUNDS_MESSAGE
    return None


def can_receive_transfer(product: str, status: str) -> bool:
    """A transfer to another member credits only its savings (never its CERTIFICADOS)."""
    return product in ("AHORRO_VISTA", "AHORRO_PROGRAMADO") and status != CLOSED


def mask_holder(given_names: str, surnames: str) -> str:
    """ "María José Pérez" → "M*** J*** P***": enough to recognise, not to read."""
    return " ".join(word[0] + "***" for word in f"{given_names} {surnames}".split())


def request_movement(account_number: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The data of `accounts.request_movement_posted`: a movement of the core that executed a
    portal request (payments learns from it that money moved, even after a rejection)."""
    return {
        "request_id": data["request_id"],
        "account_number": account_number,
        "reference": data["reference"],
        "debit": _money(data["debit"]),
        "credit": _money(data["credit"]),
        "date": data["date"].isoformat(),
    }


def same_hold(account_number: str, amount: Decimal, hold: object) -> bool:
    """Is a take_hold again with this request_id the same reservation as the one recorded?"""
    return bool(
        getattr(hold, "account_number", None) == account_number
        and getattr(hold, "amount", None) == amount
    )


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def balance_problem(
    previous: Decimal, debit: Decimal, credit: Decimal, stated: Decimal
) -> str | None:
    """None when `previous + credit − debit = stated`; otherwise the reason, to the cent."""
    if previous + credit - debit == stated:
        return None
    return (
        f"El saldo no cuadra: saldo anterior {_money(previous)} + crédito {_money(credit)}"
        f" − débito {_money(debit)} ≠ {_money(stated)}"
    )


# the ordering rule of every sequenced stream (accounts, loans) is shared with the consumer
order_decision = ordering.order_decision


class CoreMovement(TypedDict):
    """What these rules read of a core `movement_posted` (CoreMovementSchema, loaded)."""

    sequence: int
    date: date
    reference: str
    debit: Decimal
    credit: Decimal
    balance: Decimal


class StoredMovement(Protocol):
    """A movement as the portal stored it (a row of `movements`)."""

    @property
    def reference(self) -> str: ...
    @property
    def date(self) -> date: ...
    @property
    def debit(self) -> Decimal: ...
    @property
    def credit(self) -> Decimal: ...
    @property
    def balance(self) -> Decimal: ...


class PortalDay(Protocol):
    """The portal's account at the close of a core business day (store.reconciliation_accounts)."""

    @property
    def day_seq(self) -> int: ...
    @property
    def day_balance(self) -> Decimal | None: ...
    @property
    def last_seq(self) -> int: ...


class CoreAccountFigures(TypedDict):
    """One account of a core `day_closed` chunk."""

    account_number: str
    balance: Decimal
    last_sequence: int


def same_movement(applied: StoredMovement, data: CoreMovement) -> bool:
    """Is the core movement `data` the one already applied (a stored movement)?"""
    return (
        applied.reference == data["reference"]
        and applied.date == data["date"]
        and applied.debit == data["debit"]
        and applied.credit == data["credit"]
        and applied.balance == data["balance"]
    )


MEMBER_FIELDS = {
    "identification": "identification",
    "first_names": "given_names",
    "last_names": "surnames",
    "email": "email",
    "phone": "phone",
    "status": "status",
}


def member_changes(current: object | None, data: Mapping[str, object]) -> dict[str, object]:
    """{column: new value} of what `member_upserted` changes in the record (all for a new one)."""
    changes: dict[str, object] = {}
    for field, column in MEMBER_FIELDS.items():
        value = data.get(field)
        if current is None or getattr(current, column) != value:
            changes[column] = value
    return changes


def email_changed(current: object | None, changes: Mapping[str, object]) -> bool:
    """True when `member_upserted` replaces the e-mail of a member the portal already knew (a
    new member, or the same address in other capitals, is no change of address)."""
    if current is None or "email" not in changes:
        return False
    old = str(getattr(current, "email", "") or "").strip().casefold()
    new = str(changes["email"] or "").strip().casefold()
    return bool(old) and old != new


def email_change_data(
    member_number: str,
    given_names: str | None,
    surnames: str | None,
    old_email: str,
    new_email: str | None,
    changed_at: str,
) -> dict[str, str]:
    """The data of `accounts.member_email_changed` (docs/events.md)."""
    return {
        "member_number": member_number,
        "display_name": display_name(given_names, surnames),
        "old_email": old_email,
        "new_email_masked": mask_email(new_email),
        "changed_at": changed_at,
    }


def reconciliation_differences(
    portal: PortalDay | None, core: CoreAccountFigures
) -> list[tuple[str, str | None, str]]:
    """[(kind, portal value, core value)] between the portal's account at the close of the core's
    business day and the core's figures for it. `portal` has `day_seq` and `day_balance`: the
    sequence and balance of its last movement dated on or before that day (0 and None before
    any), so movements of the next day that arrived already are not a difference; None when
    the portal does not know the account."""
    if portal is None:
        return [("unknown_account", None, f"{_money(core['balance'])}")]
    out: list[tuple[str, str | None, str]] = []
    balance = portal.day_balance if portal.day_balance is not None else Decimal("0.00")
    if balance != core["balance"]:
        out.append(("balance", _money(balance), _money(core["balance"])))
    if portal.day_seq < core["last_sequence"]:
        out.append(("sequence_behind", str(portal.day_seq), str(core["last_sequence"])))
    elif portal.day_seq > core["last_sequence"]:
        out.append(("sequence_ahead", str(portal.day_seq), str(core["last_sequence"])))
    return out


def movement_date_problem(
    movement_date: date, previous_date: date | None, business_date: date
) -> str | None:
    """Why a core movement's `date` cannot be shown in the statements, or None.

    `date` is the core's posting date: never later than the core's business date (Ecuador's
    today: the statement of a future day cannot be asked for), never earlier than the previous
    movement's date (statements read a range of dates in `sequence` order: a movement dated
    before its predecessor would break the running balance of every range that covers it; a
    back-valued entry is posted with today's date and its value date in the description)."""
    if movement_date > business_date:
        return (
            f"La fecha {movement_date.isoformat()} es posterior a la fecha de negocio del core "
            f"({business_date.isoformat()})"
        )
    if previous_date is not None and movement_date < previous_date:
        return (
            f"La fecha {movement_date.isoformat()} es anterior a la del movimiento anterior "
            f"({previous_date.isoformat()})"
        )
    return None


def movement_refusal(
    account_number: str,
    balance: Decimal,
    data: CoreMovement,
    seen_sequence: int | None,
    previous_date: date | None,
    business_date: date,
) -> tuple[str, str] | None:
    """(reason, kind) when a core movement cannot apply after `balance`: its reference was
    applied already (at `seen_sequence`), its date is later than `business_date` or earlier
    than `previous_date` (the account's previous movement's), or its stated balance does not
    add up; else None."""
    if seen_sequence is not None:
        return (
            f"La referencia {data['reference']} ya fue aplicada en la cuenta {account_number} "
            f"(secuencia {seen_sequence}).",
            ordering.KIND_CONFLICT,
        )
    wrong_date = movement_date_problem(data["date"], previous_date, business_date)
    if wrong_date:
        return (
            f"{wrong_date} (cuenta {account_number}, secuencia {data['sequence']}).",
            ordering.KIND_INVALID,
        )
    problem = balance_problem(balance, data["debit"], data["credit"], data["balance"])
    if problem:
        return (
            f"{problem} (cuenta {account_number}, secuencia {data['sequence']}).",
            ordering.KIND_INVALID,
        )
    return None


def recently(instant: object, now: datetime, seconds: float) -> bool:
    """Is the ISO-8601 UTC `instant` ("…Z") less than `seconds` before `now` (aware)? An instant
    that cannot be read is not recent."""
    try:
        moment = datetime.fromisoformat(str(instant).replace("Z", "+00:00"))
    except ValueError:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return now - moment < timedelta(seconds=seconds)


def movements_in_flight(
    portal_accounts: Mapping[str, PortalDay], core_accounts: Sequence[CoreAccountFigures]
) -> list[str]:
    """Account numbers whose portal sequence is behind what the core closed the day with: their
    last movements may still be on their way (held, or in a retry), not missing."""
    return [
        core["account_number"]
        for core in core_accounts
        if (portal := portal_accounts.get(core["account_number"])) is not None
        and portal.last_seq < core["last_sequence"]
    ]
