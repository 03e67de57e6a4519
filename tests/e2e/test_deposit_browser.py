"""Plazo fijo in a real browser, on the running portal (every service as its own process)."""

import re

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.helpers import browser_login

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def deposit_playwright():
    """Playwright's driver for the session, deliberately never stopped.

    Under eventlet's monkey-patching (tests/conftest.py), `Playwright.stop()` (the exit of
    `with sync_playwright()`) waits forever for the driver process; everything else works. The
    driver ends on its own when pytest exits and its stdin pipe closes.
    """
    return sync_playwright().start()


@pytest.fixture
def browser(deposit_playwright):
    instance = deposit_playwright.chromium.launch(
        executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
    )
    yield instance
    instance.close()


@pytest.fixture
def page_for(browser, portal):
    contexts = []

    def open_as(username, password):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20000)
        return browser_login(page, portal.url("/"), username, password)

    yield open_as
    for context in contexts:
        context.close()


@pytest.mark.browser
def test_maria_sees_her_deposit_and_simulates_one(page_for):
    page = page_for("maria", "Socia-2026!")
    page.get_by_role("navigation").get_by_role("link", name="Plazo fijo", exact=True).click()
    expect(page).to_have_url(re.compile(r"/plazo-fijo$"))
    expect(page.get_by_role("heading", name="Plazo fijo", exact=True)).to_be_visible()
    row = page.locator("table.deposits tbody tr", has_text="DPF-100234-01")
    expect(row).to_contain_text("$ 5.000,00")
    expect(row).to_contain_text("7,00 %")
    expect(row).to_contain_text("$ 58,33")  # accrued to today: 60 of 180 days
    expect(page.get_by_text("No posee plazo fijo")).to_have_count(0)

    page.get_by_role("link", name="Simulación de plazo fijo").click()
    page.get_by_label("Monto (USD)").fill("5000")
    page.get_by_label("Plazo (días)").fill("180")
    page.get_by_label("Pago de interés").select_option("maturity")
    expect(page.get_by_label("Fecha de inicio")).not_to_have_value("")
    page.get_by_role("button", name="Proyectar").click()

    projection = page.locator("section.projection")
    expect(projection.get_by_role("heading", name="Proyección")).to_be_visible()
    expect(projection.locator("#projection-interest")).to_have_text("$ 175,00")
    expect(projection.locator("#projection-withholding")).to_have_text("$ 3,50")
    expect(projection.locator("#projection-net")).to_have_text("$ 171,50")
    expect(projection.locator("table.payments tbody tr")).to_have_count(1)
    expect(projection.get_by_role("button", name="Imprimir PDF")).to_be_visible()


@pytest.mark.browser
def test_monthly_simulation_shows_every_payment(page_for, portal):
    page = page_for("maria", "Socia-2026!")
    page.goto(portal.url("/plazo-fijo/simulacion"))
    page.get_by_label("Monto (USD)").fill("10000")
    page.get_by_label("Plazo (días)").fill("361")
    page.get_by_label("Pago de interés").select_option("monthly")
    page.get_by_role("button", name="Proyectar").click()
    rows = page.locator("section.projection table.payments tbody tr")
    expect(rows).to_have_count(13)
    expect(rows.first).to_contain_text("$ 70,83")
    expect(page.locator("#projection-interest")).to_have_text("$ 852,32")


@pytest.mark.browser
def test_bad_simulation_shows_spanish_errors(page_for, portal):
    page = page_for("maria", "Socia-2026!")
    page.goto(portal.url("/plazo-fijo/simulacion"))
    page.get_by_label("Monto (USD)").fill("50")
    page.get_by_label("Plazo (días)").fill("20")
    page.get_by_role("button", name="Proyectar").click()
    expect(page.get_by_text("El monto mínimo es $ 100,00.")).to_be_visible()
    expect(page.get_by_text("El plazo mínimo es de 30 días.")).to_be_visible()
    expect(page.locator("section.projection")).to_have_count(0)


@pytest.mark.browser
def test_jose_has_no_deposit(page_for):
    page = page_for("jose", "Socio-2026!")
    page.get_by_role("navigation").get_by_role("link", name="Plazo fijo", exact=True).click()
    expect(page.get_by_text("No posee plazo fijo")).to_be_visible()
    expect(page.locator("table.deposits")).to_have_count(0)
