"""The web's second factor over plain HTTP (docs/pages.md, "Ingreso en dos pasos", "Seguridad",
"No fui yo"): the in-process gateway with auth, accounts and notifications on the real broker; the
codes come from the e-mails notifications writes under var/mail."""

import email
import email.policy
import re

import pytest

from services.common import config
from services.notifications.service import NotificationsService
from tests.helpers import csrf_of, start_auth_stack, start_gateway
from tests.service.event_tools import wait_until

PASSWORD = "Socia-2026!"


@pytest.fixture
def web(service_config, container_factory, today, http_session):
    start_auth_stack(container_factory, service_config, today)
    container_factory(NotificationsService, service_config).start()
    start_gateway(container_factory, service_config)
    return http_session


def set_cookies(answer):
    """{name: the Set-Cookie line} of an answer."""
    lines = answer.raw.headers.getlist("Set-Cookie")
    return {line.split("=", 1)[0]: line for line in lines}


def emailed_code(reference):
    """The code of the newest e-mail naming this reference (what the member reads)."""

    def find():
        mail = config.var_dir() / "mail"
        for path in sorted(mail.glob("*second_factor_code.eml"), reverse=True):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            text = message.get_body(("plain",)).get_content()
            if f"Referencia: {reference}" in text:
                return re.search(r"^(\d{6})$", text, re.M).group(1)
        return None

    return wait_until(find, message=f"the e-mail with reference {reference}")


def password_step(web, username="maria"):
    page = web.get("/login")
    return web.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        allow_redirects=False,
    )


def code_page(web):
    page = web.get("/login/codigo")
    assert page.status_code == 200
    reference = re.search(r'id="challenge-reference">([A-Z0-9]{8})<', page.text).group(1)
    return page, reference


