"""The second factor in a real browser (docs/pages.md, "Ingreso en dos pasos" and "Seguridad"): a
member logs in from a new browser with the code e-mailed to her, asks to remember the device, logs
out and in again without a code, then registers an authenticator app on the Seguridad page (the
code computed from the secret the page shows, as the app would) and gets her recovery codes.

Run by tests/e2e/test_second_factor_browser.py in a child process (tests/browser_runner.py)."""

import email
import email.policy
import re
import time
from pathlib import Path

import pyotp
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.e2e.journey_stories import check_accessibility

NO_SIDEWAYS = "() => document.scrollingElement.scrollWidth <= window.innerWidth"


def reads_well(page, axe):
    """No sideways scrolling and no serious axe-core violation on the page shown."""
    assert page.evaluate(NO_SIDEWAYS), f"{page.url} scrolls sideways"
    check_accessibility(page, axe, page.viewport_size["width"])


def newest_code(mail_dir, to, subject, reference=None, timeout=30):
    """The 6-digit code of the newest e-mail to `to` with `subject` (and `reference`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        paths = Path(mail_dir).glob("*-second_factor_code.eml")
        for path in sorted(paths, key=lambda p: p.stat().st_mtime_ns, reverse=True):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            text = message.get_body(("plain",)).get_content()
            if message["To"] != to or message["Subject"] != subject:
                continue
            if reference and f"Referencia: {reference}" not in text:
                continue
            return re.search(r"^(\d{6})$", text, re.M).group(1)
        time.sleep(0.2)
    raise AssertionError(f"no code e-mail '{subject}' to {to} in {mail_dir}")


def fill_password_step(page, base, username, password):
    page.goto(base + "/login")
    page.get_by_label("Usuario").fill(username)
    page.get_by_label("Contraseña").fill(password)
    page.get_by_role("button", name="Ingresar").click()


def open_menu_item(page, name):
    toggle = page.locator("#menu-toggle")
    if toggle.is_visible() and toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    page.get_by_role("navigation", name="Menú principal").get_by_role(
        "link", name=name, exact=True
    ).click()


def second_factor(page, base, username, password, display_name, email_to, mail_dir):
    axe = Axe()
    # a new browser: the right password leads to the code page, with no session yet
    fill_password_step(page, base, username, password)
    page.wait_for_url(base + "/login/codigo")
    assert not [c for c in page.context.cookies() if c["name"] == "portal_session"]
    reads_well(page, axe)
    reference = page.locator("#challenge-reference").inner_text()
    code = newest_code(
        mail_dir, email_to, "Su código para ingresar al Portal en línea", reference=reference
    )
    page.locator("#code").fill(code)
    page.get_by_label("Recordar este dispositivo").check()
    page.get_by_role("button", name="Continuar").click()
    page.wait_for_url(base + "/")
    cookies = {c["name"]: c for c in page.context.cookies()}
    device = cookies["portal_device"]
    assert device["httpOnly"] and device["sameSite"] == "Strict"
    assert device["expires"] - time.time() > 29 * 24 * 3600
    assert cookies["portal_session"]["httpOnly"]

    # Salir, and in again: the remembered device spares the code (and its token is replaced)
    page.locator(".usertab summary", has_text=display_name).click()
    page.get_by_role("button", name="Salir").click()
    page.wait_for_url(base + "/login?aviso=salida")
    fill_password_step(page, base, username, password)
    page.wait_for_url(base + "/")
    renewed = next(c for c in page.context.cookies() if c["name"] == "portal_device")
    assert renewed["value"] != device["value"]

    # Seguridad, from the menu: this session marked, this device remembered, the last logins
    open_menu_item(page, "Seguridad")
    page.wait_for_url(base + "/seguridad")
    expect(page.locator("h1")).to_have_text("Seguridad")
    expect(page.locator(".tag", has_text="Esta sesión")).to_have_count(1)
    heading = page.get_by_role("heading", name="Dispositivos recordados")
    devices = page.locator("section", has=heading)
    # this browser (headless chromium on Linux), beside the device the demo remembers
    this_device = devices.locator("li", has_text="Chrome")
    expect(this_device).to_have_count(1)
    expect(this_device.get_by_role("button", name="Quitar")).to_be_visible()
    logins = page.get_by_role("region", name="Últimos ingresos")
    expect(logins.locator("tbody tr").first).to_contain_text("Exitoso")
    reads_well(page, axe)

    # register an app, by keyboard: the password field, Enter
    page.locator("#start-password").focus()
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    page.wait_for_url(base + "/seguridad/aplicacion")
    expect(page.locator(".qr svg")).to_be_visible()
    grouped = page.locator("#totp-secret").inner_text()
    assert re.fullmatch(r"([A-Z2-7]{4} )*[A-Z2-7]{1,4}", grouped.strip()), grouped
    reads_well(page, axe)
    secret = grouped.replace(" ", "")
    # the current method's code, e-mailed now
    email_code = newest_code(
        mail_dir, email_to, "Su código para registrar una aplicación de autenticación"
    )
    page.get_by_label("Código que muestra la aplicación").fill(pyotp.TOTP(secret).now())
    page.locator("#confirm-code").fill(email_code)
    page.get_by_role("button", name="Confirmar").click()
    expect(page.locator("h1")).to_have_text("Códigos de recuperación")
    codes = page.locator("ol.codes li").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[A-Z2-9]{10}", c) for c in codes), codes
    expect(page.locator("main")).to_contain_text("Esta es la única vez que los verá")
    reads_well(page, axe)
    page.get_by_role("link", name="Listo, ya los guardé").click()
    page.wait_for_url(base + "/seguridad")
    expect(page.locator("main")).to_contain_text("aplicación de autenticación")
    expect(page.get_by_role("button", name="Quitar aplicación")).to_be_visible()
