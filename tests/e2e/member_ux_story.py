"""What a member still tripped on (issue 26, items 5–8), in chromium at 360 and 1366 px: one
story per size, run by tests/e2e/test_member_ux_browser.py in a child process.

A bank's page (logo, contact, SEPS/COSEDE notice; the menu on one row on a desktop; 44 px tap
targets on a phone; chart text of 12 px at least); a loan table that opens at the installments
that matter; an application whose *Grabar* comes before its table, Back after *Grabar* without
"resend the form?", an equal second application refused naming the first, and *Desistir*; the
statement's search and its CSV. Screenshots under var/screenshots/<size>/26-socio/.
"""

import os
import re
from pathlib import Path

from playwright.sync_api import expect

from services.common.config import PROJECT_ROOT
from tests.helpers import browser_login

SHOTS = Path(os.environ.get("JOURNEY_SCREENSHOTS", PROJECT_ROOT / "var" / "screenshots"))

# rendered size (px) of every text of every chart: its font size times the SVG's scale
CHART_TEXT_PX = """() => Array.from(document.querySelectorAll("figure.chart svg[role=img] text"))
  .map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a)"""
# controls a thumb taps that are too small (inline links inside sentences are not controls)
SMALL_TARGETS = """() => Array.from(document.querySelectorAll(
    "nav.mainnav a, header button, header summary, main button, main .button, main summary, " +
    "main input:not([type=hidden]), main select, .pager a"))
  .filter(e => e.offsetParent !== null)
  .map(e => [e, e.getBoundingClientRect()])
  .filter(([e, r]) => r.height < 44 || r.width < 44)
  .map(([e, r]) => `${e.tagName} "${(e.textContent || e.name || "").trim().slice(0, 30)}" ` +
                   `${Math.round(r.width)}x${Math.round(r.height)}`)"""


def shot(page, size, name):
    folder = SHOTS / size / "26-socio"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def open_menu(page):
    toggle = page.locator("#menu-toggle")
    if toggle.is_visible() and toggle.get_attribute("aria-expanded") != "true":
        toggle.click()


def document_top(locator):
    return locator.evaluate("e => e.getBoundingClientRect().top + window.scrollY")


