"""Which event becomes which e-mail, to whom, with what subject and facts. Pure.

Every message is in Spanish (es-EC). No e-mail that follows a broadcast event can carry a secret:
the context of each one is built from an explicit list of fields, so anything else an event might
hold (by mistake) never reaches a template. The recovery code travels only in the point-to-point
`recovery_code` message.
"""

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from services.common import esec

WELCOME = "welcome"
ACCOUNT_LOCKED = "account_locked"
ACCOUNT_THROTTLED = "account_throttled"
PASSWORD_CHANGED = "password_changed"  # noqa: S105  a kind of e-mail
PASSWORD_RESET_REQUESTED = "password_reset_requested"  # noqa: S105
RECOVERY_LOGIN = "recovery_login"
MEMBER_EMAIL_CHANGED = "member_email_changed"
APPLICATION_SUBMITTED = "application_submitted"
APPLICATION_STATUS_CHANGED = "application_status_changed"
RECOVERY_CODE = "recovery_code"


@dataclass(frozen=True)
class Mailing:
    kind: str
    subject: str
    fields: tuple[str, ...]  # the data fields the template may use, nothing else
    # the address is not in the event: it is the member's current one, asked of accounts
    needs_member: bool = False
    # the event's field that holds the address the e-mail goes to
    address_field: str = "email"


MAILINGS = {
    ("auth", "user_registered"): Mailing(
        WELCOME,
        "Bienvenido(a) al Portal en línea",
        ("username", "member_number", "display_name"),
    ),
    ("auth", "account_locked"): Mailing(
        ACCOUNT_LOCKED,
        "Su usuario del Portal en línea fue bloqueado temporalmente",
        ("username", "display_name", "locked_until", "client_ip", "retry_after"),
    ),
    ("auth", "account_throttled"): Mailing(
        ACCOUNT_THROTTLED,
        "Intentos de adivinar su contraseña del Portal en línea",
        ("username", "display_name", "failures", "first_failure_at", "wait_until"),
    ),
    ("auth", "recovery_login"): Mailing(
        RECOVERY_LOGIN,
        "Se ingresó a su usuario del Portal en línea con un código temporal",
        ("username", "display_name", "logged_in_at"),
    ),
    ("auth", "password_changed"): Mailing(
        PASSWORD_CHANGED,
        "Su contraseña del Portal en línea fue cambiada",
        ("username", "display_name"),
    ),
    ("auth", "password_reset_requested"): Mailing(
        PASSWORD_RESET_REQUESTED,
        "Se solicitó restablecer su contraseña",
        ("username", "display_name"),
    ),
    ("accounts", "member_email_changed"): Mailing(
        MEMBER_EMAIL_CHANGED,
        "Se cambió el correo electrónico de su ficha de socio",
        ("display_name", "new_email_masked", "changed_at"),
        address_field="old_email",
    ),
    ("credit", "application_submitted"): Mailing(
        APPLICATION_SUBMITTED,
        "Su solicitud de crédito fue ingresada",
        (
            "application_number",
            "member_number",
            "display_name",
            "product_name",
            "amount",
            "term_months",
            "submitted_at",
        ),
    ),
    ("credit", "application_status_changed"): Mailing(
        APPLICATION_STATUS_CHANGED,
        "Su solicitud de crédito cambió de estado",
        ("application_number", "status", "reason", "loan_number", "changed_at"),
        needs_member=True,
    ),
}

# what the member reads for each status of an application (docs/integration.md)
APPLICATION_STATUS_LABELS = {
    "ingresada": "Ingresada",
    "en_analisis": "En análisis",
    "aprobada": "Aprobada",
    "negada": "Negada",
    "desembolsada": "Desembolsada",
    "desistida": "Desistida",
}
APPLICATION_STATUS_SUBJECTS = {
    "en_analisis": "Su solicitud de crédito {number} está en análisis",
    "aprobada": "Su solicitud de crédito {number} fue aprobada",
    "negada": "Su solicitud de crédito {number} fue negada",
    "desembolsada": "Su crédito de la solicitud {number} fue desembolsado",
}

RECOVERY_SUBJECT = "Su código temporal para el Portal en línea"
RECOVERY_VALID_MINUTES = 15
# auth holds recovery codes back from a changed address this long (docs/identity.md)
EMAIL_CHANGE_HOLD_HOURS = 72

_ADDRESS = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_CODE = re.compile(r"^[A-Za-z0-9]{6,64}$")


@dataclass(frozen=True)
class Notice:
    """An e-mail to send: `recipient` is None when the event names no usable address."""

    kind: str
    event_id: str
    subject: str
    recipient: str | None
    context: dict[str, object] = field(default_factory=dict)


# an event's `data` as it came (JSON): every value is checked where it is used
EventData = dict[str, Any]


def clean_address(value: object) -> str | None:
    """The address when it is one (no spaces, no header tricks), else None."""
    if not isinstance(value, str):
        return None
    address = value.strip()
    if len(address) > 254 or not _ADDRESS.match(address):
        return None
    return address


def valid_code(code: object) -> bool:
    return isinstance(code, str) and bool(_CODE.match(code))


def mailing_for(source: object, event_type: object) -> Mailing | None:
    if not isinstance(source, str) or not isinstance(event_type, str):
        return None
    return MAILINGS.get((source, event_type))