def test_a_new_browser_gives_the_emailed_code_then_is_remembered(web):
    first = password_step(web)
    # the right password opens no session: the second page asks for the code
    assert first.status_code == 303 and first.headers["Location"] == "/login/codigo"
    assert "portal_session" not in set_cookies(first)
    assert "SameSite=Strict" in set_cookies(first)["portal_challenge"]
    page, reference = code_page(web)
    assert 'name="remember_device"' in page.text and "Enviar un código nuevo" in page.text

    wrong = web.post(
        "/login/codigo",
        data={"code": "000000", "csrf_token": csrf_of(page.text)},
        allow_redirects=False,
    )
    assert wrong.status_code == 422
    assert "El código no es correcto. Le quedan 4 intentos." in wrong.text

    code = emailed_code(reference)
    done = web.post(
        "/login/codigo",
        data={"code": code, "remember_device": "1", "csrf_token": csrf_of(wrong.text)},
        allow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["Location"] == "/"
    cookies = set_cookies(done)
    assert "HttpOnly" in cookies["portal_session"]
    device = cookies["portal_device"]
    assert "HttpOnly" in device and "SameSite=Strict" in device and "Max-Age=2592000" in device
    first_device = web.cookies["portal_device"]
    session = web.cookies["portal_session"]
    home = web.get("/")
    assert home.status_code == 200 and "María Pérez" in home.text

    # Salir, and in again from this browser: no code, and the device's token is replaced
    web.post("/logout", data={"csrf_token": csrf_of(home.text)}, allow_redirects=False)
    again = password_step(web)
    assert again.status_code == 303 and again.headers["Location"] == "/"
    assert web.cookies["portal_session"] != session
    assert web.cookies["portal_device"] != first_device


def test_a_code_page_without_a_live_challenge_sends_back_to_login_with_a_message(web):
    password_step(web)
    page, _ = code_page(web)
    del web.cookies["portal_challenge"]
    web.cookies.set("portal_challenge", "e30." + "x" * 43)  # forged: not signed by the portal
    answer = web.post(
        "/login/codigo",
        data={"code": "123456", "csrf_token": csrf_of(page.text)},
        allow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/login?aviso=codigo-vencido"
    login = web.get(answer.headers["Location"])
    assert "El tiempo para ingresar el código terminó" in login.text
    assert "portal_session" not in web.cookies


def test_the_resend_link_mails_a_new_code_and_the_earlier_one_stops_working(web):
    password_step(web)
    page, reference = code_page(web)
    earlier = emailed_code(reference)
    resent = web.post(
        "/login/codigo/reenviar", data={"csrf_token": csrf_of(page.text)}, allow_redirects=False
    )
    assert resent.status_code == 303
    page = web.get(resent.headers["Location"])
    assert "Le enviamos un código nuevo por correo" in page.text

    def newer():
        code = emailed_code(reference)
        return code if code != earlier else None

    wait_until(newer, message="the new code")
    old = web.post(
        "/login/codigo",
        data={"code": earlier, "csrf_token": csrf_of(page.text)},
        allow_redirects=False,
    )
    assert old.status_code == 422


def test_the_security_page_lists_this_session_and_refuses_a_form_without_its_token(web):
    password_step(web)
    page, reference = code_page(web)
    web.post(
        "/login/codigo",
        data={"code": emailed_code(reference), "csrf_token": csrf_of(page.text)},
        allow_redirects=False,
    )
    security = web.get("/seguridad")
    assert security.status_code == 200
    assert "Esta sesión" in security.text
    assert "Registrar aplicación" in security.text
    assert "Últimos ingresos" in security.text
    refused = web.post("/seguridad/aplicacion", data={"password": PASSWORD})
    assert refused.status_code == 400
    assert "El formulario expiró" in refused.text


def test_the_no_fui_yo_link_only_shows_a_button_and_a_used_link_says_so(web):
    shown = web.get("/no-fui-yo/" + "A" * 43)
    assert shown.status_code == 200
    assert "Confirmar: no fui yo" in shown.text
    answer = web.post("/no-fui-yo/" + "A" * 43, data={"csrf_token": csrf_of(shown.text)})
    assert answer.status_code == 410
    assert "Este enlace ya fue usado o venció" in answer.text


def alert_link(kind):
    """The "No fui yo" path of the newest alert e-mail of `kind` (what the member clicks)."""

    def find():
        mail = config.var_dir() / "mail"
        for path in sorted(mail.glob(f"*-{kind}.eml"), reverse=True):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            text = message.get_body(("plain",)).get_content()
            found = re.search(r"https?://[^/\s]+(/no-fui-yo/[A-Za-z0-9_-]+)", text)
            if found:
                return found.group(1)
        return None

    return wait_until(find, message=f"the {kind} e-mail with its link")


def test_no_fui_yo_from_the_alert_email_ends_the_session_only_when_confirmed(web):
    # a first login from this browser: auth alerts a new device, notifications e-mails the link
    password_step(web)
    page, reference = code_page(web)
    web.post(
        "/login/codigo",
        data={"code": emailed_code(reference), "csrf_token": csrf_of(page.text)},
        allow_redirects=False,
    )
    link = alert_link("alert_login_new_device")
    # opening the link (as a mail scanner would) changes nothing
    shown = web.get(link)
    assert shown.status_code == 200 and "Confirmar: no fui yo" in shown.text
    assert web.get("/seguridad", allow_redirects=False).status_code == 200
    done = web.post(link, data={"csrf_token": csrf_of(shown.text)})
    assert done.status_code == 200 and "Cerramos todas las sesiones" in done.text
    # the session is over, and the link works once
    assert web.get("/seguridad", allow_redirects=False).status_code == 303
    again = web.get(link)
    used = web.post(link, data={"csrf_token": csrf_of(again.text)})
    assert used.status_code == 410


def logged_in(web, username="maria"):
    """A complete web login of a new browser (password, then the e-mailed code)."""
    password_step(web, username)
    page, reference = code_page(web)
    done = web.post(
        "/login/codigo",
        data={"code": emailed_code(reference), "csrf_token": csrf_of(page.text)},
        allow_redirects=False,
    )
    assert done.status_code == 303, done.text
    return web.get("/seguridad")


def newest_enrolment_code():
    def find():
        mail = config.var_dir() / "mail"
        for path in sorted(mail.glob("*second_factor_code.eml"), key=lambda p: p.stat().st_mtime):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if "registrar una aplicación" in message["Subject"]:
                text = message.get_body(("plain",)).get_content()
                return re.search(r"^(\d{6})$", text, re.M).group(1)
        return None

    return wait_until(find, message="the enrolment code e-mail")


def test_an_enrolled_member_logs_in_with_a_recovery_code_and_five_wrong_codes_end_the_step(
    web, gateway_url
):
    import pyotp
    import requests

    security = logged_in(web)
    start = web.post(
        "/seguridad/aplicacion",
        data={"password": PASSWORD, "csrf_token": csrf_of(security.text)},
    )
    assert start.status_code == 200 and "<svg" in start.text
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', start.text).group(1).replace(" ", "")
    enrollment_id = re.search(r'name="enrollment_id" value="([^"]+)"', start.text).group(1)
    codes_page = web.post(
        "/seguridad/aplicacion/confirmar",
        data={
            "enrollment_id": enrollment_id,
            "totp_code": pyotp.TOTP(secret).now(),
            "code": newest_enrolment_code(),
            "method": "email_code",
            "csrf_token": csrf_of(start.text),
        },
    )
    assert codes_page.status_code == 200, codes_page.text
    codes = re.findall(r"<li>([A-Z2-9]{10})</li>", codes_page.text)
    assert len(codes) == 10

    # another browser: the app's code or a recovery code, no e-mail and no resend link
    with requests.Session() as other:
        other.headers["Origin"] = gateway_url

        def go(method, path, **kwargs):
            return other.request(method, gateway_url + path, timeout=15, **kwargs)

        login = go("GET", "/login")
        go(
            "POST",
            "/login",
            data={"username": "maria", "password": PASSWORD, "csrf_token": csrf_of(login.text)},
        )
        page = go("GET", "/login/codigo")
        assert 'value="totp"' in page.text and 'value="recovery_code"' in page.text
        assert "Enviar un código nuevo" not in page.text
        for left in (4, 3, 2, 1):
            page = go(
                "POST",
                "/login/codigo",
                data={"method": "totp", "code": "000000", "csrf_token": csrf_of(page.text)},
            )
            assert page.status_code == 422
            expected = "Le queda 1 intento." if left == 1 else f"Le quedan {left} intentos."
            assert expected in page.text
        fifth = go(
            "POST",
            "/login/codigo",
            data={"method": "totp", "code": "000000", "csrf_token": csrf_of(page.text)},
            allow_redirects=False,
        )
        assert fifth.headers["Location"] == "/login?aviso=codigo-vencido"

        login = go("GET", "/login")
        go(
            "POST",
            "/login",
            data={"username": "maria", "password": PASSWORD, "csrf_token": csrf_of(login.text)},
        )
        page = go("GET", "/login/codigo")
        done = go(
            "POST",
            "/login/codigo",
            data={"method": "recovery_code", "code": codes[0], "csrf_token": csrf_of(page.text)},
            allow_redirects=False,
        )
        assert done.status_code == 303 and done.headers["Location"] == "/"
        security = go("GET", "/seguridad")
        assert "Le quedan <strong>9</strong> códigos de recuperación" in security.text


def test_from_seguridad_a_member_ends_another_session_and_forgets_its_device(web, gateway_url):
    import requests

    with requests.Session() as other:
        other.headers["Origin"] = gateway_url

        def go(method, path, **kwargs):
            return other.request(method, gateway_url + path, timeout=15, **kwargs)

        # the other browser logs in and is remembered
        login = go("GET", "/login")
        go(
            "POST",
            "/login",
            data={"username": "maria", "password": PASSWORD, "csrf_token": csrf_of(login.text)},
        )
        page = go("GET", "/login/codigo")
        reference = re.search(r'id="challenge-reference">([A-Z0-9]{8})<', page.text).group(1)
        go(
            "POST",
            "/login/codigo",
            data={
                "code": emailed_code(reference),
                "remember_device": "1",
                "csrf_token": csrf_of(page.text),
            },
        )
        assert go("GET", "/seguridad", allow_redirects=False).status_code == 200

        # this browser sees it among the open sessions and the remembered devices
        security = logged_in(web)
        ends = re.findall(r'action="(/seguridad/sesiones/[^"]+/cerrar)"', security.text)
        forgets = re.findall(r'action="(/seguridad/dispositivos/[^"]+/quitar)"', security.text)
        assert len(ends) == 1  # the other one (this one has no button)
        answer = web.post(ends[0], data={"csrf_token": csrf_of(security.text)})
        assert "La sesión fue cerrada." in answer.text
        assert go("GET", "/seguridad", allow_redirects=False).status_code == 303

        for action in forgets:  # the demo's device and the other browser's
            page = web.get("/seguridad")
            answer = web.post(action, data={"csrf_token": csrf_of(page.text)})
            assert "El dispositivo fue quitado" in answer.text
        assert "No tiene dispositivos recordados." in answer.text
        # the other browser's cookie no longer spares the code
        login = go("GET", "/login")
        again = go(
            "POST",
            "/login",
            data={"username": "maria", "password": PASSWORD, "csrf_token": csrf_of(login.text)},
            allow_redirects=False,
        )
        assert again.headers["Location"] == "/login/codigo"
