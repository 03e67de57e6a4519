"""The money rules of payments (docs/payments.md): limits, amounts, the states of an order, the
digest a confirmation code is bound to, the request the core receives, and when to resend it.

Pure: no nameko, no SQLAlchemy; "now" is always an argument (UTC, aware).
"""

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

ECUADOR = ZoneInfo("America/Guayaquil")
CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# the cooperative's maximum (configuration; the member chooses within it)
TRANSFER_MAX_PER_TRANSFER = Decimal("1000.00")
TRANSFER_MAX_DAILY = Decimal("2000.00")
MIN_AMOUNT = Decimal("1.00")
DESCRIPTION_MAX = 60
CONFIRM_MINUTES = 5  # unconfirmed longer: anulada
CORE_REQUEST_RESEND_SECONDS = 60
CORE_REQUEST_TIMEOUT_MINUTES = 30
CORE_REQUEST_VALID_HOURS = 24

# --- states ------------------------------------------------------------------------------------
POR_CONFIRMAR = "por_confirmar"
CONFIRMANDO = "confirmando"
ENVIADA = "enviada"
EN_VERIFICACION = "en_verificacion"
COMPLETADA = "completada"
RECHAZADA = "rechazada"
ANULADA = "anulada"
STATES = (POR_CONFIRMAR, CONFIRMANDO, ENVIADA, EN_VERIFICACION, COMPLETADA, RECHAZADA, ANULADA)
FINAL = (COMPLETADA, RECHAZADA, ANULADA)
# what the core has and has not answered yet
AWAITING_CORE = (ENVIADA, EN_VERIFICACION)
# the orders of a day that use the member's daily limit to other members
USES_LIMIT = (CONFIRMANDO, ENVIADA, EN_VERIFICACION, COMPLETADA)

TRANSITIONS: Mapping[str, frozenset[str]] = {
    POR_CONFIRMAR: frozenset({CONFIRMANDO, ANULADA}),
    # the hold refused (fondos_insuficientes): rechazada, nothing was sent
    CONFIRMANDO: frozenset({ENVIADA, RECHAZADA}),
    ENVIADA: frozenset({COMPLETADA, RECHAZADA, EN_VERIFICACION}),
    EN_VERIFICACION: frozenset({COMPLETADA, RECHAZADA}),
    # money moved wins: a movement of the core for a rejected order completes it
    RECHAZADA: frozenset({COMPLETADA}),
    COMPLETADA: frozenset(),
    ANULADA: frozenset(),
}

KIND_OWN = "propia"  # between the member's own accounts: no limit
KIND_MEMBER = "socio"  # to another member's account: counts the limits
TRANSFER = "transfer"
BENEFICIARY = "beneficiario"  # the subject of a beneficiary's confirmation
LOAN_PAYMENT = "loan_payment"
METHODS = ("totp", "email_code")

REASON_CODES = (
    "fondos_insuficientes",
    "cuenta_no_disponible",
    "limite_excedido",
    "monto_invalido",
    "otro",
)


class TransitionError(ValueError):
    pass


def can_move(current: str, new: str) -> bool:
    return new in TRANSITIONS.get(current, frozenset())


def move(current: str, new: str) -> str:
    if not can_move(current, new):
        raise TransitionError(f"{current} → {new}")
    return new


# --- amounts and limits ------------------------------------------------------------------------


def amount_errors(amount: Decimal) -> list[str]:
    """Why `amount` cannot be ordered (at least $ 1,00, two decimals at most); [] when it can."""
    if amount != amount.quantize(CENT):
        return ["Use como máximo dos decimales."]
    if amount < MIN_AMOUNT:
        return ["El monto mínimo es $ 1,00."]
    return []


def ecuador_day(instant: datetime) -> date:
    """The cooperative's calendar day of an instant (an order's confirmation)."""
    return instant.astimezone(ECUADOR).date()


@dataclass(frozen=True)
class Limits:
    per_transfer: Decimal = TRANSFER_MAX_PER_TRANSFER
    daily_to_others: Decimal = TRANSFER_MAX_DAILY


def money_text(value: Decimal) -> str:
    """$ 1.234,50 (es-EC), for the messages a member reads."""
    whole, cents = f"{value:,.2f}".split(".")
    return f"$ {whole.replace(',', '.')},{cents}"


