"""docs/api.md "Auth" through the in-process gateway (with auth and accounts on the real broker),
and the identity pages over plain HTTP."""

import base64
import re
from datetime import datetime

import pytest
import requests

from services.common.clock import CLOCK
from tests.helpers import (
    DEVICE_COOKIE,
    api_login,
    bearer,
    device_tokens,
    emailed_recovery_code,
    login_post,
    start_auth_stack,
    start_gateway,
)

ANA = {
    "username": "ana.torres",
    "password": "Cielo-de-Quito-9",
    "member_number": "100781",
    "identification": "0104567896",
    "first_name": "ana",
    "last_name": "TORRES",
    "email": "ana.torres@example.com",
}
MARIA_RECOVERY = {
    "username": "maria",
    "email": "maria.perez@example.com",
    "member_number": "100234",
}


@pytest.fixture
def gateway(service_config, container_factory, today):
    # e-mailed codes (second factor, recovery) are read from var/mail (tests/code_catcher.py)
    start_auth_stack(container_factory, service_config, today, catch_codes=True)
    return start_gateway(container_factory, service_config)


@pytest.fixture
def api(gateway, http_session):
    return http_session


def error_of(answer):
    assert answer.headers["Content-Type"].startswith("application/json")
    return answer.json()["error"]


# Register --------------------------------------------------------------------------------


def test_register_ana_then_login_and_me(api):
    answer = api.post("/api/v1/auth/register", json=ANA)
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"username": "ana.torres", "member_number": "100781"}
    token = api_login(api, "ana.torres", "Cielo-de-Quito-9")
    me = api.get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json() == {
        "username": "ana.torres",
        "member_number": "100781",
        "display_name": "Ana Torres",
        "email_masked": "a********s@example.com",
        "last_login_at": None,
    }
    # a member who has a user gets the answer of a mismatch (docs/identity.md, "Registration")
    again = api.post("/api/v1/auth/register", json=ANA)
    assert again.status_code == 422 and error_of(again)["fields"] == {}


def test_register_mismatch_is_the_same_422_whatever_field_failed(api):
    bodies = []
    for change in ({"identification": "1712345675"}, {"last_name": "Pérez"}, {"email": "x@y.ec"}):
        answer = api.post("/api/v1/auth/register", json={**ANA, **change})
        assert answer.status_code == 422
        bodies.append(answer.json())
    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[0]["error"]["code"] == "validation_error"
    assert bodies[0]["error"]["fields"] == {}


def test_register_bad_input_is_422_with_spanish_fields(api):
    answer = api.post(
        "/api/v1/auth/register",
        json={**ANA, "username": "ab", "password": "12345678", "email": "no", "extra": 1},
    )
    assert answer.status_code == 422
    fields = error_of(answer)["fields"]
    assert fields["email"] == ["Correo electrónico inválido."]
    assert fields["extra"] == ["Campo no permitido."]
    answer = api.post("/api/v1/auth/register", json={**ANA, "username": "ab"})
    assert error_of(answer)["fields"]["username"] == [
        "El usuario debe tener entre 4 y 30 caracteres."
    ]
    answer = api.post("/api/v1/auth/register", json={**ANA, "first_name": "x" * 500})
    assert error_of(answer)["fields"]["first_name"] == ["Debe tener como máximo 80 caracteres."]
    missing = api.post("/api/v1/auth/register", json={})
    assert set(error_of(missing)["fields"]) == set(ANA)
    assert api.post("/api/v1/auth/register", data="no es json").status_code == 400


# Login, logout, me -----------------------------------------------------------------------


def test_login_answer_has_the_contract_shape(api):
    answer = login_post(api, json={"username": "maria", "password": "Socia-2026!"})
    assert answer.status_code == 200
    body = answer.json()
    # from the member's remembered device: its replacement comes with the session
    assert set(body) == {"token", "expires_at", "must_change_password", "member", "device_token"}
    assert body["member"] == {"member_number": "100234", "display_name": "María Pérez"}
    assert body["must_change_password"] is False
    assert answer.headers["Cache-Control"] == "no-store"


def test_wrong_credentials_are_401_with_one_message(api):
    unknown = login_post(api, json={"username": "nadie", "password": "x" * 9})
    wrong = login_post(api, json={"username": "maria", "password": "x" * 9})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()
    assert error_of(wrong) == {
        "code": "unauthenticated",
        "message": "Usuario o contraseña incorrectos.",
    }


