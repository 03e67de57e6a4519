"""What reaches the member's inbox (a real SMTP server on localhost) when someone recovers their
password, and how the member record that accounts announces changes who may log in.

auth, accounts and notifications on the real broker; accounts.member_updated is published on the
test's vhost as accounts' outbox relay would."""

import email
import email.policy
import re

import pytest
from aiosmtpd.controller import Controller

from services.auth.usecases import MEMBER_INACTIVE
from services.common.errors import Unauthenticated
from services.notifications.service import NotificationsService
from tests.conftest import _free_port
from tests.helpers import RememberingAuth, start_auth_stack
from tests.service.event_tools import emit, wait_until

IP = "198.51.100.7"
ATTACKER = "203.0.113.200"


class Mailbox:
    """aiosmtpd handler: keeps every message it is given."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.rcpt_tos, message))
        return "250 Message accepted for delivery"

    def wait_for(self, subject_part, to):
        def found():
            for rcpt, message in self.messages:
                if subject_part in message["Subject"] and to in rcpt:
                    return message
            return None

        return wait_until(found, message=f"an e-mail «{subject_part}» to {to}")


@pytest.fixture
def mailbox():
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=_free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


@pytest.fixture
def auth(service_config, container_factory, today, mailbox, rpc_proxy):
    start_auth_stack(container_factory, service_config, today)
    config = {**service_config, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": mailbox.port}
    container_factory(NotificationsService, config).start()
    return RememberingAuth(rpc_proxy("auth"))


def text_of(message):
    return message.get_body(("plain",)).get_content()


def test_knowing_the_members_data_is_not_enough_to_take_the_account_over(auth, mailbox):
    # a stranger who knows the user name, e-mail and member number (letters, statements) asks
    answer = auth.request_recovery("maria", "maria.perez@example.com", "100234", ATTACKER)
    assert answer["temporary_code"] is None
    assert "m***@example.com" in answer["message"]
    # the code went only to the registered address
    code_mail = mailbox.wait_for("Su código temporal para", "maria.perez@example.com")
    code = re.search(r"\b([A-Za-z0-9]{8})\b", text_of(code_mail).split("código temporal es")[1])
    code = code.group(1)
    assert code not in str(answer)
    # until the code is used, the member's password still works
    assert auth.login("maria", "Socia-2026!", IP)["must_change_password"] is False
    # the member, reading the e-mail, logs in with the code and chooses a new password
    session = auth.login("maria", code, IP)
    assert session["must_change_password"] is True
    auth.change_password(session["token"], None, "Laguna-de-Mojanda-5", IP)
    # the new password opens the way to the second factor (the change forgot every device)
    assert auth.raw.login("maria", "Laguna-de-Mojanda-5", IP)["second_factor_required"] is True
    # and was told at once that the code was used to log in
    notice = mailbox.wait_for("con un código temporal", "maria.perez@example.com")
    assert "Se ingresó a su usuario «maria»" in text_of(notice)
    assert code not in text_of(notice)


def test_an_inactive_member_cannot_log_in_until_reactivated(
    auth, service_config, mailbox, rpc_proxy
):
    uri = service_config["AMQP_URI"]
    session = auth.login("luis", "Socio-2026!", IP)["token"]
    change = {
        "member_number": "101002",
        "email": "luis.nuevo@example.com",
        "status": "inactivo",
        "given_names": "Luis Alberto",
        "surnames": "Cárdenas Ruiz",
    }
    event = emit(uri, "accounts", "member_updated", change)
    emit(uri, "accounts", "member_updated", change, event_id=event["event_id"])  # redelivered

    def refused():
        try:
            auth.login("luis", "Socio-2026!", IP)
        except Unauthenticated as exc:
            return exc.message == MEMBER_INACTIVE
        return False

    wait_until(refused, message="luis refused as inactive")
    # a wrong password still answers as a wrong password: the status is told only to the member
    with pytest.raises(Unauthenticated) as wrong:
        auth.login("luis", "no-es-la-clave", IP)
    assert wrong.value.message == "Usuario o contraseña incorrectos."
    # the session open before ended
    with pytest.raises(Unauthenticated):
        auth.authenticate(session)
    # reactivated: the member logs in again, and the notices go to the new address
    emit(uri, "accounts", "member_updated", dict(change, status="activo"))

    def back():
        try:
            return auth.login("luis", "Socio-2026!", IP)
        except Unauthenticated:
            return None

    token = wait_until(back, message="luis back in")["token"]
    assert auth.me(token)["email_masked"] == "l********o@example.com"
    auth.change_password(token, "Socio-2026!", "Rio-Guayas-2031", IP)
    mailbox.wait_for("fue cambiada", "luis.nuevo@example.com")


def test_an_email_changed_by_the_core_is_told_to_the_old_address_and_holds_recovery_for_72_hours(
    auth, service_config, mailbox
):
    from services.auth.usecases import RECOVERY_HELD
    from services.common.clock import CLOCK
    from tests.service.core_tools import core_event, publish_core

    token = auth.login("maria", "Socia-2026!", IP)["token"]
    new = "maria.nueva@example.com"
    maria = {
        "member_number": "100234",
        "identification": "1712345675",
        "first_names": "María Fernanda",
        "last_names": "Pérez Gómez",
        "email": new,
        "phone": "0991234567",
        "status": "activo",
    }
    publish_core(service_config["AMQP_URI"], core_event("member_upserted", maria))
    # the old address is told at once, with the new one masked
    notice = text_of(mailbox.wait_for("Se cambió el correo electrónico", "maria.perez@example.com"))
    assert "m*********a@example.com" in notice and new not in notice
    assert "72 horas" in notice and "llame de inmediato a la cooperativa" in notice
    wait_until(
        lambda: auth.me(token)["email_masked"] == "m*********a@example.com",
        message="auth to follow the new address",
    )
    # within 72 hours a recovery to the new address sends nothing and says to call
    held = auth.request_recovery("maria", new, "100234", ATTACKER)
    assert held == {"message": RECOVERY_HELD.format(hours="72"), "temporary_code": None}
    assert "llame a la cooperativa" in held["message"]
    CLOCK.advance(71 * 3600)
    assert auth.request_recovery("maria", new, "100234", IP) == held
    # after 72 hours recovery works again: the code goes to the new address and opens the user
    CLOCK.advance(3600)
    answer = auth.request_recovery("maria", new, "100234", IP)
    assert answer["temporary_code"] is None and "m***@example.com" in answer["message"]
    code_mail = mailbox.wait_for("Su código temporal para", new)
    code = re.search(r"\b([A-Za-z0-9]{8})\b", text_of(code_mail).split("código temporal es")[1])
    assert auth.login("maria", code.group(1), IP)["must_change_password"] is True
    # and that was the only code the new address ever received
    codes = [
        m for rcpt, m in mailbox.messages if new in rcpt and "Su código temporal" in m["Subject"]
    ]
    assert len(codes) == 1
