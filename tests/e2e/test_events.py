"""Events between the real processes: accounts' outbox → audit, and notifications' e-mails;
a consumer that is stopped finds its events waiting when it starts again."""

import email
import email.policy
import time
import uuid

from nameko.standalone.rpc import ClusterRpcProxy

from services.common.clock import CLOCK
from tests.service.event_tools import emit


def wait_for(check, timeout=30, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {message}")


def post_deposit(rpc, reference):
    return rpc.accounts.post_movement(
        "4100517001", CLOCK.today().isoformat(), "Depósito en ventanilla", reference, None, "10.00"
    )


def audited(rpc, reference):
    entries = rpc.audit.query(member_number="100517", event_type="accounts.movement_posted")
    return [e for e in entries if e["data"]["reference"] == reference]


def test_a_posted_movement_reaches_the_audit_log_even_while_audit_is_down(portal):
    with ClusterRpcProxy({"AMQP_URI": portal.env["AMQP_URI"]}, timeout=20) as rpc:
        post_deposit(rpc, "E2E-1")
        [entry] = wait_for(lambda: audited(rpc, "E2E-1"), message="the audit entry")
        assert entry["data"]["credit"] == "10.00"
        portal.stop("audit")
        try:
            post_deposit(rpc, "E2E-2")
        finally:
            portal.start("audit")
            portal.wait_healthy()
        wait_for(lambda: audited(rpc, "E2E-2"), message="the entry made while audit was down")
        check = rpc.audit.verify_chain()
    assert check["valid"] is True and check["first_broken_seq"] is None
    assert check["entries"] >= 2


def test_notifications_writes_the_email_of_an_event_published_while_it_was_down(portal):
    mail_dir = portal.workdir / "var" / "mail"
    portal.stop("notifications")
    try:
        event = emit(
            portal.env["AMQP_URI"],
            "auth",
            "password_reset_requested",
            {
                "username": "jose",
                "member_number": "100517",
                "email": f"jose.{uuid.uuid4().hex[:6]}@example.com",
                "display_name": "José Andrade",
                "code_shown": True,
            },
        )
    finally:
        portal.start("notifications")
        portal.wait_healthy()

    def written():
        for path in mail_dir.glob("*.eml") if mail_dir.exists() else []:
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["To"] == event["data"]["email"]:
                return message
        return None

    message = wait_for(written, message="the .eml file")
    assert message["Subject"] == "Se solicitó restablecer su contraseña"
    assert "mail written to" in portal.log("notifications")
