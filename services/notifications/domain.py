"""Which event becomes which e-mail, to whom, with what subject and facts. Pure.

Every message is in Spanish (es-EC). No e-mail that follows a broadcast event can carry a secret:
the context of each one is built from an explicit list of fields, so anything else an event might
hold (by mistake) never reaches a template. The recovery code travels only in the point-to-point
`recovery_code` message.
"""

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from services.common import ecuador_locale

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
    return ecuador_locale.fecha(value) if "T" in value or " " in value.strip() else ""


def money_text(value: object) -> str:
    """'5000.00' → '$ 5.000,00' (es-EC); '' when it is not an amount."""
    return ecuador_locale.money(value)


# Second factor (docs/events.md, "Notifications of the second factor") ---------------------------

SECOND_FACTOR_CODE = "second_factor_code"
SECOND_FACTOR_VALID_MINUTES = 5
NOT_ME_PATH = "/no-fui-yo/"

# what the code is for, in the member's words (the e-mail's subject and first sentence)
CODE_PURPOSES = {
    "login": ("Su código para ingresar al Portal en línea", "ingresar al Portal en línea"),
    "totp_enrollment": (
        "Su código para registrar una aplicación de autenticación",
        "registrar una aplicación de autenticación en su usuario",
    ),
    "security": (
        "Su código para un cambio de seguridad",
        "confirmar un cambio en la seguridad de su usuario",
    ),
    "order": ("Su código para confirmar una orden", "confirmar una orden"),
}
ORDER_KINDS = {
    "transferencia": "una transferencia",
    "beneficiario": "el registro de un beneficiario",
    "pago_credito": "el pago de una cuota de crédito",
    "limites": "el aumento de sus límites de transferencia",
}
_SIX_DIGITS = re.compile(r"^\d{6}$")


@dataclass(frozen=True)
class Alert:
    """A security alert of auth: an e-mail (with a "No fui yo" link when `link`) and an SMS."""

    kind: str
    subject: str
    sms: str  # the SMS text (no link: the link is one-time and travels by e-mail)
    fields: tuple[str, ...] = ()
    link: bool = True


_COMMON = ("username", "display_name", "client_ip", "at", "device_label")
ALERTS = {
    "login_new_device": Alert(
        "alert_login_new_device",
        "Nuevo ingreso a su usuario del Portal en línea",
        "Se ingreso a su usuario {username} del Portal en linea desde un dispositivo nuevo "
        "el {at_text}.",
    ),
    "totp_enrolled": Alert(
        "alert_totp_enrolled",
        "Se registró una aplicación de autenticación en su usuario",
        "Se registro una aplicacion de autenticacion en su usuario {username} el {at_text}.",
    ),
    "totp_removed": Alert(
        "alert_totp_removed",
        "Se quitó la aplicación de autenticación de su usuario",
        "Se quito la aplicacion de autenticacion de su usuario {username} el {at_text}.",
    ),
    "recovery_codes_regenerated": Alert(
        "alert_recovery_codes",
        "Se generaron nuevos códigos de recuperación",
        "Se generaron nuevos codigos de recuperacion para su usuario {username} el {at_text}.",
    ),
    "device_removed": Alert(
        "alert_device_removed",
        "Se quitó un dispositivo recordado de su usuario",
        "Se quito un dispositivo recordado de su usuario {username} el {at_text}.",
    ),
    "session_removed": Alert(
        "alert_session_removed",
        "Se cerró una sesión de su usuario",
        "Se cerro una sesion de su usuario {username} el {at_text}.",
    ),
    "second_factor_locked": Alert(
        "alert_second_factor_locked",
        "Bloqueamos el segundo factor de su usuario",
        "Bloqueamos el segundo factor de su usuario {username} tras varios codigos "
        "equivocados ({at_text}).",
    ),
    "recovery_code_used": Alert(
        "alert_recovery_code_used",
        "Se usó un código de recuperación en su usuario",
        "Se ingreso a su usuario {username} con un codigo de recuperacion el {at_text}.",
        fields=("recovery_codes_left",),
    ),
    "not_me_reported": Alert(
        "alert_not_me_reported",
        "Recibimos su aviso «No fui yo»",
        "Recibimos su aviso: cerramos las sesiones de su usuario {username} y lo bloqueamos "
        "hasta que recupere su contrasena.",
        link=False,
    ),
}
SMS_TAIL = " Si no fue usted, revise su correo o llame a la cooperativa."

