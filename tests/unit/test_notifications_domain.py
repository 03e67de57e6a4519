"""Which event becomes which e-mail, and what the Spanish e-mails say (no broker, no SMTP)."""

import email
import email.policy

import pytest

from services.notifications import domain
from services.notifications.mail import compose, render

MARIA = {
    "username": "maria",
    "member_number": "100234",
    "email": "maria.perez@example.com",
    "display_name": "María Pérez",
}


def event(source, event_type, **data):
    return {
        "event_id": "7d8f8f0e-4f0b-4a8e-9d5e-1b1f1c1a1a1a",
        "event_type": event_type,
        "source": source,
        "occurred_at": "2026-11-25T16:47:33Z",
        "version": 1,
        "data": data,
    }


@pytest.mark.parametrize(
    "source,event_type,kind,subject",
    [
        ("auth", "user_registered", "welcome", "Bienvenido(a) al Portal en línea"),
        (
            "auth",
            "account_locked",
            "account_locked",
            "Su usuario del Portal en línea fue bloqueado temporalmente",
        ),
        (
            "auth",
            "recovery_login",
            "recovery_login",
            "Se ingresó a su usuario del Portal en línea con un código temporal",
        ),
        (
            "auth",
            "password_changed",
            "password_changed",
            "Su contraseña del Portal en línea fue cambiada",
        ),
        (
            "auth",
            "password_reset_requested",
            "password_reset_requested",
            "Se solicitó restablecer su contraseña",
        ),
        (
            "credit",
            "application_submitted",
            "application_submitted",
            "Su solicitud de crédito fue ingresada",
        ),
    ],
)
def test_each_member_event_becomes_its_email(source, event_type, kind, subject):
    notice = domain.notice_for(event(source, event_type, **MARIA))
    assert notice.kind == kind
    assert notice.subject == subject
    assert notice.recipient == "maria.perez@example.com"
    assert notice.event_id == "7d8f8f0e-4f0b-4a8e-9d5e-1b1f1c1a1a1a"


@pytest.mark.parametrize(
    "source,event_type",
    [
        ("auth", "login_succeeded"),
        ("auth", "login_failed"),
        ("auth", "logged_out"),
        ("accounts", "movement_posted"),
        ("credit", "user_registered"),
    ],
)
def test_other_events_send_no_email(source, event_type):
    assert domain.notice_for(event(source, event_type, **MARIA)) is None


@pytest.mark.parametrize("address", [None, "", "no-es-un-correo", "a@b.c\r\nBcc: x@y.z", "a b@c.d"])
def test_without_a_usable_address_there_is_no_recipient(address):
    notice = domain.notice_for(event("auth", "password_changed", **{**MARIA, "email": address}))
    assert notice.kind == "password_changed"
    assert notice.recipient is None


def test_an_envelope_without_event_id_sends_nothing():
    broken = event("auth", "user_registered", **MARIA)
    del broken["event_id"]
    assert domain.notice_for(broken) is None


def test_reset_notice_never_carries_a_code_even_if_the_event_had_one():
    notice = domain.notice_for(
        event(
            "auth",
            "password_reset_requested",
            **MARIA,
            code_shown=False,
            code="5uqZ7zkp",
            temporary_code="5uqZ7zkp",
        )
    )
    text, html = render(notice)
    assert "5uqZ7zkp" not in text + html + repr(notice)
    assert "Se solicitó restablecer su contraseña" in text
    assert "correo aparte" in text
    assert "vence en 15 minutos" in text


@pytest.mark.parametrize(
    "extra,says",
    [
        ({"code_shown": True}, "se mostró en la pantalla"),
        ({"delivery": "screen", "outcome": "code_issued"}, "se mostró en la pantalla"),
        ({"code_shown": False}, "le llega en un correo aparte"),
        ({"delivery": "email", "outcome": "code_issued"}, "le llega en un correo aparte"),
    ],
)
def test_reset_notice_says_where_the_code_went(extra, says):
    notice = domain.notice_for(event("auth", "password_reset_requested", **MARIA, **extra))
    text, html = render(notice)
    assert says in text and says in html


def test_reset_notice_gives_the_expiry_in_local_time_when_known():
    notice = domain.notice_for(
        event(
            "auth",
            "password_reset_requested",
            **MARIA,
            delivery="screen",
            expires_at="2026-11-25T17:02:33Z",
        )
    )
    text, _ = render(notice)
    assert "vence el 25/11/2026 12:02 (hora de Ecuador)" in text


def test_a_reset_request_that_matched_no_user_sends_nothing():
    notice = domain.notice_for(
        event(
            "auth",
            "password_reset_requested",
            username="nadie",
            member_number=None,
            display_name=None,
            email=None,
            outcome="no_match",
        )
    )
    assert notice.recipient is None


def test_lock_notice_gives_the_local_time_it_ends():
    notice = domain.notice_for(
        event("auth", "account_locked", **MARIA, locked_until="2026-11-25T17:02:33Z")
    )
    text, html = render(notice)
    assert "25/11/2026 12:02" in text and "25/11/2026 12:02" in html
    assert "Estimado(a) María Pérez:" in text


def test_application_notice_formats_the_amount_in_spanish():
    notice = domain.notice_for(
        event(
            "credit",
            "application_submitted",
            **MARIA,
            application_number="SOL-000123",
            product_code="CONSUMO",
            amount="12500.50",
            term_months=36,
            submitted_at="2026-11-25T16:47:33Z",
        )
    )
    text, html = render(notice)
    for body in (text, html):
        assert "SOL-000123" in body
        assert "$ 12.500,50" in body
        assert "36 meses" in body
        assert "25/11/2026 11:47" in body