def test_after_five_failures_the_answer_warns_of_a_lock_and_another_address_gets_in(
    api, monkeypatch
):
    monkeypatch.setenv("TRUSTED_PROXY", "127.0.0.1")
    attacker = {"X-Forwarded-For": "203.0.113.40"}
    wrong = {"username": "luis", "password": "x" * 9}
    answers = [login_post(api, json=wrong, headers=attacker) for _ in range(5)]
    right = {"username": "luis", "password": "Socio-2026!"}
    answers.append(login_post(api, json=right, headers=attacker))
    assert {a.status_code for a in answers} == {401}
    assert all(a.json() == answers[0].json() for a in answers[:4])
    # the fifth failure, and the right password while locked, are told the lock may be on
    # (API.md "After repeated failures"): the same body for every user name
    warned = error_of(answers[4])
    assert warned["code"] == "unauthenticated" and set(warned) == {"code", "message"}
    assert "15 minutos" in warned["message"] and "¿Olvidó su contraseña?" in warned["message"]
    assert answers[5].json() == answers[4].json()
    unknown = {"username": "no.existe", "password": "x" * 9}
    others = [api.post("/api/v1/auth/login", json=unknown, headers=attacker) for _ in range(5)]
    assert others[4].json() == answers[4].json()
    assert "Retry-After" not in answers[-1].headers
    home = {"X-Forwarded-For": "192.0.2.44"}
    assert login_post(api, json=right, headers=home).status_code == 200


def test_address_throttling_is_429_with_retry_after_and_follows_the_trusted_proxy(api, monkeypatch):
    monkeypatch.setenv("TRUSTED_PROXY", "127.0.0.1")
    client = {"X-Forwarded-For": "203.0.113.5"}
    for i in range(29):
        answer = login_post(api, json={"username": f"n{i}xx", "password": "x" * 9}, headers=client)
        assert answer.status_code == 401
    answer = login_post(api, json={"username": "nadie", "password": "x" * 9}, headers=client)
    assert answer.status_code == 429
    assert error_of(answer)["code"] == "rate_limited"
    assert 0 < int(answer.headers["Retry-After"]) <= 600
    # a forged entry on the left does not escape the throttle
    forged = {"X-Forwarded-For": "10.9.9.9, 203.0.113.5"}
    answer = login_post(api, json={"username": "nadie", "password": "x" * 9}, headers=forged)
    assert answer.status_code == 429
    other = {"X-Forwarded-For": "203.0.113.6"}
    answer = login_post(api, json={"username": "nadie", "password": "x" * 9}, headers=other)
    assert answer.status_code == 401
    # the throttled address is refused before any password check, the right one too
    right = login_post(api, json={"username": "maria", "password": "Socia-2026!"}, headers=client)
    assert right.status_code == 429


def test_logout_is_204_and_the_token_dies_at_once(api):
    token = api_login(api, "maria", "Socia-2026!")
    assert api.get("/api/v1/me", headers=bearer(token)).status_code == 200
    answer = api.post("/api/v1/auth/logout", headers=bearer(token))
    assert answer.status_code == 204 and answer.content == b""
    dead = api.get("/api/v1/me", headers=bearer(token))
    assert dead.status_code == 401 and error_of(dead)["code"] == "unauthenticated"
    assert api.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 401
    assert api.get("/api/v1/me").status_code == 401


def test_change_password_is_204_and_revokes_other_sessions(api):
    mine = api_login(api, "jose", "Socio-2026!")
    other = api_login(api, "jose", "Socio-2026!")
    bad = api.post(
        "/api/v1/auth/password",
        json={"current_password": "Socio-2026!", "new_password": "jose1234"},
        headers=bearer(mine),
    )
    assert bad.status_code == 422
    assert (
        "La contraseña no puede ser igual al usuario ni contenerlo."
        in (error_of(bad)["fields"]["new_password"])
    )
    answer = api.post(
        "/api/v1/auth/password",
        json={"current_password": "Socio-2026!", "new_password": "Montaña-Azul-88"},
        headers=bearer(mine),
    )
    assert answer.status_code == 204
    assert api.get("/api/v1/me", headers=bearer(other)).status_code == 401
    assert api.get("/api/v1/me", headers=bearer(mine)).status_code == 200
    assert api_login(api, "jose", "Montaña-Azul-88")


# Recovery --------------------------------------------------------------------------------


def test_recovery_story_over_the_api(api):
    answer = api.post("/api/v1/auth/recovery", json=MARIA_RECOVERY)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"message", "temporary_code"}
    assert body["temporary_code"] is None  # by e-mail only
    code = emailed_recovery_code(MARIA_RECOVERY["email"])
    assert re.fullmatch(r"[A-Za-z0-9]{8}", code)
    login = login_post(api, json={"username": "maria", "password": code})
    assert login.status_code == 200 and login.json()["must_change_password"] is True
    temp = login.json()["token"]
    # everything else is 403 password_change_required
    forced = api.get("/api/v1/me", headers=bearer(temp))
    assert forced.status_code == 403 and error_of(forced)["code"] == "password_change_required"
    changed = api.post(
        "/api/v1/auth/password",
        json={"new_password": "Volcán-Cotopaxi-5897"},
        headers=bearer(temp),
    )
    assert changed.status_code == 204
    # the change ends the code's session too; the next login passes the second factor
    assert api.get("/api/v1/me", headers=bearer(temp)).status_code == 401
    assert api_login(api, "maria", "Volcán-Cotopaxi-5897")


