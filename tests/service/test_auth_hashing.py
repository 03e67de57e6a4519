"""auth's Argon2 in its own worker processes (services/auth/passwords.py, docs/operations.md
"Logins at the month-start peak"): a hash made with older parameters is replaced at the next
successful login, and a login that cannot get a hashing worker within its bound is refused with
503 and Retry-After while the rest of the portal keeps answering.

The pool has one worker here, and the test holds it itself: the saturation is certain, without
timing anything."""

import re

import argon2
import pytest
from sqlalchemy import create_engine, text

from services.auth import passwords
from services.auth.passwords import BUSY_MESSAGE, HashingWorkers
from services.common.errors import ServiceUnavailable, Unauthenticated
from tests.helpers import RememberingAuth, api_login, bearer, start_auth_stack, start_gateway

IP = "198.51.100.7"
PASSWORD = "Socia-2026!"  # noqa: S105  maria's demo password


@pytest.fixture
def hashing_config(service_config):
    return {
        **service_config,
        "AUTH_HASH_WORKERS": 1,
        "AUTH_HASH_WAIT": 0.05,
        "AUTH_HASH_RETRY_AFTER": 7,
    }


@pytest.fixture
def auth_container(hashing_config, container_factory, today):
    return start_auth_stack(container_factory, hashing_config, today)


@pytest.fixture
def hashing_pool(auth_container):
    (provider,) = [d for d in auth_container.dependencies if isinstance(d, HashingWorkers)]
    return provider.pool


def _stored_hash(config, username):
    engine = create_engine(config["AUTH_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return conn.execute(
                text("SELECT password_hash FROM users WHERE username = :u"), {"u": username}
            ).scalar_one()
    finally:
        engine.dispose()


def _store_hash(config, username, value):
    engine = create_engine(config["AUTH_DATABASE_URL"])
    try:
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE users SET password_hash = :h WHERE username = :u"),
                {"h": value, "u": username},
            )
    finally:
        engine.dispose()


def test_a_hash_with_the_old_parameters_is_upgraded_at_a_successful_login_only(
    auth_container, hashing_config, rpc_proxy
):
    auth = RememberingAuth(rpc_proxy("auth"))  # maria's own (remembered) device
    old = argon2.PasswordHasher.from_parameters(passwords.LEGACY).hash(PASSWORD)
    _store_hash(hashing_config, "maria", old)

    with pytest.raises(Unauthenticated):
        auth.login("maria", "no-es-la-clave", IP)
    assert _stored_hash(hashing_config, "maria") == old

    assert auth.login("maria", PASSWORD, IP)["token"]
    upgraded = _stored_hash(hashing_config, "maria")
    assert argon2.extract_parameters(upgraded) == argon2.extract_parameters(
        passwords.hasher.hash("x")
    )
    assert argon2.extract_parameters(upgraded) != argon2.extract_parameters(old)
    # the new hash is the member's password; a login with it changes nothing more
    assert auth.login("maria", PASSWORD, IP)["token"]
    assert _stored_hash(hashing_config, "maria") == upgraded


@pytest.fixture
def api(auth_container, hashing_config, container_factory, http_session):
    start_gateway(container_factory, hashing_config)
    return http_session


def test_a_login_waiting_past_its_bound_gets_503_while_other_pages_answer(
    api, hashing_pool, rpc_proxy
):
    token = api_login(api, "maria", PASSWORD)
    page = api.get("/login")
    form_token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

    worker = hashing_pool.acquire()  # the only hashing worker is busy
    try:
        answer = api.post("/api/v1/auth/login", json={"username": "jose", "password": "x" * 9})
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "7"
        assert answer.json()["error"] == {
            "code": "service_unavailable",
            "message": BUSY_MESSAGE,
            "retry_after": 7,
        }
        web = api.post(
            "/login",
            data={"username": "jose", "password": "Socio-2026!", "csrf_token": form_token},
        )
        assert web.history[0].status_code == 303  # post/redirect/get, the wait kept
        assert web.status_code == 503 and web.headers["Retry-After"] == "7"
        assert BUSY_MESSAGE in web.text and 'name="password"' in web.text
        # an unknown user's dummy check waits on the same workers: the same answer
        with pytest.raises(ServiceUnavailable) as unknown:
            rpc_proxy("auth").login("nadie", "x" * 9, IP)
        assert unknown.value.to_dict()["message"] == BUSY_MESSAGE
        # the member already inside keeps getting her pages (accounts, and auth's session check)
        accounts = api.get("/api/v1/accounts", headers=bearer(token))
        assert accounts.status_code == 200 and accounts.json()["accounts"]
        assert api.get("/api/v1/me", headers=bearer(token)).json()["username"] == "maria"
    finally:
        hashing_pool.release(worker)
    # once the worker is free, logins go through again
    assert api_login(api, "jose", "Socio-2026!")
