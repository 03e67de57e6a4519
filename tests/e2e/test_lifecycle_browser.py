"""The lifecycle of a loan application end to end: a member saves it in the browser, the core's
credit desk decides (`application_status_changed` on `core.events`), and the member reads the
new status and its reason on "Mis solicitudes" and in an e-mail (a real SMTP server)."""

import email
import email.policy
import json
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from scripts.processes import Portal
from tests.browser_runner import run_story
from tests.conftest import _free_port
from tests.e2e.conftest import make_vhost
from tests.service.lifecycle_core import decision, publish_core

STORY = "tests.e2e.lifecycle_browser_story"


class SmtpInbox:
    def __init__(self):
        self.messages = []
        self.mail_dir = None  # where a copy of each message goes as .eml (the login's codes)

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.rcpt_tos, message))
        if self.mail_dir is not None:
            # the story's login reads its second-factor code from the portal's var/mail, as
            # it would from the embedded mailer (tests/helpers.py emailed_code)
            self.mail_dir.mkdir(parents=True, exist_ok=True)
            name = f"{len(self.messages):04d}-{message['X-Portal-Kind']}.eml"
            (self.mail_dir / name).write_bytes(envelope.content)
        return "250 Message accepted for delivery"


@pytest.fixture(scope="module")
def smtp_server():
    inbox = SmtpInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


@pytest.fixture(scope="module")
def mailing_portal(tmp_path_factory, rabbit_manager, amqp_base, smtp_server):
    """A portal of the module's own whose notifications hand e-mails to the SMTP server."""
    vhost, uri = make_vhost(rabbit_manager, amqp_base)
    smtp = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_server.port)}
    instance = Portal(tmp_path_factory.mktemp("lifecycle-portal"), uri, extra_env=smtp)
    smtp_server.mail_dir = Path(instance.env["PORTAL_VAR_DIR"]) / "mail"
    instance.setup()
    instance.start_all()
    yield instance
    instance.stop_all()
    rabbit_manager.delete_vhost(vhost)


def story(name, portal, **kwargs):
    return json.loads(run_story(f"{STORY}:{name}", portal.base_url, **kwargs).splitlines()[-1])


def wait_for(check, timeout=30, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {message}")


@pytest.mark.browser
@pytest.mark.slow
def test_a_decision_of_the_core_reaches_the_members_page_and_mailbox(mailing_portal, smtp_server):
    number = story("apply", mailing_portal, username="jose")["application_number"]
    uri = mailing_portal.env["AMQP_URI"]
    reason = "Cumple la capacidad de pago; acérquese a firmar el pagaré."
    publish_core(uri, decision(number, "en_analisis", changed_at="2026-12-01T14:00:00Z"))
    publish_core(uri, decision(number, "aprobada", reason, changed_at="2026-12-02T16:30:00Z"))

    seen = story(
        "read_decision",
        mailing_portal,
        username="jose",
        application_number=number,
        expected="Aprobada",
    )
    assert seen["status"] == "Aprobada"
    assert reason in seen["reason"]
    assert seen["history"][1:] == ["En análisis · 01/12/2026 09:00", "Aprobada · 02/12/2026 11:30"]
    assert seen["history"][0].startswith("Ingresada · ")
    assert "Aprobada" in seen["row"]

    def approval_mail():
        return [m for m in smtp_server.messages if m[1]["Subject"].endswith("fue aprobada")]

    [(recipients, message)] = wait_for(approval_mail, message="the approval e-mail")
    assert recipients == ["jose.andrade@example.com"]
    assert message["Subject"] == f"Su solicitud de crédito {number} fue aprobada"
    text = message.get_body(("plain",)).get_content()
    assert reason in text and "02/12/2026 11:30 (hora de Ecuador)" in text
    subjects = [m[1]["Subject"] for m in smtp_server.messages]
    assert f"Su solicitud de crédito {number} está en análisis" in subjects
