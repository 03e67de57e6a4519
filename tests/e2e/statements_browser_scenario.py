"""Estado de cuenta in headless chromium, run as a plain Python process (no eventlet):

    python -m tests.e2e.statements_browser_scenario BASE_URL

maria logs in → Posición consolidada → Reporte (the PDF arrives) → Estado de cuenta → her main
account and a range → Procesar → Descargar (the PDF of that account and range arrives).
Exit status 1 with the failed assertion when something is wrong.
"""

import io
import sys
from datetime import timedelta

from playwright.sync_api import expect, sync_playwright
from pypdf import PdfReader

from services.common.clock import CLOCK
from tests.helpers import browser_login

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pdf_text(path):
    with open(path, "rb") as handle:
        content = handle.read()
    assert content.startswith(b"%PDF"), content[:200]
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def scenario(page, base):
    today = CLOCK.today()
    start = today - timedelta(days=90)
    browser_login(page, base, "maria", "Socia-2026!")
    page.goto(base + "/")
    expect(page.get_by_role("heading", name="Posición consolidada")).to_be_visible()
    expect(page.locator("#savings")).to_contain_text("4100234001")
    expect(page.locator("#position-totals")).to_contain_text("Posición neta")

    with page.expect_download() as report:
        page.click("#position-report")
    text = pdf_text(report.value.path())
    assert "Posición consolidada" in text and "María Pérez" in text, text[:500]

    page.click("nav a[href='/estado-de-cuenta']")
    page.wait_for_url("**/estado-de-cuenta")
    page.select_option("#cuenta", "4100234001")
    page.fill("#desde", start.isoformat())
    page.fill("#hasta", today.isoformat())
    page.click("#procesar")
    expect(page.locator("#statement")).to_be_visible()
    assert page.locator("#movements tbody tr").count() > 0
    closing = page.locator("#closing-balance").inner_text()
    assert closing.startswith("$ "), closing
    expect(page.locator(".pager")).to_contain_text("Página 1 de")

    with page.expect_download() as statement:
        page.click("#descargar")
    text = pdf_text(statement.value.path())
    assert "4100234001" in text and "María Pérez" in text, text[:500]
    assert f"del {start:%d/%m/%Y} al {today:%d/%m/%Y}" in text, text[:800]
    assert closing in text and "Página 1 de" in text, text[-800:]


def main(base):
    base = base.rstrip("/")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        context = browser.new_context(accept_downloads=True, locale="es-EC")
        page = context.new_page()
        page.set_default_timeout(20000)
        try:
            scenario(page, base)
        finally:
            context.close()
            browser.close()
    print("position report, statement and download: ok")


if __name__ == "__main__":
    main(sys.argv[1])
