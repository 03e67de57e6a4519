"""Plazo fijo scenarios driven in headless chromium, run in a child process of their own.

The pytest process is monkey-patched by eventlet (tests/conftest.py), under which playwright's sync
API stalls (a call after a navigation, or `stop()`, never returns). So test_deposit_browser.py runs
each scenario here, in a plain Python process:

    python -m tests.e2e.deposit_browser_scenarios BASE_URL SCENARIO

A scenario fails with an AssertionError (exit status 1) and prints where.
"""

import re
import sys

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


def maria_sees_her_deposit_and_simulates_one(page, base):
    browser_login(page, base, "maria", "Socia-2026!")
    page.goto(base + "/plazo-fijo")
    expect(page.get_by_role("heading", name="Plazo fijo", exact=True)).to_be_visible()
    row = page.locator("table.deposits tbody tr", has_text="DPF-100234-01")
    expect(row).to_contain_text("$ 5.000,00")
    expect(row).to_contain_text("7,00 %")
    expect(row).to_contain_text("$ 58,33")  # accrued to today: 60 of 180 days
    expect(row).to_contain_text("120")  # days left
    expect(page.get_by_text("No posee plazo fijo")).to_have_count(0)

    nav = page.get_by_role("navigation")
    nav.get_by_role("link", name="Simulación de plazo fijo").click()
    expect(page).to_have_url(re.compile(r"/plazo-fijo/simulacion$"))
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
    expect(projection.get_by_role("button", name="Descargar PDF")).to_be_visible()


def monthly_simulation_shows_every_payment(page, base):
    browser_login(page, base, "maria", "Socia-2026!")
    page.goto(base + "/plazo-fijo/simulacion")
    page.get_by_label("Monto (USD)").fill("10000")
    page.get_by_label("Plazo (días)").fill("361")
    page.get_by_label("Pago de interés").select_option("monthly")
    page.get_by_role("button", name="Proyectar").click()
    rows = page.locator("section.projection table.payments tbody tr")
    expect(rows).to_have_count(13)
    expect(rows.first).to_contain_text("$ 70,83")
    expect(page.locator("#projection-interest")).to_have_text("$ 852,32")


def bad_simulation_shows_spanish_errors(page, base):
    browser_login(page, base, "maria", "Socia-2026!")
    page.goto(base + "/plazo-fijo/simulacion")
    page.get_by_label("Monto (USD)").fill("50")
    page.get_by_label("Plazo (días)").fill("20")
    page.get_by_role("button", name="Proyectar").click()
    expect(page.get_by_text("El monto mínimo es $ 100,00.")).to_be_visible()
    expect(page.get_by_text("El plazo mínimo es de 30 días.")).to_be_visible()
    expect(page.locator("section.projection")).to_have_count(0)


def jose_has_no_deposit(page, base):
    browser_login(page, base, "jose", "Socio-2026!")
    page.goto(base + "/plazo-fijo")
    expect(page.get_by_role("heading", name="Plazo fijo", exact=True)).to_be_visible()
    expect(page.get_by_text("No posee plazo fijo")).to_be_visible()
    expect(page.locator("table.deposits")).to_have_count(0)


SCENARIOS = {
    f.__name__: f
    for f in (
        maria_sees_her_deposit_and_simulates_one,
        monthly_simulation_shows_every_payment,
        bad_simulation_shows_spanish_errors,
        jose_has_no_deposit,
    )
}


# what a page of text must never do (issue 26): a heading or caption standing one letter per line,
# a word or a date cut across two lines, a wrap rule that allows either
READS_WHOLE = """() => {
  const main = document.querySelector("main");
  const breaking = [];
  for (const el of [main, ...main.querySelectorAll("*")]) {
    const style = getComputedStyle(el);
    if (style.overflowWrap === "anywhere" || style.wordBreak === "break-all") {
      breaking.push(`${el.tagName}.${el.className}`);
    }
  }
  const tall = Array.from(main.querySelectorAll("h1, h2, h3, caption"))
    .map(h => [h.textContent.trim(), Math.round(h.getBoundingClientRect().height)])
    .filter(([, height]) => height > 160);
  const cut = [];
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement.closest("thead, .visually-hidden, details:not([open])")) continue;
    for (const word of node.data.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(node, word.index);
      range.setEnd(node, word.index + word[0].length);
      const lines = new Set(Array.from(range.getClientRects())
        .filter(r => r.width > 0).map(r => Math.round(r.top)));
      if (lines.size > 1) cut.push(word[0]);
    }
  }
  const sideways = document.documentElement.scrollWidth > document.documentElement.clientWidth;
  return {breaking, tall, cut, sideways};
}"""


def plazo_fijo_reads_whole(page, base):
    """The deposits page at the viewport given: headings, captions, words and dates whole."""
    base = base.rstrip("/")
    browser_login(page, base, "maria", "Socia-2026!")
    page.goto(base + "/plazo-fijo")
    expect(page.locator("table.deposits caption")).to_contain_text("Plazos fijos vigentes al")
    found = page.evaluate(READS_WHOLE)
    assert found == {"breaking": [], "tall": [], "cut": [], "sideways": False}, found


def run(base, name):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(locale="es-EC", viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.set_default_timeout(20000)
            SCENARIOS[name](page, base.rstrip("/"))
            context.close()
        finally:
            browser.close()


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2])
    print("ok")
