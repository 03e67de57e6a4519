"""notifications on the real broker: .eml files when embedded, a real SMTP server on localhost,
idempotent by event_id, and nothing lost while SMTP or the service itself is away."""

import email
import email.policy
import logging
import uuid
from datetime import date

import pytest
from aiosmtpd.controller import Controller

from services.common import config
from services.common.entrypoints import rpc
from services.common.errors import ValidationError
from services.notifications.service import NotificationsService
from tests.conftest import _free_port
from tests.service.event_tools import (
    counting_deliveries,
    emit,
    make_envelope,
    publish,
    wait_for_deliveries,
    wait_until,
)

# also run on PostgreSQL (-m pg --db-backend postgres): the inbox/outbox and the mail queue are SQL
pytestmark = pytest.mark.pg

MARIA = {
    "username": "maria",
    "member_number": "100234",
    "email": "maria.perez@example.com",
    "display_name": "María Pérez",
}


@pytest.fixture
def notifications_config(service_config):
    cfg = dict(service_config)
    return cfg


@pytest.fixture
def start_notifications(notifications_config, container_factory):
    def start(**extra):
        container = container_factory(
            counting_deliveries(NotificationsService), {**notifications_config, **extra}
        )
        container.start()
        return container

    return start


@pytest.fixture
def notifications_rpc(notifications_config, rpc_proxy):
    return rpc_proxy("notifications")


