"""The manual's password recovery story (docs/manual.md 5 and 4) in headless chromium, on the real
processes: forgot password -> code shown -> login with it -> forced change -> confirmation ->
Salir -> login with the new password."""

import re

import pytest

from tests.browser_runner import run_story
from tests.helpers import browser_login


def recovery_story(page, base):
    """Runs in its own process (tests/browser_runner.py), on headless chromium."""
    page.goto(base + "/login")
    page.get_by_role("link", name="¿Olvidó su contraseña?").click()
    page.wait_for_url(base + "/recuperar")
    page.get_by_label("Usuario").fill("maria")
    page.get_by_label("Correo electrónico registrado").fill("maria.perez@example.com")
    page.get_by_label("Número de socio").fill("100234")
    page.get_by_role("button", name="Recuperar").click()

    shown = page.locator("#codigo-temporal")
    shown.wait_for()
    code = shown.inner_text().strip()
    assert re.fullmatch(r"[A-Za-z0-9]{8}", code)
    assert "Su código temporal es" in page.locator(".recovery-code").inner_text()

    page.get_by_role("link", name="Ir al ingreso").click()
    page.get_by_label("Usuario").fill("maria")
    page.get_by_label("Contraseña").fill(code)
    page.get_by_role("button", name="Ingresar").click()

    # the portal forces Cambiar contraseña before anything else
    page.wait_for_url(base + "/opciones/cambiar-contrasena")
    assert "cambie su contraseña" in page.locator(".notice.warning").inner_text()
    # no menu until the password is changed
    assert page.locator("nav.mainnav").count() == 0

    page.get_by_label("Código temporal").fill(code)
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
    run_story("tests.e2e.test_auth_browser:recovery_story", portal.base_url)


@pytest.fixture(scope="module")
def portal(private_portal):
    # this module changes maria's and jose's passwords: the other modules keep the shared portal
    return private_portal