def needs_member(envelope: object) -> str | None:
    """The member number whose current address an event's e-mail goes to (asked of accounts),
    or None when the event carries its own address."""
    if not isinstance(envelope, dict):
        return None
    mailing = mailing_for(envelope.get("source"), envelope.get("event_type"))
    data = _data(envelope)
    number = data.get("member_number")
    if mailing is None or not mailing.needs_member or not isinstance(number, str):
        return None
    return number


def _data(envelope: dict[str, Any]) -> EventData:
    data = envelope.get("data")
    return data if isinstance(data, dict) else {}


def notice_for(envelope: object, member: object = None) -> Notice | None:
    """The e-mail an event asks for, or None when the event sends none.

    `member` ({email, display_name}, from accounts) gives the address of a mailing that
    `needs_member`; without it that e-mail has no recipient.
    """
    if not isinstance(envelope, dict):
        return None
    mailing = mailing_for(envelope.get("source"), envelope.get("event_type"))
    event_id = envelope.get("event_id")
    if mailing is None or not isinstance(event_id, str) or not event_id:
        return None
    data = _data(envelope)
    context: dict[str, object] = {name: data.get(name) for name in mailing.fields}
    subject = mailing.subject
    if mailing.needs_member:
        facts: dict[str, Any] = member if isinstance(member, dict) else {}
        data = {**data, "email": facts.get("email"), "display_name": facts.get("display_name")}
    context["greeting_name"] = greeting_name(data.get("display_name"))
    if mailing.kind == APPLICATION_STATUS_CHANGED:
        status = data.get("status")
        status = status if isinstance(status, str) else ""  # no label, no subject
        context["status_label"] = APPLICATION_STATUS_LABELS.get(status, "")
        context["reason"] = " ".join(str(data.get("reason") or "").split())[:500]
        context["changed_at_text"] = local_time_text(data.get("changed_at"))
        template = APPLICATION_STATUS_SUBJECTS.get(status)
        number = str(data.get("application_number") or "")[:20]
        if template and number:
            subject = template.format(number=number)
    if mailing.kind == ACCOUNT_LOCKED:
        context["locked_until_text"] = local_time_text(data.get("locked_until"))
        seconds = data.get("retry_after")
        context["lock_minutes"] = None
        if isinstance(seconds, int) and not isinstance(seconds, bool) and seconds > 0:
            context["lock_minutes"] = -(-seconds // 60)  # whole minutes, rounded up
    if mailing.kind == ACCOUNT_THROTTLED:
        context["first_failure_text"] = local_time_text(data.get("first_failure_at"))
        failures = data.get("failures")
        context["failures"] = failures if isinstance(failures, int) and failures > 0 else None
    if mailing.kind == MEMBER_EMAIL_CHANGED:
        context["changed_at_text"] = local_time_text(data.get("changed_at"))
        context["hold_hours"] = EMAIL_CHANGE_HOLD_HOURS
    if mailing.kind == RECOVERY_LOGIN:
        context["logged_in_at_text"] = local_time_text(data.get("logged_in_at"))
    if mailing.kind == APPLICATION_SUBMITTED:
        context["amount_text"] = money_text(data.get("amount"))
        context["submitted_at_text"] = local_time_text(data.get("submitted_at"))
    if mailing.kind == PASSWORD_RESET_REQUESTED:
        context["code_delivery"] = code_delivery(data)
        context["valid_minutes"] = RECOVERY_VALID_MINUTES
        context["expires_at_text"] = local_time_text(data.get("expires_at"))
    return Notice(
        kind=mailing.kind,
        event_id=event_id,
        subject=subject,
        recipient=clean_address(data.get(mailing.address_field)),
        context=context,
    )


def recovery_code_notice(request_id: str, email: object, username: str, code: str) -> Notice:
    """The point-to-point e-mail with the temporary code (the only message that holds one)."""
    return Notice(
        kind=RECOVERY_CODE,
        event_id=request_id,
        subject=RECOVERY_SUBJECT,
        recipient=clean_address(email),
        context={
            "username": username,
            "code": code,
            "valid_minutes": RECOVERY_VALID_MINUTES,
            "greeting_name": greeting_name(None),
        },
    )


def code_delivery(data: EventData) -> Literal["screen", "email"] | None:
    """'screen', 'email' or None: where the temporary code went (`code_shown` or `delivery`)."""
    if data.get("code_shown") is True or data.get("delivery") == "screen":
        return "screen"
    if data.get("code_shown") is False or data.get("delivery") == "email":
        return "email"
    return None


def greeting_name(display_name: object) -> str:
    if isinstance(display_name, str) and display_name.strip():
        return " ".join(display_name.split())[:120]
    return "socio(a)"


def local_time_text(value: object) -> str:
    """'2026-11-25T17:02:33Z' → '25/11/2026 12:02' (hora de Ecuador); '' when unreadable."""
    if not isinstance(value, str) or not value.strip():
        return ""
    return esec.fecha(value) if "T" in value or " " in value.strip() else ""


def money_text(value: object) -> str:
    """'5000.00' → '$ 5.000,00' (es-EC); '' when it is not an amount."""
    return esec.money(value)
