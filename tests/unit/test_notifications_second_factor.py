"""The second factor's messages (no broker, no SMTP): the code e-mail for an order, every alert's
e-mail and SMS, and the SMS senders (the file one writes; the Twilio one is only built)."""

import pytest

from services.notifications import domain, sms
from services.notifications.mail import render

ALERT_DATA = {
    "username": "maria",
    "member_number": "100234",
    "display_name": "María Pérez",
    "email": "maria.perez@example.com",
    "client_ip": "190.152.10.7",
    "device_label": "Chrome en Android",
    "at": "2026-11-25T16:47:33Z",
    "recovery_codes_left": 2,
    "balance": "9999.99",  # never shown: not a field of any alert
}


def envelope(event_type, **data):
    return {
        "event_id": "7d8f8f0e-4f0b-4a8e-9d5e-1b1f1c1a1a1a",
        "event_type": event_type,
        "source": "auth",
        "occurred_at": "2026-11-25T16:47:40Z",
        "data": {**ALERT_DATA, **data},
    }


def test_an_order_code_email_names_the_amount_and_the_masked_destination():
    notice = domain.second_factor_code_notice(
        "d-1",
        "maria.perez@example.com",
        "maria",
        "480613",
        "order",
        expires_at="2026-11-25T17:07:33Z",
        challenge_id="ab12cd34-0000",
        order={"kind": "transferencia", "amount": "1250.50", "destination_masked": "****1234"},
    )
    text, html = render(notice)
    assert notice.subject == "Su código para confirmar una orden"
    for body in (text, html):
        assert "480613" in body
        assert "una transferencia" in body and "$ 1.250,50" in body and "****1234" in body
        assert "AB12CD34" in body and "25/11/2026 12:07" in body
        assert "a la cuenta" in body


def test_a_loan_payment_code_email_names_the_loan_not_an_account():
    notice = domain.second_factor_code_notice(
        "d-2",
        "maria.perez@example.com",
        "maria",
        "480613",
        "order",
        order={
            "kind": "pago_credito",
            "amount": "464.19",
            "destination_masked": "Crédito CR-100234-02",
        },
    )
    text, html = render(notice)
    assert "el pago de una cuota de crédito por $ 464,19 al crédito CR-100234-02." in text
    assert "a la cuenta" not in text and "al crédito <strong>CR-100234-02</strong>" in html


@pytest.mark.parametrize("event_type", sorted(domain.ALERTS))
def test_every_alert_email_says_what_happened_in_ecuador_time_with_its_link_and_no_balance(
    event_type,
):
    alert = domain.ALERTS[event_type]
    link = "https://portal.example/no-fui-yo/" + "t" * 43 if alert.link else None
    notice = domain.alert_notice(envelope(event_type), alert, link)
    text, html = render(notice)
    assert notice.recipient == "maria.perez@example.com"
    for body in (text, html):
        assert "«maria»" in body
        assert "25/11/2026 11:47" in body  # the fact's time, in Ecuador
        assert "9.999,99" not in body and "9999.99" not in body
        assert (link in body) if link else ("no-fui-yo" not in body)
    message = domain.alert_sms_text(envelope(event_type), alert)
    assert "maria" in message and "9999" not in message and "http" not in message
    assert message.isascii() and len(message) <= 300


def test_the_recovery_code_alert_says_how_many_are_left_and_to_make_new_ones():
    alert = domain.ALERTS["recovery_code_used"]
    text, _ = render(domain.alert_notice(envelope("recovery_code_used"), alert, None))
    assert "Le quedan 2: genere códigos nuevos en la página Seguridad." in text


def test_a_link_token_that_is_not_a_token_gives_no_link():
    assert domain.not_me_url("https://portal.example/", "abc/../x") is None
    assert domain.not_me_url("https://portal.example/", None) is None
    token = "A" * 43
    assert domain.not_me_url("https://portal.example/", token) == (
        "https://portal.example/no-fui-yo/" + token
    )


@pytest.mark.parametrize(
    "phone,expected",
    [
        ("0991234567", "+593991234567"),
        ("099 123 4567", "+593991234567"),
        ("+593991234567", "+593991234567"),
        ("593991234567", "+593991234567"),
        ("022345678", None),  # a landline: no SMS
        ("", None),
        (None, None),
    ],
)
def test_the_phone_on_file_becomes_an_international_number(phone, expected):
    assert domain.phone_e164(phone) == expected


def test_the_file_sender_writes_the_sms_readable_by_the_portal_only(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_VAR_DIR", str(tmp_path))
    sender = sms.build_sender(sms.SmsSettings.from_config({}))
    location = sender.send("+593991234567", "Se ingreso a su usuario maria.", "alert_x")
    [path] = (tmp_path / "sms").iterdir()
    assert location == str(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text() == "Para: +593991234567\n\nSe ingreso a su usuario maria.\n"


def test_the_twilio_sender_is_chosen_and_built_from_the_environment_without_network(monkeypatch):
    monkeypatch.setenv("SMS_BACKEND", "twilio")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "secret-token")
    monkeypatch.setenv("TWILIO_FROM", "+15005550006")
    sender = sms.build_sender(sms.SmsSettings.from_config({}))
    assert isinstance(sender, sms.TwilioSender)
    assert sender.client.username == "AC" + "0" * 32
    assert sender.sender == "+15005550006"
    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    with pytest.raises(sms.SmsConfigurationError, match="TWILIO_AUTH_TOKEN"):
        sms.build_sender(sms.SmsSettings.from_config({}))


def test_an_unknown_sms_backend_stops_the_service_from_starting():
    with pytest.raises(sms.SmsConfigurationError):
        sms.SmsSettings.from_config({"SMS_BACKEND": "carrier-pigeon"})


def test_make_run_says_where_the_emailed_codes_and_the_sms_land(tmp_path, monkeypatch):
    from scripts.portal import delivery_notes

    monkeypatch.setenv("PORTAL_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("SMTP_HOST", raising=False)
    monkeypatch.delenv("SMS_BACKEND", raising=False)
    notes = delivery_notes()
    assert f"archivos .eml en {tmp_path / 'mail'}" in notes
    assert f"SMS de alertas: archivos en {tmp_path / 'sms'}" in notes