def limits_errors(requested: Limits, cooperative: Limits) -> list[str]:
    out = []
    if requested.per_transfer > cooperative.per_transfer:
        out.append(
            f"El límite por transferencia no puede superar {money_text(cooperative.per_transfer)}."
        )
    if requested.daily_to_others > cooperative.daily_to_others:
        out.append(f"El límite diario no puede superar {money_text(cooperative.daily_to_others)}.")
    if requested.per_transfer < ZERO or requested.daily_to_others < ZERO:
        out.append("Los límites no pueden ser negativos.")
    return out


def effective_limits(chosen: Limits | None, cooperative: Limits) -> Limits:
    """The member's choice, never above the cooperative's maximum (which may have been lowered)."""
    if chosen is None:
        return cooperative
    return Limits(
        min(chosen.per_transfer, cooperative.per_transfer),
        min(chosen.daily_to_others, cooperative.daily_to_others),
    )


@dataclass(frozen=True)
class DayOrder:
    """What the daily limit needs of one order: its kind, status, amount and day."""

    kind: str
    status: str
    amount: Decimal
    day: date | None


def used_today(orders: Iterable[DayOrder], day: date) -> Decimal:
    """Σ of the day's orders to other members that use the limit (confirmando … completada)."""
    return sum(
        (
            o.amount
            for o in orders
            if o.kind == KIND_MEMBER and o.status in USES_LIMIT and o.day == day
        ),
        ZERO,
    )


def limit_refusal(kind: str, amount: Decimal, limits: Limits, used: Decimal) -> str | None:
    """The Spanish reason an order to another member goes over the limits; None within them.
    Orders between the member's own accounts (and loan payments) count no limit."""
    if kind != KIND_MEMBER:
        return None
    if amount > limits.per_transfer:
        return f"El monto supera su límite por transferencia ({money_text(limits.per_transfer)})."
    left = max(limits.daily_to_others - used, ZERO)
    if amount > left:
        return (
            f"El monto supera lo que le queda hoy de su límite diario a otros socios "
            f"({money_text(left)})."
        )
    return None


# --- the confirmation's digest -----------------------------------------------------------------


