"""The Créditos story driven in headless chromium, run as its own process by
tests/e2e/test_credit_browser.py.

It runs outside pytest's process on purpose: the test session monkey-patches eventlet, and
under that patching playwright's waits for navigations never return. This script imports no
eventlet. It prints one JSON object (what it saw) and exits 0, or fails an assertion (exit 1).

    python tests/e2e/credit_browser_story.py maria BASE_URL OUT_DIR
"""

import json
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORDS = {"maria": "Socia-2026!", "jose": "Socio-2026!"}


def login(page, base, username):
    """/login, and the second factor's code when this browser is not a remembered device."""
    from tests.helpers import browser_login

    browser_login(page, base, username, PASSWORDS[username])


def go(page, selector):
    with page.expect_navigation():
        page.click(selector)


def fill_loan(page, product, amount, term, system, frequency):
    page.select_option("#product_code", product)
    page.fill("#amount", amount)
    page.fill("#term_months", term)
    page.select_option("#system", system)
    page.select_option("#frequency", frequency)


def maria(page, base, out_dir):
    seen = {}
    login(page, base, "maria")
    page.goto(base + "/creditos")

    # 2.2 Simulación: every field, Proyectar, the projected table appears
    go(page, "nav >> text=Simulación de créditos")
    fill_loan(page, "EMERGENTE", "2000", "12", "french", "monthly")
    go(page, "#proyectar")
    assert page.is_visible("text=Tabla de amortización presuntiva")
    seen["simulation_rows"] = page.locator("table.schedule tbody tr").count()
    seen["simulation_footer"] = page.inner_text("table.schedule tfoot")

    # 2.3 Solicitud: Proyectar shows the table before Grabar; Grabar saves it
    go(page, "nav >> text=Solicitud de crédito")
    fill_loan(page, "CONSUMO", "6000", "24", "german", "monthly")
    page.fill("#purpose", "Capital de trabajo para la tienda")
    page.fill("#monthly_income", "2200")
    page.fill("#monthly_expenses", "800")
    page.fill("#guarantor_id_1", "1709876542")
    page.fill("#guarantor_name_1", "Luis Alberto Cárdenas Ruiz")
    seen["grabar_before_proyectar"] = page.locator("#grabar").count()
    go(page, "#proyectar")
    seen["application_rows"] = page.locator("table.schedule tbody tr").count()
    go(page, "#grabar")
    seen["after_grabar_url"] = page.url
    seen["application_notice"] = page.inner_text("#application-created")
    seen["applications_table"] = page.inner_text("table")

    # 2.1 Tabla de amortización: the loan with an overdue installment, and its PDF
    go(page, "nav >> text=Tabla de amortización")
    go(page, "tr:has-text('CR-100234-02') >> text=Ver tabla")
    overdue = page.locator("table.schedule tbody tr.row-vencida")
    seen["overdue_rows"] = overdue.count()
    seen["overdue_installment"] = overdue.locator("td.num").nth(4).inner_text()
    with page.expect_download() as download:
        page.click("#loan-pdf")
    target = Path(out_dir) / "loan.pdf"
    download.value.save_as(target)
    seen["pdf"] = str(target)
    return seen


def jose(page, base, out_dir):
    login(page, base, "jose")
    page.goto(base + "/creditos")
    return {"no_loans": page.inner_text("#no-loans")}


def main(story, base, out_dir):
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(
            locale="es-EC", accept_downloads=True, viewport={"width": 1280, "height": 900}
        )
        page = context.new_page()
        page.set_default_timeout(30000)
        try:
            seen = {"maria": maria, "jose": jose}[story](page, base.rstrip("/"), out_dir)
        finally:
            context.close()
            browser.close()
    print(json.dumps(seen, ensure_ascii=False))


if __name__ == "__main__":
    main(*sys.argv[1:4])
