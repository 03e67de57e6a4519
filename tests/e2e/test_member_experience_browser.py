"""The member's experience (issue 9) in headless chromium on the real processes: landing on the
position, charts a member can see and a screen reader can name, with their tables; hints that
follow the chosen product; an inline error that keeps what was typed; reports that say they are
being prepared; the member's tab by keyboard; the idle warning and its "Continuar".

Stories run in a process of their own (tests/browser_runner.py: playwright hangs under eventlet).
"""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from scripts.processes import Portal
from services.common.clock import CLOCK
from tests.browser_runner import run_story
from tests.e2e.conftest import make_vhost
from tests.helpers import browser_login

SHORT_IDLE_MINUTES = "0.5"  # a portal whose sessions end after 30 s unused


def charts_and_forms_story(page, base):
    browser_login(page, base, "maria", "Socia-2026!")
    assert page.url == base + "/", page.url  # after login: the consolidated position

    # 3. composition of the position: an image with a name, a caption, a table beside it
    chart = page.get_by_role("img", name="Composición de su posición")
    expect(chart).to_be_visible()
    expect(page.locator("#position-chart figcaption")).to_contain_text("Lo que tiene")
    page.get_by_text("Ver los datos del gráfico en una tabla").click()
    expect(page.locator("#position-chart-table")).to_contain_text("Ahorros")
    expect(page.locator("#position-chart-table")).to_contain_text("$ ")

    # 4. the report says it is being prepared, then the PDF arrives
    with page.expect_download() as report:
        page.get_by_role("link", name="Descargar PDF").click()
    assert report.value.suggested_filename.endswith(".pdf")
    expect(page.locator("#position-report-status")).to_have_text("Su reporte está listo.")

    # 3. the balance over the chosen range, with a way back to the position
    open_menu(page)
    page.locator("nav.mainnav a[href='/estado-de-cuenta']").click()
    page.wait_for_url("**/estado-de-cuenta")
    page.select_option("#cuenta", "4100234001")
    page.fill("#desde", (CLOCK.today() - timedelta(days=120)).isoformat())
    page.fill("#hasta", CLOCK.today().isoformat())
    page.click("#procesar")
    expect(page.get_by_role("img", name="Saldo de la cuenta 4100234001")).to_be_visible()
    expect(page.locator("#movements")).to_be_visible()
    crumbs = page.get_by_role("navigation", name="Usted está en")
    expect(crumbs.get_by_role("link", name="Posición consolidada")).to_be_visible()
    with page.expect_download():
        page.get_by_role("link", name="Descargar PDF").click()

    # 4. the hint follows the chosen product; a wrong amount is refused next to the field
    open_menu(page)
    page.locator("nav.mainnav a[href='/creditos/simulacion']").click()
    page.wait_for_url("**/creditos/simulacion")
    hint = page.locator("#amount-hint")
    expect(hint).to_contain_text("elija el producto")
    page.select_option("#product_code", "EMERGENTE")
    expect(hint).to_contain_text("Entre $ ")
    range_text = hint.inner_text()
    page.fill("#amount", "999.999,00")
    page.fill("#term_months", "12")
    page.click("#proyectar")
    amount = page.locator("#amount")
    expect(amount).to_have_value("999.999,00")
    expect(amount).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#amount-error")).to_be_visible()
    expect(page.locator("#term_months")).to_have_value("12")
    assert page.locator("#amount-hint").inner_text() == range_text  # the server says the same

    amount.fill("2.000,00")
    page.click("#proyectar")
    expect(page.get_by_role("img", name="Capital e interés por cuota")).to_be_visible()
    expect(page.locator("#schedule-chart .legend")).to_contain_text("Capital")
    expect(page.locator("table.schedule tbody tr")).to_have_count(12)

    # 2. the member's tab by keyboard: open, reach Salir, Escape closes it
    summary = page.locator("details.usertab summary")
    summary.focus()
    page.keyboard.press("Enter")
    salir = page.get_by_role("button", name="Salir")
    expect(salir).to_be_visible()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(salir).to_be_focused()
    page.keyboard.press("Escape")
    expect(salir).to_be_hidden()
    expect(summary).to_be_focused()


