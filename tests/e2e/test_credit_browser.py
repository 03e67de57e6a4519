"""Créditos in a real browser against the running portal: maria simulates, applies (Proyectar
then Grabar), sees her application, opens the table of a loan with an overdue installment and
downloads its PDF."""

import io
import re

import pytest
from pypdf import PdfReader

from tests.helpers import browser_login

BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def page(portal):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        context = browser.new_context(accept_downloads=True, locale="es-EC")
        page = context.new_page()
        page.set_default_timeout(20000)
        yield page
        context.close()
        browser.close()


def fill_loan(page, product, amount, term, system, frequency):
    page.select_option("#product_code", product)
    page.fill("#amount", amount)
    page.fill("#term_months", term)
    page.select_option("#system", system)
    page.select_option("#frequency", frequency)


@pytest.mark.browser
def test_maria_simulates_applies_and_downloads_her_loan_table(portal, page):
    browser_login(page, portal.base_url, "maria", "Socia-2026!")

    # 2.2 Simulación: fill every field, Proyectar, the projected table appears
    page.click("nav >> text=Simulación de créditos")
    fill_loan(page, "EMERGENTE", "2000", "12", "french", "monthly")
    with page.expect_navigation():
        page.click("#proyectar")
    assert page.is_visible("text=Tabla de amortización presuntiva")
    assert page.locator("table.schedule tbody tr").count() == 12
    assert "Totales" in page.inner_text("table.schedule tfoot")

    # 2.3 Solicitud: Proyectar shows the table before Grabar, then Grabar saves it
    page.click("nav >> text=Solicitud de crédito")
    fill_loan(page, "CONSUMO", "6000", "24", "german", "monthly")
    page.fill("#purpose", "Capital de trabajo para la tienda")
    page.fill("#monthly_income", "2200")
    page.fill("#monthly_expenses", "800")
    page.fill("#guarantor_id_1", "1709876542")
    page.fill("#guarantor_name_1", "Luis Alberto Cárdenas Ruiz")
    assert page.locator("#grabar").count() == 0
    with page.expect_navigation():
        page.click("#proyectar")
    assert page.locator("table.schedule tbody tr").count() == 24
    with page.expect_navigation():
        page.click("#grabar")
    assert "/creditos/solicitudes" in page.url
    notice = page.inner_text("#application-created")
    number = re.search(r"SC-\d{4}-\d{6}", notice).group(0)
    assert "ingresada" in notice
    assert number in page.inner_text("table")

    # 2.1 Tabla de amortización: the loan with an overdue installment, and its PDF
    page.click("nav >> text=Tabla de amortización")
    with page.expect_navigation():
        page.click("tr:has-text('CR-100234-02') >> text=Ver tabla")
    overdue = page.locator("table.schedule tbody tr.row-vencida")
    assert overdue.count() == 1
    overdue_amount = overdue.locator("td.num").nth(4).inner_text()
    with page.expect_download() as download_info:
        page.click("#loan-pdf")
    pdf = PdfReader(io.BytesIO(open(download_info.value.path(), "rb").read()))  # noqa: SIM115
    text = "\n".join(p.extract_text() for p in pdf.pages)
    assert "CR-100234-02" in text and "vencida" in text
    assert overdue_amount.replace("\xa0", " ") in text


@pytest.mark.browser
def test_jose_sees_no_active_loans(portal, page):
    browser_login(page, portal.base_url, "jose", "Socio-2026!")
    page.click("nav >> text=Tabla de amortización")
    assert page.inner_text("#no-loans") == "No posee créditos vigentes"