def test_recovery_mismatch_has_the_same_status_and_shape(api):
    match = api.post("/api/v1/auth/recovery", json=MARIA_RECOVERY)
    for change in ({"member_number": "100517"}, {"username": "nadie"}, {"email": "a@b.ec"}):
        answer = api.post("/api/v1/auth/recovery", json={**MARIA_RECOVERY, **change})
        assert answer.status_code == match.status_code == 200
        assert set(answer.json()) == set(match.json())
        assert answer.json()["temporary_code"] is None
        assert "maria" not in answer.json()["message"]
    bad = api.post("/api/v1/auth/recovery", json={"username": "maria"})
    assert bad.status_code == 422
    assert set(error_of(bad)["fields"]) == {"email", "member_number"}


def test_openapi_documents_the_auth_operations(api):
    spec = api.get("/api/v1/openapi.json").json()
    assert "201" in spec["paths"]["/api/v1/auth/register"]["post"]["responses"]
    login = spec["paths"]["/api/v1/auth/login"]["post"]["responses"]
    # 423: a second factor locked (after the right password; the password lock stays a 401)
    assert "401" in login and "429" in login and "423" in login
    assert "204" in spec["paths"]["/api/v1/auth/logout"]["post"]["responses"]
    assert "204" in spec["paths"]["/api/v1/auth/password"]["post"]["responses"]
    assert "200" in spec["paths"]["/api/v1/auth/recovery"]["post"]["responses"]
    assert "403" in spec["paths"]["/api/v1/me"]["get"]["responses"]


# Pages -----------------------------------------------------------------------------------


