"""Transferencias in a real browser (docs/pages.md, "Transferencias"): maria opens the menu
entry, orders a transfer between her own accounts typed the es-EC way, confirms it with the
e-mailed code (by keyboard), watches the order's page turn *Completada* by itself (the demo core
answers), downloads the receipt, is told neutrally that a beneficiary does not match, and lowers
a limit; and pays her overdue installment from the loan's page (*Pagar cuota*). No page
scrolls sideways; axe-core finds nothing serious.

Run by tests/e2e/test_payments_browser.py in a child process (tests/browser_runner.py)."""

import re

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.e2e.journey_stories import SCREENSHOTS
from tests.e2e.second_factor_story import reads_well
from tests.helpers import browser_login, emailed_code


class Looks:
    """Each page checked (no sideways scrolling, axe-core) and photographed to
    var/screenshots/<width>px/transferencias/ (JOURNEY_SCREENSHOTS elsewhere)."""

    def __init__(self, page):
        self.page, self.axe, self.count = page, Axe(), 0
        self.folder = SCREENSHOTS / f"{page.viewport_size['width']}px" / "transferencias"
        self.folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, name):
        self.count += 1
        self.page.screenshot(path=str(self.folder / f"{self.count:02d}-{name}.png"), full_page=True)
        reads_well(self.page, self.axe)


def transfers(page, base, username, password, amount_typed, amount_shown, daily_limit):
    looks = Looks(page)
    browser_login(page, base, username, password)
    # from the position, where the member sees her accounts (the desktop menu keeps one row)
    page.get_by_role("link", name="Transferencias", exact=True).click()
    page.wait_for_url(base + "/transferencias")
    expect(page.locator("h1")).to_have_text("Transferencias")
    looks("transferencias")

    # a transfer to another own account, the amount typed as in Ecuador
    source = page.locator("#from_account").input_value()
    own = page.locator("#destination option[value^='c:']").evaluate_all(
        "(options) => options.map((o) => o.value)"
    )
    page.select_option("#destination", next(v for v in own if v != "c:" + source))
    page.locator("#amount").fill(amount_typed)
    page.locator("#description").fill("Ahorro del mes")
    page.get_by_role("button", name="Continuar").click()
    page.wait_for_url("**/confirmar")
    expect(page.locator("#order-amount")).to_have_text(amount_shown)
    looks("codigo")

    # the code, typed and sent with the keyboard alone
    reference = page.locator("#challenge-reference").inner_text().strip()
    expect(page.locator("#code")).to_be_focused()
    page.keyboard.type(emailed_code(None, base, reference=reference))
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: url.count("/") == 4 and "/transferencias/" in url)

    # the order's page refreshes itself while enviada, until the cooperative answers
    expect(page.locator("#order-status")).to_contain_text("Completada", timeout=40000)
    looks("completada")
    with page.expect_download() as download:
        page.locator("#receipt").click()
    pdf = download.value
    assert pdf.suggested_filename.endswith(".pdf")
    with open(pdf.path(), "rb") as receipt:
        assert receipt.read(5) == b"%PDF-"

    # the history links to the order
    order_path = page.url.removeprefix(base)
    page.get_by_role("link", name="Volver a Transferencias").click()
    expect(page.locator(f"a[href='{order_path}']")).to_be_visible()

    # a beneficiary whose cédula does not match: one neutral message
    page.locator("details summary", has_text="Agregar un beneficiario").click()
    page.locator("#b_alias").fill("José")
    page.locator("#b_account_number").fill("4100517001")
    page.locator("#b_identification").fill("1700000001")
    page.get_by_role("button", name="Agregar").click()
    expect(page.locator("#b_account_number-error")).to_contain_text("No encontramos")
    looks("beneficiario-no-coincide")

    # the limits: lowering takes effect at once
    page.goto(base + "/transferencias")
    page.get_by_role("link", name="Mis límites de transferencia").click()
    expect(page.locator("h1")).to_have_text("Límites de transferencia")
    page.locator("#daily_to_others").fill(daily_limit)
    page.get_by_role("button", name="Guardar límites").click()
    expect(page.locator(".notice")).to_contain_text("bajaron")
    expect(page.locator("#limit-daily")).to_have_text("$ " + daily_limit)
    looks("limites")


def loan_payment(page, base, username, password, loan_number):
    """Pagar cuota: from the loan in arrears to *Completada* with the e-mailed code, by keyboard,
    then the loan without arrears."""
    looks = Looks(page)
    browser_login(page, base, username, password)
    page.goto(base + f"/creditos/{loan_number}")
    expect(page.locator("#loan-arrears")).to_contain_text("vencida desde")
    page.get_by_role("link", name="Pagar cuota").click()
    page.wait_for_url(f"**/creditos/{loan_number}/pagar")
    expect(page.locator("h1")).to_have_text("Pagar cuota")
    expect(page.locator("table.quote")).to_contain_text("Interés de mora")
    expect(page.locator("table.quote")).to_contain_text("según la cooperativa al")
    amount = page.locator("#quote-amount").inner_text().strip()
    assert re.fullmatch(r"\$ \d{1,3}(\.\d{3})*,\d\d", amount), amount  # es-EC
    looks("pagar-cuota")

    # the account, then Continuar, with the keyboard alone
    page.locator("#from_account").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Continuar")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url("**/confirmar")
    expect(page.locator("#order-amount")).to_have_text(amount)
    looks("pagar-cuota-codigo")
    reference = page.locator("#challenge-reference").inner_text().strip()
    expect(page.locator("#code")).to_be_focused()
    page.keyboard.type(emailed_code(None, base, reference=reference))
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: url.count("/") == 4 and "/transferencias/" in url)
    expect(page.locator("#order-status")).to_contain_text("Completada", timeout=40000)
    expect(page.locator("h1")).to_have_text("Pago de cuota")
    looks("pagar-cuota-completada")
    with page.expect_download() as download:
        page.locator("#receipt").click()
    with open(download.value.path(), "rb") as receipt:
        assert receipt.read(5) == b"%PDF-"

    # the loan: the installments paid, no arrears any more
    page.goto(base + f"/creditos/{loan_number}")
    expect(page.locator("#loan-arrears")).to_have_count(0)
