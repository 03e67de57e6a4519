"""notifications' use cases without a broker or SMTP: an in-memory delivery log, fake senders."""

import uuid
from contextlib import nullcontext
from datetime import datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import insert, select

from services.common.errors import NotFound
from services.notifications.mail import PermanentFailure
from services.notifications.models import Base, processed_events
from services.notifications.usecases import HANDLERS, DeliveryFailed, NotificationUseCases
from tests.unit.fakes import FakeAccounts, FakeMethod, memory_session


class Inbox:
    """The claim of services.common.events.Inbox on the use case's own session (so a rollback
    takes it back, as in the service)."""

    def __init__(self, session):
        self.session = session

    def claim(self, payload):
        table = processed_events
        found = self.session.execute(
            select(table.c.event_id).where(table.c.event_id == payload["event_id"])
        ).first()
        if found:
            return False
        self.session.execute(
            insert(table).values(
                event_id=payload["event_id"],
                consumer="test",
                processed_at=datetime(2026, 7, 10, 17, 0),
            )
        )
        return True


class Sender:
    """A mailer or SMS sender that fails with `failures`, one per try, then sends."""

    def __init__(self, name, failures=()):
        self.name = name
        self.settings = SimpleNamespace(sender="Portal <no-responder@cooperativa.example>")
        self.failures = list(failures)
        self.sent = []

    def send(self, *message):
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
        return f"{self.name}:{len(self.sent)}"


def no_link(event_id, member_number=None, event_type=None):
    raise NotFound("sin enlace")


@pytest.fixture
def session():
    with memory_session(Base.metadata) as session:
        yield session


def notifications(session, mailer, sms):
    accounts = FakeAccounts({"100234": {"phone": "0991234567", "email": "maria@example.com"}})
    auth = SimpleNamespace(not_me_link=FakeMethod(no_link))
    return NotificationUseCases(
        session, Inbox(session), nullcontext(), mailer, sms, accounts, auth, {}
    )


def envelope(source, event_type, data):
    return {
        "event_id": str(uuid.uuid4()),
        "source": source,
        "event_type": event_type,
        "occurred_at": "2026-07-10T17:00:00Z",
        "version": 1,
        "data": data,
    }


def log_of(uc):
    return {(d["kind"], d["status"], d["attempts"]) for d in uc.deliveries()}


def test_an_email_refused_for_good_is_on_record_and_never_tried_again(session):
    mailer = Sender("smtp", [PermanentFailure("550 buzón inexistente")])
    uc = notifications(session, mailer, Sender("none"))
    welcome = envelope(
        "auth",
        "user_registered",
        {
            "username": "maria",
            "member_number": "100234",
            "email": "maria@example.com",
            "display_name": "María Pérez",
        },
    )
    HANDLERS.dispatch("auth.user_registered", uc, welcome)  # no DeliveryFailed: no retry
    HANDLERS.dispatch("auth.user_registered", uc, welcome)  # redelivered: nothing happens
    [row] = uc.deliveries()
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert "550" in row["last_error"]
    assert mailer.sent == [] and mailer.failures == []


def test_an_alert_whose_sms_failed_sends_only_the_sms_when_it_comes_back(session):
    mailer, sms = Sender("smtp"), Sender("file", [OSError("red caída")])
    uc = notifications(session, mailer, sms)
    alert = envelope(
        "auth",
        "login_new_device",
        {"username": "maria", "member_number": "100234", "email": "maria@example.com"},
    )
    with pytest.raises(DeliveryFailed):
        HANDLERS.dispatch("auth.login_new_device", uc, alert)
    assert log_of(uc) == {
        ("alert_login_new_device", "sent", 1),
        ("alert_login_new_device_sms", "failed", 1),
    }

    HANDLERS.dispatch("auth.login_new_device", uc, alert)  # back from the retry queue
    assert log_of(uc) == {
        ("alert_login_new_device", "sent", 1),
        ("alert_login_new_device_sms", "sent", 2),
    }
    assert len(mailer.sent) == 1  # the e-mail went once
    [(phone, text, kind)] = sms.sent
    assert (phone, kind) == ("+593991234567", "alert_login_new_device")
    assert "dispositivo nuevo" in text