def csrf_of(page):
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_login_page_links_and_session_cookie(api):
    page = api.get("/login")
    assert page.status_code == 200
    assert 'href="/recuperar">¿Olvidó su contraseña?</a>' in page.text
    assert '<script src="/static/login.js" defer></script>' in page.text
    assert "encodeURIComponent" in api.get("/static/login.js").text
    assert 'href="/registro">Registrarse</a>' in page.text
    # without the CSRF token nothing happens
    refused = api.post(
        "/login", data={"username": "maria", "password": "Socia-2026!"}, allow_redirects=False
    )
    assert refused.status_code == 303 and "portal_session" not in refused.headers.get(
        "Set-Cookie", ""
    )
    assert api.get(refused.headers["Location"]).status_code == 400
    # from maria's remembered device (the code step has its own tests)
    api.cookies.set(DEVICE_COOKIE, device_tokens()["maria"])
    answer = api.post(
        "/login",
        data={"username": "maria", "password": "Socia-2026!", "csrf_token": csrf_of(page)},
        allow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["Location"] == "/"
    cookies = answer.raw.headers.getlist("Set-Cookie")
    cookie = next(c for c in cookies if c.startswith("portal_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    change = api.get("/opciones/cambiar-contrasena")
    assert change.status_code == 200 and "María Pérez" in change.text
    logout = api.post("/logout", data={"csrf_token": csrf_of(change)}, allow_redirects=False)
    assert logout.status_code == 303 and logout.headers["Location"] == "/login?aviso=salida"
    after = api.get("/opciones/cambiar-contrasena", allow_redirects=False)
    # no session left: to the login, which brings the member back to this page
    assert after.status_code == 303
    assert after.headers["Location"] == "/login?next=%2Fopciones%2Fcambiar-contrasena"


def test_login_page_shows_a_wrong_password_escaped(api):
    page = api.get("/login")
    answer = api.post(
        "/login",
        data={"username": "<b>maria</b>", "password": "x", "csrf_token": csrf_of(page)},
    )
    assert answer.status_code == 401
    assert "Usuario o contraseña incorrectos." in answer.text
    assert "<b>maria</b>" not in answer.text and "&lt;b&gt;maria&lt;/b&gt;" in answer.text


def test_a_failed_login_redirects_and_its_answer_is_shown_once(api):
    page = api.get("/login")
    secret = "Mi-clave-equivocada-77"
    failed = api.post(
        "/login",
        data={"username": "maria", "password": secret, "csrf_token": csrf_of(page)},
        allow_redirects=False,
    )
    # post/redirect/get: Back or a reload asks for a GET, never "resend the form?"
    assert failed.status_code == 303 and failed.headers["Location"] == "/login?intento=fallido"
    flash = failed.headers["Set-Cookie"]
    assert flash.startswith("portal_login_flash=") and "HttpOnly" in flash
    assert secret not in flash and secret not in base64_text(flash)
    # another browser (no cookie) sees the plain form
    elsewhere = requests.get(api.base_url + failed.headers["Location"], timeout=15)
    assert elsewhere.status_code == 200 and "incorrectos" not in elsewhere.text
    shown = api.get(failed.headers["Location"])
    assert shown.status_code == 401 and "Usuario o contraseña incorrectos." in shown.text
    assert 'value="maria"' in shown.text and secret not in shown.text
    # a flash: the same address again (Back, reload) is the plain form
    again = api.get(failed.headers["Location"])
    assert again.status_code == 200 and "Usuario o contraseña incorrectos." not in again.text
    # a forged or altered flash is ignored
    api.cookies.set("portal_login_flash", flash.split(";")[0].split("=", 1)[1][:-3] + "AAA")
    assert "incorrectos" not in api.get("/login?intento=fallido").text


def base64_text(cookie):
    value = cookie.split(";")[0].split("=", 1)[1].partition(".")[0]
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()


def test_the_user_name_typed_at_login_is_carried_to_recovery(api):
    page = api.get("/login")
    failed = api.post(
        "/login", data={"username": "maria", "password": "x" * 9, "csrf_token": csrf_of(page)}
    )
    assert 'href="/recuperar?usuario=maria">¿Olvidó su contraseña?</a>' in failed.text
    recovery = api.get("/recuperar?usuario=maria")
    assert 'id="username" name="username" value="maria"' in recovery.text


def test_me_and_the_pages_show_the_previous_login_in_ecuador_time(api):
    with CLOCK.travel(datetime(2026, 11, 25, 9, 15)):  # naive: Ecuador time
        first = api_login(api, "maria", "Socia-2026!")
        assert api.get("/api/v1/me", headers=bearer(first)).json()["last_login_at"] is None
    with CLOCK.travel(datetime(2026, 11, 27, 18, 40)):
        second = api_login(api, "maria", "Socia-2026!")
        me = api.get("/api/v1/me", headers=bearer(second)).json()
        assert me["last_login_at"].startswith("2026-11-25T14:15:")  # UTC in the API
        page = api.get("/opciones/cambiar-contrasena", cookies={"portal_session": second})
        assert page.status_code == 200
        assert "Último ingreso 25/11/2026 09:15" in page.text


def test_the_login_page_warns_of_a_lock_with_a_link_to_recovery(api):
    page = api.get("/login")
    for _ in range(5):
        failed = api.post(
            "/login", data={"username": "jose", "password": "x" * 9, "csrf_token": csrf_of(page)}
        )
    assert failed.status_code == 401
    assert "bloqueado durante 15 minutos" in failed.text
    assert (
        'id="aviso-recuperar"><a href="/recuperar?usuario=jose">¿Olvidó su contraseña?'
        in failed.text
    )


def test_registration_page_registers_carmen(api):
    page = api.get("/registro")
    form = {
        "member_number": "101245",
        "identification": "1803456787",
        "first_name": "elena",
        "last_name": "LEMA",
        "email": "carmen.quishpe@example.com",
        "username": "carmenq",
        "password": "Nevado-Chimborazo-3",
        "password2": "Nevado-Chimborazo-2",
        "csrf_token": csrf_of(page),
    }
    differ = api.post("/registro", data=form)
    assert differ.status_code == 422 and "Las contraseñas no coinciden." in differ.text
    form["password2"] = form["password"]
    # her data match and she has no user: she, and only she, learns the name is taken, once
    taken = api.post("/registro", data={**form, "username": "maria"})
    assert taken.status_code == 409
    assert taken.text.count("El nombre de usuario ya está en uso: elija otro.") == 1
    done = api.post("/registro", data=form, allow_redirects=False)
    assert done.status_code == 303 and done.headers["Location"] == "/login?aviso=registrado"
    assert "Su usuario fue registrado" in api.get("/login?aviso=registrado").text
    assert api_login(api, "carmenq", "Nevado-Chimborazo-3")


def test_recovery_page_says_where_the_code_went(api):
    page = api.get("/recuperar")
    answer = api.post("/recuperar", data={**MARIA_RECOVERY, "csrf_token": csrf_of(page)})
    assert answer.status_code == 200
    assert "enviamos un código temporal a su correo registrado m***@example.com" in answer.text
    assert 'id="codigo-temporal"' not in answer.text
