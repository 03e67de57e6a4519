"""Identity over the API on the real processes: registration of Carmen with one given name and one
surname, lockout, logout, and the recovery story of jose; every event of those stories is in the
audit log, whose chain holds."""

import time
from pathlib import Path

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from tests.e2e.test_auth_browser import code_from_mail
from tests.helpers import api_login, bearer

CARMEN = {
    "username": "carmen.q",
    "password": "Cascada-Peguche-41",
    "member_number": "101245",
    "identification": "1803456787",
    "first_name": "ELENA",
    "last_name": "lema",
    "email": "carmen.quishpe@example.com",
}


def wait_for(check, timeout=30, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {message}")


def test_identity_stories_reach_the_audit_log_with_a_valid_chain(portal, api):
    # Registro de socio: one given name and one surname, without case or accents
    answer = api.post("/api/v1/auth/register", json=CARMEN)
    assert answer.status_code == 201, answer.text
    token = api_login(api, "carmen.q", "Cascada-Peguche-41")
    assert api.get("/api/v1/me", headers=bearer(token)).json()["display_name"] == "Carmen Quishpe"
    assert api.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 204
    assert api.get("/api/v1/me", headers=bearer(token)).status_code == 401

    # five failures from one address: 401 each, the last one warning that access may be blocked
    # (docs/identity.md, "After repeated failures")
    statuses = [
        api.post(
            "/api/v1/auth/login", json={"username": "carmen.q", "password": "no-es-la-clave"}
        ).status_code
        for _ in range(5)
    ]
    assert statuses == [401, 401, 401, 401, 401]

    # recovery: the code only by e-mail, login with it, forced change, new password works
    recovery = api.post(
        "/api/v1/auth/recovery",
        json={"username": "jose", "email": "jose.andrade@example.com", "member_number": "100517"},
    ).json()
    assert recovery["temporary_code"] is None and "j***@example.com" in recovery["message"]
    code = code_from_mail(Path(portal.env["PORTAL_VAR_DIR"]) / "mail", "jose.andrade@example.com")
    temp = api_login(api, "jose", code)
    assert api.get("/api/v1/me", headers=bearer(temp)).status_code == 403
    changed = api.post(
        "/api/v1/auth/password",
        json={"new_password": "Mitad-del-Mundo-0"},
        headers=bearer(temp),
    )
    assert changed.status_code == 204
    # the change ends the code's session too (the next login passes the second factor)
    assert api.get("/api/v1/me", headers=bearer(temp)).status_code == 401
    assert api_login(api, "jose", "Mitad-del-Mundo-0")

    expected = {
        ("101245", "auth.user_registered"),
        ("101245", "auth.login_succeeded"),
        ("101245", "auth.logged_out"),
        ("101245", "auth.login_failed"),
        ("101245", "auth.account_locked"),
        ("100517", "auth.password_reset_requested"),
        ("100517", "auth.login_succeeded"),
        ("100517", "auth.recovery_login"),
        ("100517", "auth.password_changed"),
    }
    with ClusterRpcProxy({"AMQP_URI": portal.env["AMQP_URI"]}, timeout=20) as rpc:

        def recorded():
            found = set()
            for member in ("101245", "100517"):
                for entry in rpc.audit.query(member_number=member, source="auth", limit=1000):
                    found.add((member, f"{entry['source']}.{entry['event_type']}"))
            return expected <= found

        wait_for(recorded, message="the auth events in the audit log")
        entries = rpc.audit.query(source="auth", limit=1000)
        check = rpc.audit.verify_chain()
    assert check["valid"] is True and check["first_broken_seq"] is None
    for entry in entries:
        text = str(entry["data"])
        for secret in (code, "Cascada-Peguche-41", "Mitad-del-Mundo-0", token, temp):
            assert secret not in text


@pytest.fixture(scope="module")
def portal(private_portal):
    # this module changes maria's and jose's passwords: the other modules keep the shared portal
    return private_portal
