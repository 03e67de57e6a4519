"""The manual's password recovery story (docs/manual.md 5 and 4) in headless chromium, on the real
processes, with the default setting (the code only by e-mail, docs/identity.md): the user name typed
at login carried to "¿Olvidó su contraseña?" -> the page says where the code went -> the code read
from the e-mail -> login with it -> forced change (the code is not asked again) -> confirmation ->
Salir -> login with the new password."""

import email
import email.policy
import re
import time
from pathlib import Path

import pytest

from tests.browser_runner import run_story
from tests.helpers import browser_login


def code_from_mail(mail_dir, to, timeout=30):
    """The temporary code of the newest recovery e-mail to `to` (the portal's .eml files)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(Path(mail_dir).glob("*-recovery_code.eml"), reverse=True):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["To"] == to:
                text = message.get_body(("plain",)).get_content()
                return re.search(r"Su código temporal es: ([A-Za-z0-9]{8})", text).group(1)
        time.sleep(0.2)
    raise AssertionError(f"no recovery e-mail to {to} in {mail_dir}")


def recovery_story(page, base, mail_dir):
    """Runs in its own process (tests/browser_runner.py), on headless chromium."""
    page.goto(base + "/login")
    page.get_by_label("Usuario").fill("maria")
    page.get_by_role("link", name="¿Olvidó su contraseña?").click()
    page.wait_for_url(base + "/recuperar?usuario=maria")
    assert page.get_by_label("Usuario").input_value() == "maria"
    page.get_by_label("Correo electrónico registrado").fill("maria.perez@example.com")
    page.get_by_label("Número de socio").fill("100234")
    page.get_by_role("button", name="Recuperar").click()

    page.locator(".notice", has_text="m***@example.com").wait_for()
    assert page.locator("#codigo-temporal").count() == 0
    code = code_from_mail(mail_dir, "maria.perez@example.com")

    page.get_by_role("link", name="Ir al ingreso").click()
    page.get_by_label("Usuario").fill("maria")
    page.get_by_label("Contraseña").fill(code)
    page.get_by_role("button", name="Ingresar").click()

    # the portal forces Cambiar contraseña before anything else
    page.wait_for_url(base + "/opciones/cambiar-contrasena")
    assert "cambie su contraseña" in page.locator(".notice.warning").inner_text()
    # no menu until the password is changed
    assert page.locator("nav.mainnav").count() == 0

    # the code just used is not asked again
    assert page.get_by_label("Código temporal").count() == 0
    assert page.get_by_label("Contraseña actual").count() == 0
    page.get_by_label("Nueva contraseña", exact=True).fill("Laguna-Quilotoa-2026")
    page.get_by_label("Repita la nueva contraseña").fill("Laguna-Quilotoa-2026")
    page.get_by_role("button", name="Cambiar contraseña").click()
    confirmation = page.locator(".notice", has_text="Su contraseña fue cambiada correctamente.")
    confirmation.wait_for()

    # Salir: the tab with the member's name, top right
    page.locator(".usertab summary", has_text="María Pérez").click()
    page.get_by_role("button", name="Salir").click()
    page.wait_for_url(base + "/login?aviso=salida")
    assert "Su sesión terminó" in page.content()
    assert not [c for c in page.context.cookies() if c["name"] == "portal_session"]

    # the code no longer works; the new password does
    page.get_by_label("Usuario").fill("maria")
    page.get_by_label("Contraseña").fill(code)
    page.get_by_role("button", name="Ingresar").click()
    assert "Usuario o contraseña incorrectos." in page.locator(".notice.error").inner_text()

    browser_login(page, base, "maria", "Laguna-Quilotoa-2026")
    cookie = next(c for c in page.context.cookies() if c["name"] == "portal_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    page.goto(base + "/opciones/cambiar-contrasena")
    assert page.locator(".usertab summary").inner_text().strip() == "María Pérez"
    assert page.get_by_label("Contraseña actual").is_visible()


@pytest.mark.browser
@pytest.mark.slow
def test_recovery_story_in_the_browser(portal):
    mail_dir = str(Path(portal.env["PORTAL_VAR_DIR"]) / "mail")
    run_story("tests.e2e.test_auth_browser:recovery_story", portal.base_url, mail_dir=mail_dir)


@pytest.fixture(scope="module")
def portal(private_portal):
    # this module changes maria's and jose's passwords: the other modules keep the shared portal
    return private_portal


def failed_logins_story(page, base_url, user):
    """Five wrong passwords for one user name (one that does not exist: the answer is the same,
    nothing is revealed, and no real member is held back): each answer is a GET, the fifth warns
    that access may be blocked for 15 minutes with the way to recovery; Back and a reload show
    the plain form, never the browser's "resend the form?"."""
    from playwright.sync_api import expect

    from tests.e2e.deposit_browser_scenarios import READS_WHOLE
    from tests.e2e.member_ux_story import SMALL_TARGETS

    base = base_url.rstrip("/")
    page.goto(base + "/login")
    for _ in range(5):
        page.get_by_label("Usuario").fill(user)
        page.get_by_label("Contraseña").fill("no-es-la-clave-1")
        with page.expect_navigation():
            page.get_by_role("button", name="Ingresar").click()
        assert page.url == base + "/login?intento=fallido", page.url
    notice = page.locator(".notice.error")
    expect(notice).to_contain_text("Usuario o contraseña incorrectos.")
    expect(notice).to_contain_text("bloqueado durante 15 minutos")
    expect(notice).to_contain_text("¿Olvidó su contraseña?")
    hint = page.locator("#aviso-recuperar a")
    expect(hint).to_be_visible()
    assert hint.get_attribute("href") == f"/recuperar?usuario={user}"
    assert page.get_by_label("Usuario").input_value() == user
    assert page.get_by_label("Contraseña").input_value() == ""  # never sent back
    found = page.evaluate(READS_WHOLE)
    assert found == {"breaking": [], "tall": [], "cut": [], "sideways": False}, found
    if page.viewport_size["width"] < 600:
        assert page.evaluate(SMALL_TARGETS) == []
    # a flash: a reload (or Back to an earlier answer) is the plain form, asked with a GET
    page.reload()
    expect(page.locator(".notice.error")).to_have_count(0)
    page.go_back()
    assert page.url.startswith(base + "/login"), page.url
    expect(page.get_by_role("button", name="Ingresar")).to_be_visible()


@pytest.mark.browser
@pytest.mark.parametrize("width,height", [(360, 740), (1366, 900)])
def test_five_failed_logins_warn_of_the_lock_on_a_phone_and_a_desktop(portal, width, height):
    run_story(
        "tests.e2e.test_auth_browser:failed_logins_story",
        portal.base_url,
        viewport={"width": width, "height": height},
        user=f"nadie.{width}",
    )