def order_digest(kind: str, amount: Decimal, from_account: str, destination: str) -> str:
    """A digest of what a confirmation code confirms: the amount and both ends. A code is bound
    to it, so any change of the order voids the code."""
    canonical = json.dumps(
        [kind, f"{amount:.2f}", from_account, destination], separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def mask_account(number: str) -> str:
    """The last four digits only (a third party's account never goes whole in an event)."""
    return "****" + number[-4:] if len(number) > 4 else "****"


# --- requests to the core ----------------------------------------------------------------------


def iso_z(instant: datetime) -> str:
    return instant.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def valid_until(requested_at: datetime, valid_hours: float = CORE_REQUEST_VALID_HOURS) -> datetime:
    return requested_at + timedelta(hours=valid_hours)


def request_envelope(
    request_id: str,
    request_type: str,
    data: Mapping[str, Any],
    requested_at: datetime,
    valid_hours: float = CORE_REQUEST_VALID_HOURS,
) -> dict[str, Any]:
    """The message on `portal.requests` (routing key = request_type); the same each resend."""
    return {
        "request_id": request_id,
        "request_type": request_type,
        "source": "portal",
        "requested_at": iso_z(requested_at),
        "valid_until": iso_z(valid_until(requested_at, valid_hours)),
        "version": 1,
        "data": dict(data),
    }


def transfer_data(
    member_number: str,
    kind: str,
    from_account: str,
    to_account: str,
    to_member_number: str,
    amount: Decimal,
    description: str,
    confirmed_with: str,
) -> dict[str, Any]:
    return {
        "member_number": member_number,
        "kind": kind,
        "from_account": from_account,
        "to_account": to_account,
        "to_member_number": to_member_number,
        "amount": f"{amount:.2f}",
        "description": description,
        "confirmed_with": confirmed_with,
    }


def loan_payment_data(
    member_number: str,
    from_account: str,
    loan_number: str,
    installment_numbers: Iterable[int],
    amount: Decimal,
    as_of: date | None,
    confirmed_with: str,
) -> dict[str, Any]:
    """The `loan_payment` request: the quote the member saw and confirmed, which the core
    honours or rejects (it never debits another amount)."""
    return {
        "member_number": member_number,
        "from_account": from_account,
        "loan_number": loan_number,
        "installment_numbers": list(installment_numbers),
        "amount": f"{amount:.2f}",
        "as_of": as_of.isoformat() if as_of else None,
        "confirmed_with": confirmed_with,
    }


# --- loan payments -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Quote:
    """What a loan payment pays: the installments, the amount and the core's snapshot date."""

    installment_numbers: tuple[int, ...]
    amount: Decimal
    as_of: date | None


def loan_destination(loan_number: str, quote: Quote) -> str:
    """The destination a loan payment's code is bound to: the loan and the quote, so a code
    never confirms another set of installments or another snapshot's figures."""
    numbers = ",".join(str(n) for n in quote.installment_numbers)
    return f"{loan_number}|{numbers}|{quote.as_of.isoformat() if quote.as_of else ''}"


def numbers_text(numbers: Iterable[int]) -> str:
    return ",".join(str(n) for n in numbers)


def numbers_of(text: str | None) -> tuple[int, ...]:
    return tuple(int(n) for n in (text or "").split(",") if n)


def resend_due(
    last_sent_at: datetime,
    now: datetime,
    request_valid_until: datetime,
    resend_seconds: float = CORE_REQUEST_RESEND_SECONDS,
) -> bool:
    """Publish the same request again: unanswered for resend_seconds, and still valid."""
    return now < request_valid_until and now - last_sent_at >= timedelta(seconds=resend_seconds)


def late(
    sent_at: datetime, now: datetime, timeout_minutes: float = CORE_REQUEST_TIMEOUT_MINUTES
) -> bool:
    """Unanswered after the timeout: the member sees en_verificacion (never failed)."""
    return now - sent_at >= timedelta(minutes=timeout_minutes)


def confirmation_expired(
    created_at: datetime, now: datetime, minutes: float = CONFIRM_MINUTES
) -> bool:
    return now - created_at >= timedelta(minutes=minutes)


# --- the core's answers ------------------------------------------------------------------------

APPLY = "apply"
SAME = "same"
PARK = "park"


@dataclass(frozen=True)
class AnswerDecision:
    action: str  # apply | same | park
    status: str | None = None
    reason: str | None = None
    alert: bool = False  # operators must look (money moved over a rejection, amount differs)


def on_completed(status: str, order_amount: Decimal, amount: Decimal) -> AnswerDecision:
    """What a `request_completed` does to an order in `status`."""
    if amount != order_amount:
        return AnswerDecision(
            PARK,
            reason=f"El núcleo debitó {amount:.2f} y la orden es de {order_amount:.2f}.",
            alert=True,
        )
    if status == COMPLETADA:
        return AnswerDecision(SAME)
    if status in AWAITING_CORE:
        return AnswerDecision(APPLY, COMPLETADA)
    if status == RECHAZADA:
        # money moved wins over the earlier rejection; operators are told
        return AnswerDecision(APPLY, COMPLETADA, alert=True)
    return AnswerDecision(PARK, reason=f"Respuesta del núcleo a una orden {status}.")


def on_rejected(status: str) -> AnswerDecision:
    """What a `request_rejected` does to an order in `status`."""
    if status == RECHAZADA:
        return AnswerDecision(SAME)
    if status in AWAITING_CORE:
        return AnswerDecision(APPLY, RECHAZADA)
    if status == COMPLETADA:
        return AnswerDecision(
            PARK, reason="El núcleo rechaza una orden que ya completó: se conserva completada."
        )
    return AnswerDecision(PARK, reason=f"Respuesta del núcleo a una orden {status}.")


# --- Idempotency-Key of order creations --------------------------------------------------------

IDEMPOTENCY_KEY_HOURS = 24  # how long a member's key answers its first answer
IDEMPOTENCY_RESERVATION_SECONDS = 60  # a first call that never answered frees its key after this
IDEMPOTENCY_KEY_MAX = 100
_KEY_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F))  # visible ASCII


def idempotency_key_errors(key: str) -> list[str]:
    """Why a client's `Idempotency-Key` is unusable ([] when it is usable)."""
    if not key or len(key) > IDEMPOTENCY_KEY_MAX or not set(key) <= _KEY_CHARS:
        return [
            f"La clave Idempotency-Key debe tener de 1 a {IDEMPOTENCY_KEY_MAX} caracteres "
            "ASCII visibles, sin espacios."
        ]
    return []


