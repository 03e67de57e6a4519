"""Guessing a member's password from many addresses (docs/identity.md, "Guessing from many
addresses"): through the gateway behind a trusted proxy, with auth, accounts and notifications on
the real broker and a real SMTP server as the member's inbox. Time moves with the cooperative's
clock."""

import pytest

from services.common.clock import CLOCK
from services.notifications.service import NotificationsService
from tests.helpers import login_post, start_auth_stack, start_gateway
from tests.service.test_auth_recovery_mail import Mailbox, text_of

# also run on PostgreSQL (-m pg --db-backend postgres): the counting rows are locked there
pytestmark = pytest.mark.pg

HOME = {"X-Forwarded-For": "192.0.2.50"}  # where maria always logs in from
RIGHT = {"username": "maria", "password": "Socia-2026!"}
WRONG = {"username": "maria", "password": "no-es-la-clave"}
METRICS_TOKEN = "ops-" + "g" * 40


@pytest.fixture
def mailbox():
    from aiosmtpd.controller import Controller

    from tests.conftest import _free_port

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=_free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


@pytest.fixture
def api(service_config, container_factory, today, mailbox, http_session, monkeypatch):
    monkeypatch.setenv("TRUSTED_PROXY", "127.0.0.1")
    monkeypatch.setenv("METRICS_TOKEN", METRICS_TOKEN)
    start_auth_stack(container_factory, service_config, today)
    config = {**service_config, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": mailbox.port}
    container_factory(NotificationsService, config).start()
    start_gateway(container_factory, service_config)
    yield http_session
    CLOCK.reset()


def attacker(n):
    return {"X-Forwarded-For": f"203.0.113.{n}"}


def login(api, body, headers):
    """The member's own device (remembered): a right password opens a session at once."""
    return login_post(api, json=body, headers=headers)


def metric(api, name):
    page = api.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    (line,) = [row for row in page.splitlines() if row.startswith(name + " ")]
    return float(line.split()[1])


def test_guessing_from_30_addresses_waits_longer_and_tells_the_member_without_locking_her_out(
    api, mailbox
):
    assert login(api, RIGHT, HOME).status_code == 200  # her usual address
    # ten wrong passwords, each from another address: each one a plain wrong password
    for n in range(1, 11):
        assert login(api, WRONG, attacker(n)).status_code == 401
    # the 11th attempt waits, before any password check: right or wrong, the same 429
    eleventh = login(api, WRONG, attacker(11))
    assert eleventh.status_code == 429
    assert eleventh.json()["error"]["code"] == "rate_limited"
    first_wait = int(eleventh.headers["Retry-After"])
    assert 0 < first_wait <= 30
    right_elsewhere = login(api, RIGHT, attacker(12))
    assert right_elsewhere.status_code == 429
    assert right_elsewhere.json()["error"]["message"] == eleventh.json()["error"]["message"]
    # maria is told by e-mail, in Spanish, in Ecuador time, without any balance
    mail = mailbox.wait_for("Intentos de adivinar su contraseña", "maria.perez@example.com")
    body = text_of(mail)
    assert "hubo 10 intentos fallidos" in body and "(hora de Ecuador)" in body
    assert "Su usuario no está bloqueado" in body and "$" not in body
    # the wait slows the guessing; it does not keep her out from where she always logs in
    assert login(api, RIGHT, HOME).status_code == 200
    # each failure after a wait doubles the next wait, for the other 18 addresses too
    waits = [first_wait]
    for n in range(13, 31):
        CLOCK.advance(waits[-1])
        assert login(api, WRONG, attacker(n)).status_code == 401
        waiting = login(api, WRONG, attacker(n))
        assert waiting.status_code == 429
        waits.append(int(waiting.headers["Retry-After"]))
    assert waits[1] > 30 and waits[2] > 60 and waits[-1] <= 3600
    assert all(later >= earlier for earlier, later in zip(waits, waits[1:], strict=False))
    # operations see one episode and one user name waiting (no series per member)
    assert metric(api, "portal_auth_guessing_episodes_total") == 1
    assert metric(api, "portal_auth_accounts_throttled") == 1
    # once the wait is over her right password works from a new address too: no hard lock
    CLOCK.advance(waits[-1])
    assert login(api, RIGHT, {"X-Forwarded-For": "198.51.100.99"}).status_code == 200