def test_application_notice_names_the_product_never_its_code():
    notice = domain.notice_for(
        event(
            "credit",
            "application_submitted",
            **MARIA,
            application_number="SC-2026-000007",
            product_code="CONSUMO",
            product_name="Crédito de consumo",
            amount="5000.00",
            term_months=24,
        )
    )
    for body in render(notice):
        assert "Crédito de consumo" in body
        assert "CONSUMO" not in body


def test_html_bodies_escape_what_members_typed():
    notice = domain.notice_for(
        event("auth", "user_registered", **{**MARIA, "display_name": "<script>x</script>"})
    )
    _, html = render(notice)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_recovery_code_email_holds_the_code_and_a_spanish_subject():
    notice = domain.recovery_code_notice("req-1", "maria.perez@example.com", "maria", "5uqZ7zkp")
    message = compose(notice, "Portal en línea <no-responder@cooperativa.example>")
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "Su código temporal para el Portal en línea"
    assert parsed["To"] == "maria.perez@example.com"
    assert parsed["From"] == "Portal en línea <no-responder@cooperativa.example>"
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    assert "Su código temporal es: 5uqZ7zkp" in text
    assert "5uqZ7zkp" in html


@pytest.mark.parametrize(
    "value,expected",
    [
        ("5000.00", "$ 5.000,00"),
        ("0.5", "$ 0,50"),
        ("1234567.891", "$ 1.234.567,89"),
        ("-20", "-$ 20,00"),
        ("abc", ""),
        (None, ""),
    ],
)
def test_money_text(value, expected):
    assert domain.money_text(value) == expected


def status_changed(**changes):
    data = {
        "application_number": "SC-2026-000042",
        "member_number": "100234",
        "status": "aprobada",
        "reason": "Cumple la capacidad de pago.",
        "loan_number": None,
        "changed_at": "2026-12-01T15:04:05Z",
    }
    data.update(changes)
    return event("credit", "application_status_changed", **data)


def test_a_status_change_goes_to_the_members_current_address_in_ecuador_time():
    payload = status_changed()
    assert domain.needs_member(payload) == "100234"
    notice = domain.notice_for(payload, {"email": "nuevo@example.com", "display_name": "María"})
    assert notice.kind == "application_status_changed"
    assert notice.recipient == "nuevo@example.com"
    assert notice.subject == "Su solicitud de crédito SC-2026-000042 fue aprobada"
    text, html = render(notice)
    for body in (text, html):
        assert "Aprobada" in body
        assert "Cumple la capacidad de pago." in body
        assert "01/12/2026 10:04" in body  # 15:04 UTC is 10:04 in Ecuador
        assert "$" not in body  # no figure the member did not already see
    assert "Estimado(a) María:" in text


@pytest.mark.parametrize(
    "status, subject, label",
    [
        ("en_analisis", "Su solicitud de crédito SC-2026-000042 está en análisis", "En análisis"),
        ("negada", "Su solicitud de crédito SC-2026-000042 fue negada", "Negada"),
        (
            "desembolsada",
            "Su crédito de la solicitud SC-2026-000042 fue desembolsado",
            "Desembolsada",
        ),
    ],
)
def test_each_status_has_its_spanish_subject(status, subject, label):
    notice = domain.notice_for(status_changed(status=status, reason=None), MARIA)
    assert notice.subject == subject
    text, _ = render(notice)
    assert label in text and "Observación" not in text


def test_a_status_change_without_the_member_record_has_no_recipient():
    # the address is never taken from the event itself
    payload = status_changed(email="viejo@example.com")
    assert domain.notice_for(payload).recipient is None
    assert domain.needs_member(event("auth", "password_changed", **MARIA)) is None


def test_lock_notice_explains_the_address_in_plain_words_and_the_minutes():
    notice = domain.notice_for(
        event(
            "auth",
            "account_locked",
            **MARIA,
            locked_until="2026-11-25T17:02:33Z",
            retry_after=900,
            client_ip="203.0.113.66",
        )
    )
    text, html = render(notice)
    for body in (text, html):
        assert "por 15 minutos" in body
        assert "la dirección de internet desde la que se intentó ingresar" in body
        assert "203.0.113.66" in body and "¿Olvidó su contraseña?" in body


def test_guessing_notice_says_how_many_failures_since_when_in_ecuador_time():
    notice = domain.notice_for(
        event(
            "auth",
            "account_throttled",
            **MARIA,
            failures=10,
            first_failure_at="2026-11-25T16:40:00Z",
            wait_until="2026-11-25T16:59:30Z",
            client_ip="203.0.113.10",
        )
    )
    assert notice.recipient == "maria.perez@example.com"
    text, html = render(notice)
    for body in (text, html):
        assert "10 intentos" in body and "25/11/2026 11:40" in body
        assert "203.0.113.10" not in body  # one of many addresses: it would only confuse


def test_a_changed_email_is_told_to_the_old_address_with_the_new_one_masked():
    notice = domain.notice_for(
        event(
            "accounts",
            "member_email_changed",
            member_number="100234",
            display_name="María Pérez",
            old_email="maria.perez@example.com",
            new_email_masked="m*********a@example.com",
            changed_at="2026-11-25T16:40:00Z",
        )
    )
    assert notice.recipient == "maria.perez@example.com"
    text, html = render(notice)
    for body in (text, html):
        assert "m*********a@example.com" in body and "25/11/2026 11:40" in body
        assert "72 horas" in body and "llame" in body