def request_fingerprint(operation: str, body: Mapping[str, Any]) -> str:
    """What a key is bound to: the operation and the body as the client sent it (its fields,
    whatever their order; absent and null are the same)."""
    present = {name: value for name, value in body.items() if value is not None}
    canonical = json.dumps([operation, present], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def key_expires_at(now: datetime, hours: float = IDEMPOTENCY_KEY_HOURS) -> datetime:
    return now + timedelta(hours=hours)


REPLAY = "replay"
REUSED = "reused"
IN_PROGRESS = "in_progress"
FREE = "free"


def key_decision(
    stored_fingerprint: str | None,
    answered: bool,
    created_at: datetime | None,
    expires_at: datetime | None,
    fingerprint: str,
    now: datetime,
    reservation_seconds: float = IDEMPOTENCY_RESERVATION_SECONDS,
) -> str:
    """What a call with a key does given what is stored under it: `free` (create, the key is
    unknown, expired, or a first call that never answered), `replay` (the first answer),
    `reused` (another body: 409), `in_progress` (the first call is still creating: 409)."""
    if stored_fingerprint is None or expires_at is None or now >= expires_at:
        return FREE
    if stored_fingerprint != fingerprint:
        return REUSED
    if answered:
        return REPLAY
    if created_at is not None and now - created_at >= timedelta(seconds=reservation_seconds):
        return FREE
    return IN_PROGRESS


# --- the evidence of an order ------------------------------------------------------------------

CHANNELS = ("api", "web")
USER_AGENT_MAX = 200


def where_from(
    at: datetime,
    session_id: str | None,
    client_ip: str | None,
    user_agent: str | None,
    channel: str | None,
) -> dict[str, Any]:
    """Who acted and from where, for an order's evidence: the session (its id, never its
    token), the address, the device (the client's User-Agent, cut) and the channel."""
    return {
        "at": iso_z(at),
        "session_id": (session_id or None) and str(session_id)[:64],
        "client_ip": (client_ip or None) and str(client_ip)[:64],
        "device": (user_agent or None) and " ".join(str(user_agent).split())[:USER_AGENT_MAX],
        "channel": channel if channel in CHANNELS else None,
    }


def shown(
    kind: str,
    amount: Decimal,
    from_account: str,
    destination: str,
    description: str,
    digest: str,
) -> dict[str, Any]:
    """What the member was shown and confirmed: the order's kind, amount and both ends (a third
    party's account masked) and the digest the code was bound to."""
    return {
        "kind": kind,
        "amount": f"{amount:.2f}",
        "from_account": from_account,
        "to_account_masked": mask_account(destination),
        "description": description,
        "digest": digest,
    }


# the time of each state, as the order's columns keep them (status → column)
STATE_TIMES = (
    (POR_CONFIRMAR, "created_at"),
    (CONFIRMANDO, "confirmed_at"),
    (ENVIADA, "sent_at"),
    (EN_VERIFICACION, "late_at"),
    (ANULADA, "cancelled_at"),
)


def timeline(times: Mapping[str, datetime | None], status: str) -> list[dict[str, Any]]:
    """[{status, at}] of the states the order went through, oldest first. The core's answer
    (`answered_at`) is the time of the end it reached: completada or rechazada."""
    steps = [(name, times.get(column)) for name, column in STATE_TIMES]
    if status in (COMPLETADA, RECHAZADA):
        steps.append((status, times.get("answered_at")))
    found = [(name, at) for name, at in steps if at is not None]
    return [{"status": name, "at": at} for name, at in sorted(found, key=lambda s: s[1])]


# --- beneficiaries' daily attempts and raised limits -------------------------------------------

BENEFICIARY_ATTEMPTS_PER_DAY = 5  # API contract: at most 5 attempts a day
LIMITS = "limites"  # the subject of a raise's confirmation (auth restricts it for 48 hours)
CONFIRMADA = "confirmada"


def seconds_to_next_day(now: datetime) -> int:
    """Seconds until Ecuador's next calendar day (when the day's attempts start again)."""
    local = now.astimezone(ECUADOR)
    tomorrow = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), ECUADOR)
    return max(int((tomorrow - local).total_seconds()), 1)


def raises(requested: Limits, current: Limits) -> bool:
    """True when either limit goes up: then it takes effect only once confirmed."""
    return (
        requested.per_transfer > current.per_transfer
        or requested.daily_to_others > current.daily_to_others
    )


def limits_digest(member_number: str, requested: Limits) -> str:
    """What a raise's code confirms: the member and both new limits."""
    return order_digest(
        LIMITS, requested.daily_to_others, member_number, f"{requested.per_transfer:.2f}"
    )