def member_ux(page, base, size, amount):
    phone = size == "phone"
    browser_login(page, base, "maria", "Socia-2026!")

    # 7. a bank's page: logo and name, contact, the supervisor's and insurer's notice
    expect(page.locator("header .brand img.logo")).to_be_visible()
    expect(page.locator("header .brand")).to_contain_text("Cooperativa")
    notice = page.locator("#deposit-insurance")
    expect(notice).to_contain_text("SEPS")
    expect(notice).to_contain_text("COSEDE")
    expect(page.locator(".foot-contact")).to_contain_text("Atención al socio")
    open_menu(page)
    nav = page.get_by_role("navigation", name="Menú principal")
    expect(nav).to_contain_text("Mis créditos")
    links = nav.get_by_role("link")
    if phone:
        small = page.evaluate(SMALL_TARGETS)
        assert not small, f"tap targets under 44 px: {small}"
    else:
        tops = {round(box["y"]) for box in (link.bounding_box() for link in links.all())}
        assert len(tops) == 1, f"the desktop menu wraps: link tops {sorted(tops)}"
        right = max(b["x"] + b["width"] for b in (link.bounding_box() for link in links.all()))
        assert right <= page.viewport_size["width"], f"the menu runs off-screen at {right}"
    sizes = page.evaluate(CHART_TEXT_PX)
    assert sizes and min(sizes) >= 12, f"chart text of {min(sizes):.1f} px on the position"
    shot(page, size, "01-posicion")

    # 5. the loan's table opens at its overdue installment; the other years are folded
    page.goto(base + "/creditos/CR-100234-02")
    overdue = page.locator("table.schedule tbody tr.row-vencida")
    expect(overdue).to_be_visible()
    rows = page.locator("table.schedule tbody tr")
    shown = sum(1 for row in rows.all() if row.is_visible())
    assert 0 < shown < rows.count(), f"{shown} of {rows.count()} installments unfolded"
    expect(page.locator("table.schedule-totals")).to_contain_text("Totales")
    shot(page, size, "02-credito")

    # 6 + 5. an application: installment and totals, then Grabar, before the chart and the table
    page.goto(base + "/creditos/solicitud")
    page.select_option("#product_code", "CONSUMO")
    page.fill("#amount", amount)
    page.fill("#term_months", "72")
    page.fill("#purpose", "Ampliación del local")
    page.fill("#monthly_income", "4.000")
    page.fill("#monthly_expenses", "900")
    page.fill("#guarantor_id_1", "1709876542")
    page.fill("#guarantor_name_1", "Luis Alberto Cárdenas Ruiz")
    with page.expect_navigation():
        page.click("#proyectar")
    assert re.search(r"/creditos/solicitud\?resultado=", page.url), page.url  # a GET
    grabar = page.locator("#grabar")
    expect(grabar).to_be_visible()
    first_table = page.locator("table.schedule").first
    assert document_top(grabar) < document_top(page.locator("#schedule-chart"))
    assert document_top(grabar) < document_top(first_table)
    assert document_top(page.locator("#schedule-kpis")) < document_top(grabar)
    if phone:
        # after Proyectar the page is at its result: Grabar is on that screen
        assert document_top(grabar) - document_top(page.locator("#schedule-title")) < 740
    shot(page, size, "03-solicitud-proyectada")
    with page.expect_navigation():
        grabar.click()
    expect(page.locator("#application-created")).to_be_visible()
    number = re.search(r"SC-\d{4}-\d{6}", page.locator("#application-created").inner_text())[0]
    # Back after Grabar: the projection again, asked with a GET (no "resend the form?")
    page.go_back()
    expect(page.locator("#grabar")).to_be_visible()
    with page.expect_navigation():
        page.click("#grabar")  # the same token: the same application
    expect(page.locator("#application-created")).to_contain_text(number)

    # an equal application from a new projection is refused, naming the first
    page.goto(base + "/creditos/solicitud")
    page.select_option("#product_code", "CONSUMO")
    page.fill("#amount", amount)
    page.fill("#term_months", "72")
    page.fill("#purpose", "Ampliación del local")
    page.fill("#monthly_income", "4.000")
    page.fill("#monthly_expenses", "900")
    page.fill("#guarantor_id_1", "1709876542")
    page.fill("#guarantor_name_1", "Luis Alberto Cárdenas Ruiz")
    with page.expect_navigation():
        page.click("#proyectar")
    with page.expect_navigation():
        page.click("#grabar")
    expect(page.locator("#application-conflict")).to_contain_text(number)
    shot(page, size, "04-solicitud-igual")

    # Desistir, after its confirmation
    page.goto(base + "/creditos/solicitudes")
    section = page.locator(f"#solicitud-{number}")
    section.get_by_text("Desistir de esta solicitud").click()
    shot(page, size, "05-desistir-confirmacion")
    with page.expect_navigation():
        section.get_by_role("button", name=f"Sí, desistir de la solicitud {number}").click()
    expect(page.locator("#application-withdrawn")).to_contain_text(number)
    row = page.locator(f"tr[data-application='{number}'] .application-status")
    expect(row).to_have_text("Desistida")

    # 8. the statement: search by an amount typed the es-EC way, the CSV beside the PDF
    page.goto(base + "/estado-de-cuenta")
    page.fill("#buscar", "deposito")
    with page.expect_navigation():
        page.click("#procesar")
    expect(page.locator("#search-result")).to_contain_text("con «deposito»")
    sizes = page.evaluate(CHART_TEXT_PX)
    assert sizes and min(sizes) >= 12, f"chart text of {min(sizes):.1f} px on the statement"
    with page.expect_download() as csv_file:
        page.locator("#descargar-csv").click()
    assert csv_file.value.suggested_filename.endswith(".csv")
    shot(page, size, "06-estado-de-cuenta-busqueda")