def idle_warning_story(page, base, idle_seconds):
    # the page's clock is ours: minutes pass in no time (the server's session stays fresh)
    page.clock.install()
    browser_login(page, base, "maria", "Socia-2026!")
    page.goto(base + "/creditos")
    body = page.locator("body")
    expect(body).to_have_attribute("data-idle-seconds", str(idle_seconds))
    dialog = page.get_by_role("dialog", name="Su sesión está por expirar")
    expect(dialog).to_be_hidden()
    page.clock.run_for((idle_seconds - 150) * 1000)
    expect(dialog).to_be_hidden()
    page.clock.run_for(40 * 1000)  # 110 s left: the warning
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Continuar")).to_be_focused()
    with page.expect_response("**/sesion/continuar") as answer:
        dialog.get_by_role("button", name="Continuar").click()
    assert answer.value.status == 204
    expect(dialog).to_be_hidden()
    page.clock.run_for((idle_seconds - 150) * 1000)
    expect(dialog).to_be_hidden()  # a fresh idle period after Continuar
    assert page.url == base + "/creditos"


def expiry_story(page, base, idle_seconds):
    """Nothing faked: the member leaves the page alone until the session really ends."""
    browser_login(page, base, "maria", "Socia-2026!")
    page.goto(base + "/creditos/garantias")
    dialog = page.get_by_role("dialog", name="Su sesión está por expirar")
    expect(dialog).to_be_visible(timeout=idle_seconds * 1000)
    # no answer: when the time is up the page asks for itself and lands on the login
    page.wait_for_url("**/login?**", timeout=(idle_seconds + 30) * 1000)
    assert "aviso=inactividad" in page.url and "next=%2Fcreditos%2Fgarantias" in page.url
    expect(page.locator(".notice")).to_contain_text("Su sesión expiró por inactividad")
    page.get_by_label("Usuario").fill("maria")
    page.get_by_label("Contraseña").fill("Socia-2026!")
    page.get_by_role("button", name="Ingresar").click()
    page.wait_for_url(base + "/creditos/garantias")  # back where the member was
    expect(page.get_by_role("heading", name="Garantías")).to_be_visible()


@pytest.fixture(scope="module")
def short_idle_portal(tmp_path_factory, rabbit_manager, amqp_base):
    vhost, uri = make_vhost(rabbit_manager, amqp_base)
    instance = Portal(
        tmp_path_factory.mktemp("short-idle-portal"),
        uri,
        extra_env={"AUTH_IDLE_MINUTES": SHORT_IDLE_MINUTES},
    )
    instance.setup()
    instance.start_all()
    yield instance
    instance.stop_all()
    rabbit_manager.delete_vhost(vhost)


@pytest.mark.browser
def test_charts_forms_reports_and_the_members_tab(portal):
    run_story("tests.e2e.test_member_experience_browser:charts_and_forms_story", portal.base_url)


@pytest.mark.browser
def test_idle_warning_and_continuar(portal):
    run_story(
        "tests.e2e.test_member_experience_browser:idle_warning_story",
        portal.base_url,
        idle_seconds=15 * 60,
    )


@pytest.mark.browser
@pytest.mark.slow
def test_after_the_idle_timeout_login_with_a_message_then_back_to_the_page(short_idle_portal):
    run_story(
        "tests.e2e.test_member_experience_browser:expiry_story",
        short_idle_portal.base_url,
        idle_seconds=int(float(SHORT_IDLE_MINUTES) * 60),
    )


def open_menu(page):
    """On a phone the main menu is behind the "Menú" button."""
    toggle = page.locator("#menu-toggle")
    if toggle.is_visible() and toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