# The security notices that are not auth's alerts but also reach the phone (docs/identity.md):
# someone guessing the password from many addresses, and an e-mail changed by the core (whose
# e-mail goes to the old address, which an attacker may already have replaced).
NOTICE_SMS = {
    ("auth", "account_throttled"): (
        "account_throttled_sms",
        "Hubo {failures} intentos fallidos de ingresar a su usuario {username} del Portal en "
        "linea desde direcciones desconocidas (desde el {at_text}). Si no fue usted, no comparta "
        "su contrasena; desde sus dispositivos de siempre puede ingresar.",
    ),
    ("accounts", "member_email_changed"): (
        "member_email_changed_sms",
        "Se cambio el correo de su ficha de socio el {at_text}. Si no lo pidio, llame a la "
        "cooperativa: por {hold_hours} horas no enviamos codigos de recuperacion al correo nuevo.",
    ),
}


def notice_sms(envelope: object) -> tuple[str, str] | None:
    """(kind, text) of the SMS a security notice also sends, or None: plain ASCII, no link, no
    address (the new e-mail is not repeated, not even masked)."""
    if not isinstance(envelope, dict):
        return None
    entry = NOTICE_SMS.get((str(envelope.get("source")), str(envelope.get("event_type"))))
    if entry is None:
        return None
    kind, template = entry
    data = _data(envelope)
    failures = data.get("failures")
    at = data.get("first_failure_at") or data.get("changed_at") or envelope.get("occurred_at")
    text = template.format(
        failures=failures if isinstance(failures, int) and failures > 0 else "varios",
        username=_short(data.get("username"), 30) or "del portal",
        at_text=local_time_text(at) or "hoy",
        hold_hours=EMAIL_CHANGE_HOLD_HOURS,
    )
    return kind, text[:300]


def alert_for(envelope: object) -> Alert | None:
    """The alert of an auth event, or None when the event sends none."""
    if not isinstance(envelope, dict) or envelope.get("source") != "auth":
        return None
    event_type = envelope.get("event_type")
    return ALERTS.get(event_type) if isinstance(event_type, str) else None


def alert_notice(envelope: dict[str, Any], alert: Alert, link_url: str | None) -> Notice:
    """The e-mail of an alert: facts from an explicit list of fields, the time in Ecuador, the
    one-time link when there is one; never a balance (no field of it carries one)."""
    data = _data(envelope)
    context: dict[str, object] = {name: data.get(name) for name in (*_COMMON, *alert.fields)}
    context["at_text"] = local_time_text(data.get("at") or envelope.get("occurred_at"))
    context["greeting_name"] = greeting_name(data.get("display_name"))
    context["device_text"] = _short(data.get("device_label"), 80)
    context["address_text"] = _short(data.get("client_ip"), 45)
    context["not_me_url"] = link_url
    left = data.get("recovery_codes_left")
    context["recovery_codes_left"] = left if isinstance(left, int) else None
    return Notice(
        kind=alert.kind,
        event_id=str(envelope.get("event_id") or ""),
        subject=alert.subject,
        recipient=clean_address(data.get("email")),
        context=context,
    )


def alert_sms_text(envelope: dict[str, Any], alert: Alert) -> str:
    """The SMS of an alert: short, plain ASCII (one GSM segment's alphabet), no link, no
    balance."""
    data = _data(envelope)
    username = _short(data.get("username"), 30) or "del portal"
    at_text = local_time_text(data.get("at") or envelope.get("occurred_at")) or "hoy"
    text = alert.sms.format(username=username, at_text=at_text)
    return (text + ("" if alert.kind == "alert_not_me_reported" else SMS_TAIL))[:300]


def not_me_url(base_url: str, token: object) -> str | None:
    if not isinstance(token, str) or not re.fullmatch(r"[A-Za-z0-9_-]{16,200}", token):
        return None
    return base_url.rstrip("/") + NOT_ME_PATH + token


def _short(value: object, limit: int) -> str:
    return " ".join(value.split())[:limit] if isinstance(value, str) else ""


def valid_second_factor_code(code: object) -> bool:
    return isinstance(code, str) and bool(_SIX_DIGITS.match(code))