class Inbox:
    """aiosmtpd handler: keeps every message it is given."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            (
                envelope.rcpt_tos,
                email.message_from_bytes(envelope.content, policy=email.policy.default),
            )
        )
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


def mail_dir():
    return config.var_dir() / "mail"


def eml_files():
    directory = mail_dir()
    return sorted(directory.glob("*.eml")) if directory.exists() else []


def read_eml(path):
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def bodies(message):
    return (
        message.get_body(("plain",)).get_content(),
        message.get_body(("html",)).get_content(),
    )


def delivery_of(rpc, event_id, status=None):
    def check():
        for delivery in rpc.deliveries(limit=500):
            if delivery["event_id"] == event_id and (
                status is None or delivery["status"] == status
            ):
                return delivery
        return None

    return wait_until(check, message=f"delivery of {event_id} ({status})")


def test_embedded_mode_writes_the_welcome_email_as_an_eml_file(
    start_notifications, notifications_config, notifications_rpc
):
    start_notifications()
    event = emit(notifications_config["AMQP_URI"], "auth", "user_registered", MARIA)
    delivery = delivery_of(notifications_rpc, event["event_id"], "sent")
    [path] = eml_files()
    assert delivery["location"] == str(path)
    message = read_eml(path)
    assert message["Subject"] == "Bienvenido(a) al Portal en línea"
    assert message["To"] == "maria.perez@example.com"
    assert message["From"] == "Portal en línea <no-responder@cooperativa.example>"
    text, html = bodies(message)
    assert "Estimado(a) María Pérez:" in text
    assert "Su usuario «maria» quedó registrado para el socio número 100234" in text
    assert "<strong>maria</strong>" in html
    assert delivery["kind"] == "welcome" and delivery["attempts"] == 1


def test_the_same_event_twice_sends_one_email(
    start_notifications, notifications_config, notifications_rpc
):
    container = start_notifications()
    uri = notifications_config["AMQP_URI"]
    event = make_envelope("auth", "password_changed", MARIA)
    publish(uri, event, event)
    later = emit(uri, "auth", "password_changed", {**MARIA, "email": "otra@example.com"})
    delivery_of(notifications_rpc, later["event_id"], "sent")
    wait_for_deliveries(container, event, event, later)  # the copy was handled too
    recipients = sorted(read_eml(path)["To"] for path in eml_files())
    assert recipients == ["maria.perez@example.com", "otra@example.com"]
    mine = [d for d in notifications_rpc.deliveries() if d["event_id"] == event["event_id"]]
    assert len(mine) == 1 and mine[0]["attempts"] == 1


def test_an_event_without_email_is_logged_and_skipped(
    start_notifications, notifications_config, notifications_rpc
):
    start_notifications()
    event = emit(
        notifications_config["AMQP_URI"],
        "auth",
        "account_locked",
        {"username": "jose", "member_number": "100517", "locked_until": "2026-11-25T17:02:33Z"},
    )
    delivery = delivery_of(notifications_rpc, event["event_id"], "skipped")
    assert delivery["recipient"] is None
    assert eml_files() == []


def test_reset_notice_reaches_a_real_smtp_server_in_spanish_without_code(
    start_notifications, notifications_config, notifications_rpc, smtp_server
):
    start_notifications(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port)
    event = emit(
        notifications_config["AMQP_URI"],
        "auth",
        "password_reset_requested",
        {**MARIA, "code_shown": True},
    )
    wait_until(lambda: smtp_server.messages, message="the SMTP server to receive the notice")
    [(recipients, message)] = smtp_server.messages
    assert recipients == ["maria.perez@example.com"]
    assert message["Subject"] == "Se solicitó restablecer su contraseña"
    text, html = bodies(message)
    assert "Se solicitó restablecer su contraseña del Portal en línea" in text
    assert "Se solicitó restablecer su contraseña" in html
    assert "Su código temporal es" not in text
    delivery = delivery_of(notifications_rpc, event["event_id"], "sent")
    assert delivery["location"] == f"smtp://127.0.0.1:{smtp_server.port}"
    assert eml_files() == []


def test_smtp_outage_is_retried_until_the_email_goes_out(
    start_notifications, notifications_config, notifications_rpc
):
    port = _free_port()  # nothing listens here yet
    start_notifications(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_TIMEOUT=2)
    event = emit(
        notifications_config["AMQP_URI"],
        "credit",
        "application_submitted",
        {
            **MARIA,
            "application_number": "SOL-000042",
            "product_code": "CONSUMO",
            "amount": "5000.00",
            "term_months": 24,
            "submitted_at": "2026-11-25T16:47:33Z",
        },
    )
    failed = delivery_of(notifications_rpc, event["event_id"], "failed")
    assert failed["attempts"] >= 1 and "Connection" in failed["last_error"]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        sent = wait_until(
            lambda: (
                (d := delivery_of(notifications_rpc, event["event_id"]))["status"] == "sent" and d
            ),
            timeout=20,
            message="the retried delivery",
        )
        [(recipients, message)] = inbox.messages
    finally:
        controller.stop()
    assert sent["attempts"] >= 2 and sent["last_error"] is None
    assert recipients == ["maria.perez@example.com"]
    assert message["Subject"] == "Su solicitud de crédito fue ingresada"
    assert "$ 5.000,00" in bodies(message)[0]


def test_events_wait_in_the_queue_while_notifications_is_stopped(
    start_notifications, notifications_config, notifications_rpc
):
    container = start_notifications()
    container.stop()
    uri = notifications_config["AMQP_URI"]
    waiting = [
        emit(uri, "auth", "user_registered", MARIA),
        emit(uri, "auth", "password_reset_requested", {**MARIA, "code_shown": False}),
        emit(uri, "auth", "password_changed", MARIA),
    ]
    assert eml_files() == []  # no consumer while stopped: nothing can have been sent
    start_notifications()
    for event in waiting:
        delivery_of(notifications_rpc, event["event_id"], "sent")
    subjects = sorted(read_eml(path)["Subject"] for path in eml_files())
    assert subjects == [
        "Bienvenido(a) al Portal en línea",
        "Se solicitó restablecer su contraseña",
        "Su contraseña del Portal en línea fue cambiada",
    ]


def test_recovery_code_goes_point_to_point_and_is_never_logged_nor_listed(
    start_notifications, notifications_rpc, caplog
):
    start_notifications()
    caplog.set_level(logging.DEBUG)
    answer = notifications_rpc.send_recovery_code("maria.perez@example.com", "maria", "5uqZ7zkp")
    assert answer["sent"] is True
    [path] = eml_files()
    message = read_eml(path)
    assert message["Subject"] == "Su código temporal para el Portal en línea"
    assert "Su código temporal es: 5uqZ7zkp" in bodies(message)[0]
    listed = notifications_rpc.deliveries()
    assert [d["kind"] for d in listed] == ["recovery_code"]
    assert "5uqZ7zkp" not in repr(listed)
    assert "5uqZ7zkp" not in caplog.text


def test_recovery_code_with_bad_arguments_is_422(start_notifications, notifications_rpc):
    start_notifications()
    with pytest.raises(ValidationError) as err:
        notifications_rpc.send_recovery_code("no-es-correo", "maria", "5uq")
    assert err.value.fields == {
        "email": ["Correo electrónico inválido."],
        "code": ["Código inválido."],
    }
    assert eml_files() == []


def test_ping_and_deliveries_limit(start_notifications, notifications_rpc):
    start_notifications()
    assert notifications_rpc.ping() == "pong"
    with pytest.raises(ValidationError) as err:
        notifications_rpc.deliveries(limit=0)
    assert err.value.fields == {"limit": ["Debe estar entre 1 y 500."]}


def test_many_events_at_once_all_reach_the_smtp_server_once(
    start_notifications, notifications_config, notifications_rpc, smtp_server
):
    container = start_notifications(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port)
    kinds = ["user_registered", "password_changed", "password_reset_requested", "account_locked"]
    events = [
        make_envelope("auth", kinds[n % 4], {**MARIA, "email": f"socio{n}@example.com"})
        for n in range(12)
    ]
    publish(notifications_config["AMQP_URI"], *events, *events[:4])  # and a few duplicates
    wait_until(lambda: len(smtp_server.messages) >= 12, message="12 messages")
    for event in events:
        delivery_of(notifications_rpc, event["event_id"], "sent")
    wait_for_deliveries(container, *events, *events[:4])  # the duplicates were handled too
    received = sorted(rcpt[0] for rcpt, _ in smtp_server.messages)
    assert received == sorted(f"socio{n}@example.com" for n in range(12))


def waiting_for_retry(amqp_uri, queue):
    """How many messages wait in `queue` (declared passively: it must exist)."""
    from kombu import Connection

    with Connection(amqp_uri) as conn:
        try:
            return conn.default_channel.queue_declare(queue, passive=True).message_count
        except Exception:  # noqa: BLE001  not declared yet
            return 0


def test_a_status_change_waits_for_accounts_then_goes_to_the_members_address(
    start_notifications, notifications_config, notifications_rpc, smtp_server, container_factory
):
    from services.accounts.service import AccountsService
    from tests.conftest import load_demo

    uri = notifications_config["AMQP_URI"]
    load_demo(notifications_config, date.today(), services=["accounts"], count=1)
    start_notifications(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port, RPC_TIMEOUT=1.0)
    event = emit(
        uri,
        "credit",
        "application_status_changed",
        {
            "application_number": "SC-2026-000007",
            "member_number": "100234",
            "status": "en_analisis",
            "reason": None,
            "loan_number": None,
            "changed_at": "2026-12-01T15:04:05Z",
        },
    )
    # accounts is not running: the address cannot be known, the event waits for its retry
    retry = (
        "evt-credit-application_status_changed--notifications.on_application_status_changed.retry"
    )
    wait_until(lambda: waiting_for_retry(uri, retry), message="the event waiting for a retry")
    assert smtp_server.messages == []
    container_factory(AccountsService, notifications_config).start()
    wait_until(lambda: smtp_server.messages, timeout=30, message="the e-mail once accounts answers")
    [(recipients, message)] = smtp_server.messages
    assert recipients == ["maria.perez@example.com"]
    assert message["Subject"] == "Su solicitud de crédito SC-2026-000007 está en análisis"
    assert delivery_of(notifications_rpc, event["event_id"], "sent")["attempts"] == 1


# Second factor: the code e-mail (auth → notifications by RPC) and the security alerts ------------


def test_a_second_factor_code_goes_point_to_point_bound_to_its_challenge_and_is_never_logged(
    start_notifications, notifications_rpc, caplog
):
    start_notifications()
    caplog.set_level(logging.DEBUG)
    answer = notifications_rpc.send_second_factor_code(
        email="maria.perez@example.com",
        username="maria",
        code="480613",
        purpose="login",
        expires_at="2026-11-25T17:07:33Z",
        challenge_id="3f2a9c1b-5d7e-4e0f-9a1b-2c3d4e5f6a7b",
    )
    assert answer["sent"] is True
    assert answer["email_masked"] == "m****@example.com"
    [path] = eml_files()
    message = read_eml(path)
    assert message["To"] == "maria.perez@example.com"
    assert message["Subject"] == "Su código para ingresar al Portal en línea"
    for body in bodies(message):
        assert "480613" in body
        assert "3F2A9C1B" in body  # the reference the code page shows too
        assert "17/11/2026" not in body and "25/11/2026 12:07" in body  # Ecuador time
    listed = [d for d in notifications_rpc.deliveries() if d["kind"] == "second_factor_code"]
    assert [d["status"] for d in listed] == ["sent"]
    assert "480613" not in str(listed)
    assert "480613" not in caplog.text


def test_a_second_factor_code_that_is_not_six_digits_is_refused_and_nothing_is_sent(
    start_notifications, notifications_rpc
):
    start_notifications()
    with pytest.raises(ValidationError) as refused:
        notifications_rpc.send_second_factor_code(
            email="maria.perez@example.com", username="maria", code="48061", purpose="login"
        )
    assert "code" in refused.value.extra["fields"]
    assert eml_files() == []


class AuthLinks:
    """Stands in for auth's `not_me_link` (the one auth RPC notifications calls): a token
    derived from the event, so the test knows the link to expect."""

    name = "auth"

    @rpc
    def not_me_link(self, event_id, member_number=None, event_type=None):
        if event_type is not None and not (member_number and event_type.startswith("payments.")):
            return None
        return {"token": "link-" + event_id.replace("-", ""), "expires_at": "2026-12-01T00:00:00Z"}


def sms_files():
    directory = config.var_dir() / "sms"
    return sorted(directory.glob("*.txt")) if directory.exists() else []


def test_an_alert_goes_by_email_with_its_no_fui_yo_link_and_by_sms_once(
    start_notifications, notifications_config, notifications_rpc, container_factory
):
    from services.accounts.service import AccountsService
    from tests.conftest import load_demo

    load_demo(notifications_config, date.today(), services=["accounts"], count=1)
    container_factory(AccountsService, notifications_config).start()
    container_factory(AuthLinks, notifications_config).start()
    start_notifications(PORTAL_PUBLIC_URL="https://portal.example")
    data = {
        **MARIA,
        "client_ip": "190.152.10.7",
        "device_label": "Chrome en Android",
        "at": "2026-11-25T16:47:33Z",
        "session_id": "s-1",
    }
    event = make_envelope("auth", "login_new_device", data, event_id=str(uuid.uuid4()))
    publish(notifications_config["AMQP_URI"], event, event)  # delivered twice: sent once
    wait_until(lambda: eml_files() and sms_files(), message="the e-mail and the SMS")
    [path] = eml_files()
    message = read_eml(path)
    assert message["To"] == "maria.perez@example.com"
    assert message["Subject"] == "Nuevo ingreso a su usuario del Portal en línea"
    link = "https://portal.example/no-fui-yo/link-" + event["event_id"].replace("-", "")
    text, html = bodies(message)
    assert link in text and f'href="{link}"' in html
    assert "25/11/2026 11:47" in text  # Ecuador time
    assert "Chrome en Android" in text and "190.152.10.7" in text
    [sms] = sms_files()
    assert sms.stat().st_mode & 0o777 == 0o600
    content = sms.read_text()
    assert content.startswith("Para: +593991234567")  # maria's phone on file in accounts
    assert "25/11/2026 11:47" in content and "no-fui-yo" not in content
    # the second copy of the event sent nothing more (a later alert, through the same queue)
    later = make_envelope("auth", "login_new_device", {**data, "email": "otra@example.com"})
    publish(notifications_config["AMQP_URI"], later)
    wait_until(lambda: len(sms_files()) == 2 and len(eml_files()) == 2, message="the later alert")
    assert sorted(read_eml(p)["To"] for p in eml_files()) == [
        "maria.perez@example.com",
        "otra@example.com",
    ]
    mine = [d for d in notifications_rpc.deliveries() if d["event_id"] == event["event_id"]]
    assert sorted((d["kind"], d["status"], d["attempts"], d["location"]) for d in mine) == [
        ("alert_login_new_device", "sent", 1, str(path)),
        ("alert_login_new_device_sms", "sent", 1, str(sms)),
    ]


def order_event(event_type, status, **data):
    return make_envelope(
        "payments",
        event_type,
        {
            "order_id": str(uuid.uuid4()),
            "request_id": str(uuid.uuid4()),
            "request_type": "transfer",
            "member_number": "100234",
            "kind": "socio",
            "from_account": "4100234001",
            "to_account_masked": "****7001",
            "amount": "1234.50",
            "status": status,
            "reason_code": None,
            "reason": None,
            "confirmed_with": "email_code",
            "alert": None,
            "core_reference": None,
            "answered_at": "2026-12-07T15:00:05Z",
            **data,
        },
        event_id=str(uuid.uuid4()),
    )


def test_an_order_completed_or_rejected_goes_to_the_member_by_email_and_sms_once(
    start_notifications, notifications_config, notifications_rpc, container_factory
):
    from services.accounts.service import AccountsService
    from tests.conftest import load_demo

    load_demo(notifications_config, date.today(), services=["accounts"], count=1)
    container_factory(AccountsService, notifications_config).start()
    container_factory(AuthLinks, notifications_config).start()
    start_notifications(PORTAL_PUBLIC_URL="https://portal.example")
    done = order_event("order_completed", "completada", core_reference="CORE-778899")
    publish(notifications_config["AMQP_URI"], done, done)  # delivered twice: sent once
    wait_until(lambda: eml_files() and sms_files(), message="the e-mail and the SMS")
    [path] = eml_files()
    message = read_eml(path)
    assert message["To"] == "maria.perez@example.com"
    assert message["Subject"] == "Su transferencia a otro socio de $ 1.234,50 se realizó"
    for body in bodies(message):
        assert "$ 1.234,50" in body and "CORE-778899" in body
        assert "****4001" in body and "****7001" in body and "4100234001" not in body
        assert "07/12/2026 10:00" in body  # Ecuador time
    # the one-time "No fui yo" link auth made for maria's order
    link = "https://portal.example/no-fui-yo/link-" + done["event_id"].replace("-", "")
    text, html = bodies(message)
    assert link in text and f'href="{link}"' in html
    [sms] = sms_files()
    content = sms.read_text()
    assert content.startswith("Para: +593991234567")
    assert "$ 1.234,50" in content and "****7001" in content and "CORE-778899" in content
    assert "07/12/2026 10:00" in content and content.isascii()

    rejected = order_event(
        "order_rejected",
        "rechazada",
        reason_code="cuenta_no_disponible",
        reason="La cuenta de destino está bloqueada.",
    )
    publish(notifications_config["AMQP_URI"], rejected)
    wait_until(lambda: len(eml_files()) == 2 and len(sms_files()) == 2, message="the rejection")
    [second] = [read_eml(p) for p in eml_files() if p != path]
    assert second["Subject"] == "Su transferencia a otro socio de $ 1.234,50 no se realizó"
    assert "La cuenta de destino está bloqueada." in bodies(second)[0]
    assert "/no-fui-yo/link-" + rejected["event_id"].replace("-", "") in bodies(second)[0]
    [sms2] = [p for p in sms_files() if p != sms]
    assert "no se realizo" in sms2.read_text() and "bloqueada" in sms2.read_text()
    mine = [d for d in notifications_rpc.deliveries() if d["event_id"] == done["event_id"]]
    assert sorted((d["kind"], d["status"], d["attempts"]) for d in mine) == [
        ("order_completed", "sent", 1),
        ("order_completed_sms", "sent", 1),
    ]


def test_a_beneficiary_added_and_a_limit_raised_alert_the_member_by_email_and_sms(
    start_notifications, notifications_config, container_factory
):
    from services.accounts.service import AccountsService
    from tests.conftest import load_demo

    load_demo(notifications_config, date.today(), services=["accounts"], count=1)
    container_factory(AccountsService, notifications_config).start()
    container_factory(AuthLinks, notifications_config).start()
    start_notifications()
    added = make_envelope(
        "payments",
        "beneficiary_added",
        {
            "beneficiary_id": str(uuid.uuid4()),
            "member_number": "100234",
            "alias": "José",
            "account_number_masked": "****7001",
            "confirmed_with": "totp",
        },
        occurred_at="2026-12-07T15:00:05Z",
    )
    raised = make_envelope(
        "payments",
        "limits_raised",
        {
            "change_id": str(uuid.uuid4()),
            "member_number": "100234",
            "per_transfer": "800.00",
            "daily_to_others": "1500.00",
            "confirmed_with": "email_code",
            "confirmed_at": "2026-12-07T16:30:00Z",
        },
    )
    publish(notifications_config["AMQP_URI"], added, raised)
    wait_until(lambda: len(eml_files()) == 2 and len(sms_files()) == 2, message="both alerts")
    mails = {read_eml(p)["Subject"]: bodies(read_eml(p))[0] for p in eml_files()}
    beneficiary = mails["Se registró un beneficiario en su usuario del Portal en línea"]
    assert "«José» (cuenta ****7001)" in beneficiary and "07/12/2026 10:00" in beneficiary
    assert "/no-fui-yo/link-" + added["event_id"].replace("-", "") in beneficiary
    limits = mails["Se subieron sus límites de transferencia"]
    assert "$ 800,00 por transferencia y $ 1.500,00 por día" in limits
    assert "07/12/2026 11:30" in limits
    texts = sorted(p.read_text() for p in sms_files())
    assert all(t.startswith("Para: +593991234567") and t.isascii() for t in texts)
    assert any("Jose (cuenta ****7001)" in t for t in texts)
    assert any("$ 800,00 por transferencia y $ 1.500,00 diarios" in t for t in texts)


def test_guessing_and_an_email_changed_by_the_core_reach_the_members_phone_once(
    start_notifications, notifications_config, notifications_rpc, container_factory
):
    """Both security notices also go by SMS (the e-mail of a changed address goes to the old
    one, which an attacker may hold): each event sends one SMS, a copy sends nothing more."""
    from services.accounts.service import AccountsService
    from tests.conftest import load_demo

    load_demo(notifications_config, date.today(), services=["accounts"], count=1)
    container_factory(AccountsService, notifications_config).start()
    start_notifications()
    throttled = make_envelope(
        "auth",
        "account_throttled",
        {
            **MARIA,
            "failures": 10,
            "first_failure_at": "2026-11-30T02:10:00Z",
            "wait_until": "2026-11-30T02:40:00Z",
            "client_ip": "203.0.113.9",
        },
        event_id=str(uuid.uuid4()),
    )
    changed = make_envelope(
        "accounts",
        "member_email_changed",
        {
            "member_number": MARIA["member_number"],
            "display_name": MARIA["display_name"],
            "old_email": "maria.perez@example.com",
            "new_email_masked": "a****@example.net",
            "changed_at": "2026-11-30T14:05:00Z",
        },
        event_id=str(uuid.uuid4()),
    )
    publish(notifications_config["AMQP_URI"], throttled, throttled)
    publish(notifications_config["AMQP_URI"], changed, changed)
    wait_until(lambda: len(sms_files()) == 2 and len(eml_files()) == 2, message="2 e-mails, 2 SMS")
    texts = sorted(path.read_text() for path in sms_files())
    assert all(text.startswith("Para: +593991234567") for text in texts)  # her phone on file
    [guessing] = [text for text in texts if "intentos fallidos" in text]
    assert "10 intentos fallidos" in guessing and "maria" in guessing
    assert "29/11/2026 21:10" in guessing  # Ecuador time
    assert "203.0.113.9" not in guessing
    [email_change] = [text for text in texts if "correo de su ficha" in text]
    assert "30/11/2026 09:05" in email_change and "72 horas" in email_change
    assert "example.net" not in email_change  # not even the masked new address
    kinds = {
        (d["kind"], d["status"])
        for d in notifications_rpc.deliveries()
        if d["event_id"] in (throttled["event_id"], changed["event_id"])
    }
    assert kinds == {
        ("account_throttled", "sent"),
        ("account_throttled_sms", "sent"),
        ("member_email_changed", "sent"),
        ("member_email_changed_sms", "sent"),
    }