def challenge_reference(challenge_id: object) -> str:
    """What the e-mail and the code page both show to pair them: the challenge's first 8
    characters, upper-cased ('' when there is none)."""
    if not isinstance(challenge_id, str):
        return ""
    return re.sub(r"[^A-Za-z0-9]", "", challenge_id)[:8].upper()


def mask_email(address: str) -> str:
    """'maria.perez@example.com' → 'm****@example.com'."""
    local, _, domain_part = address.partition("@")
    return f"{local[:1]}****@{domain_part}"


def second_factor_code_notice(
    request_id: str,
    email: object,
    username: str,
    code: str,
    purpose: str,
    expires_at: object = None,
    challenge_id: object = None,
    order: object = None,
) -> Notice:
    """The point-to-point e-mail with a second-factor code: what it is for (for an order, the
    amount and the masked destination), the reference of its challenge and when it expires."""
    subject, purpose_text = CODE_PURPOSES.get(purpose, CODE_PURPOSES["login"])
    facts: dict[str, Any] = order if isinstance(order, dict) else {}
    order_text = ""
    if purpose == "order":
        order_text = ORDER_KINDS.get(str(facts.get("kind") or ""), "una orden")
    return Notice(
        kind=SECOND_FACTOR_CODE,
        event_id=request_id,
        subject=subject,
        recipient=clean_address(email),
        context={
            "username": username,
            "code": code,
            "purpose_text": purpose_text,
            "order_text": order_text,
            "amount_text": money_text(facts.get("amount")) if facts.get("amount") else "",
            **_destination(facts),
            "valid_minutes": SECOND_FACTOR_VALID_MINUTES,
            "expires_at_text": local_time_text(expires_at),
            "reference": challenge_reference(challenge_id),
            "greeting_name": greeting_name(None),
        },
    )


def _destination(order: dict[str, Any]) -> dict[str, str]:
    """How the code's e-mail names where the money goes: "a la cuenta ****4002", or for a loan
    payment "al crédito CR-100234-02" (its destination is the loan, not an account)."""
    text = _short(order.get("destination_masked"), 40)
    if order.get("kind") == "pago_credito":
        return {"destination_lead": "al crédito", "destination_text": text.removeprefix("Crédito ")}
    return {"destination_lead": "a la cuenta", "destination_text": text}


def phone_e164(phone: object) -> str | None:
    """The member's phone as the SMS provider wants it: '0991234567' → '+593991234567'
    (Ecuadorian mobile numbers); '+…' kept; anything else None (no SMS)."""
    if not isinstance(phone, str):
        return None
    digits = re.sub(r"[\s().-]", "", phone)
    if re.fullmatch(r"\+[1-9]\d{7,14}", digits):
        return digits
    if re.fullmatch(r"09\d{8}", digits):
        return "+593" + digits[1:]
    if re.fullmatch(r"5939\d{8}", digits):
        return "+" + digits
    return None


# Orders that move money: completada / rechazada (payments' events; docs/events.md) -------------

ORDER_COMPLETED = "order_completed"
ORDER_REJECTED = "order_rejected"
# the member's other alerts of payments (DOMAIN: a beneficiary added, a limit raised)
BENEFICIARY_ADDED = "beneficiary_added"
LIMITS_RAISED = "limits_raised"
PAYMENTS_ALERT_SUBJECTS = {
    BENEFICIARY_ADDED: "Se registró un beneficiario en su usuario del Portal en línea",
    LIMITS_RAISED: "Se subieron sus límites de transferencia",
}
# what the member reads of an order (the e-mail's subject and the SMS)
ORDER_WHAT = {
    "propia": "transferencia entre sus cuentas",
    "socio": "transferencia a otro socio",
    "loan_payment": "pago de cuota de crédito",
}
ORDER_SUBJECTS = {
    ORDER_COMPLETED: "Su {what} de {amount} se realizó",
    ORDER_REJECTED: "Su {what} de {amount} no se realizó",
}


def order_alert_kind(envelope: object) -> str | None:
    """`order_completed` / `order_rejected` for a payments event that ends an order that way
    (an operator's resolution says which by its status), else None: no message."""
    if not isinstance(envelope, dict) or envelope.get("source") != "payments":
        return None
    if envelope.get("event_type") in PAYMENTS_ALERT_SUBJECTS:
        return str(envelope["event_type"])
    status = _data(envelope).get("status")
    if envelope.get("event_type") in ("order_completed", "order_rejected", "order_resolved"):
        if status == "completada":
            return ORDER_COMPLETED
        if status == "rechazada":
            return ORDER_REJECTED
    return None


def _mask(account: object) -> str:
    """The last four digits of an account ('****1234'), whatever the event carried."""
    digits = re.sub(r"\D", "", account) if isinstance(account, str) else ""
    return "****" + digits[-4:] if len(digits) >= 4 else ""


def order_notice(
    envelope: dict[str, Any], kind: str, member: object, not_me_url: str | None = None
) -> Notice:
    """The e-mail of an order completed or rejected: the amount in es-EC, both accounts masked,
    the time in Ecuador, the core's reference or the reason, the one-time "No fui yo" link when
    auth gave one; to the member's address on file."""
    data = _data(envelope)
    facts: dict[str, Any] = member if isinstance(member, dict) else {}
    if kind in PAYMENTS_ALERT_SUBJECTS:
        return Notice(
            kind=kind,
            event_id=str(envelope.get("event_id") or ""),
            subject=PAYMENTS_ALERT_SUBJECTS[kind],
            recipient=clean_address(facts.get("email")),
            context={
                "greeting_name": greeting_name(facts.get("display_name")),
                "alias": _short(data.get("alias"), 40),
                "account_masked": _mask(data.get("account_number_masked")),
                "per_transfer_text": money_text(data.get("per_transfer")),
                "daily_text": money_text(data.get("daily_to_others")),
                "at_text": local_time_text(data.get("confirmed_at") or envelope.get("occurred_at")),
                # the alerts' layout (alert_base): no device nor address in these events
                "device_text": "",
                "address_text": "",
                "not_me_url": not_me_url,
            },
        )
    amount = money_text(data.get("amount"))
    what = ORDER_WHAT.get(str(data.get("kind") or ""), "orden")
    context: dict[str, object] = {
        "greeting_name": greeting_name(facts.get("display_name")),
        "what": what,
        "amount_text": amount,
        "from_account_masked": _mask(data.get("from_account")),
        "to_account_masked": _mask(data.get("to_account_masked")),
        "at_text": local_time_text(data.get("answered_at") or envelope.get("occurred_at")),
        "core_reference": _short(data.get("core_reference"), 80),
        "reason": _short(data.get("reason"), 200),
        "description": _short(data.get("description"), 60),
        "not_me_url": not_me_url,
    }
    return Notice(
        kind=kind,
        event_id=str(envelope.get("event_id") or ""),
        subject=ORDER_SUBJECTS[kind].format(what=what, amount=amount),
        recipient=clean_address(facts.get("email")),
        context=context,
    )


def _ascii(text: str) -> str:
    """Plain ASCII for an SMS (one GSM segment's alphabet): accents dropped."""
    import unicodedata

    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def order_sms_text(envelope: dict[str, Any], kind: str) -> str:
    """The SMS of an order completed or rejected: short, ASCII, accounts masked, no balance."""
    notice = order_notice(envelope, kind, None)
    c = notice.context
    if kind == BENEFICIARY_ADDED:
        return _ascii(
            f"Se registro el beneficiario {c['alias']} (cuenta {c['account_masked']}) en su "
            f"usuario del portal el {c['at_text'] or 'hoy'}." + SMS_TAIL
        )[:300]
    if kind == LIMITS_RAISED:
        return _ascii(
            f"Se subieron sus limites de transferencia a {c['per_transfer_text']} por "
            f"transferencia y {c['daily_text']} diarios el {c['at_text'] or 'hoy'}." + SMS_TAIL
        )[:300]
    head = (
        f"Su {c['what']} de {c['amount_text']} de la cuenta {c['from_account_masked']} "
        f"a {c['to_account_masked']}"
    )
    if kind == ORDER_COMPLETED:
        text = f"{head} se realizo el {c['at_text'] or 'hoy'}. Ref. {c['core_reference']}."
    else:
        text = (
            f"{head} no se realizo ({c['at_text'] or 'hoy'}): {c['reason']} "
            "El dinero no salio de su cuenta."
        )
    return _ascii(text + SMS_TAIL)[:300]
