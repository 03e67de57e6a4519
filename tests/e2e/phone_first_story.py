"""maria on her phone (and on a tablet and a desktop): one story per screen size through the
pages with money (issue 15). Run by tests/e2e/test_phone_first.py in a child process.

At every page: nothing scrolls sideways, the content starts in the first third of the screen,
and every money cell of a listed table is inside the viewport (not cut off, not behind a
sideways scroll). Plus the on-blur es-EC formatting of an amount, the focus after a form is sent,
the overdue loan first on the position, the 404 with the menu, a 3-year statement, and Back after
Salir showing the login page.
"""

import re
from datetime import timedelta

from playwright.sync_api import expect

from services.common.clock import CLOCK
from tests.e2e.journey_stories import DATE, Journey

# every money cell (td.num) of the first rows of each table, and where it is
MONEY_CELLS = """() => {
  const vw = document.documentElement.clientWidth;
  const bad = [];
  for (const table of document.querySelectorAll("main table")) {
    if (table.closest("details:not([open])")) continue;  // a chart's data, folded away
    const wrap = table.closest(".table-wrap");
    const box = wrap ? wrap.getBoundingClientRect() : {left: 0, right: vw};
    const rows = Array.from(table.querySelectorAll("tbody tr")).slice(0, 6);
    for (const row of rows) {
      for (const cell of row.querySelectorAll("td.num")) {
        if (!cell.textContent.trim()) continue;
        const r = cell.getBoundingClientRect();
        const right = Math.min(vw, box.right) + 0.5;
        const left = Math.max(0, box.left) - 0.5;
        if (r.width === 0 || r.right > right || r.left < left) {
          const where = `${Math.round(r.left)}-${Math.round(r.right)}`;
          bad.push(`${table.id || table.className || "table"}: "${cell.textContent.trim()}" ` +
                   `(${cell.dataset.label || "?"}) at ${where}` +
                   ` of ${Math.round(left)}-${Math.round(right)}`);
        }
      }
    }
  }
  return bad;
}"""


def readable(j, name, title, heading=None):
    """`Journey.sees` (title, axe-core, screenshot, no sideways scroll) plus: content in the first
    third of the screen, every money column of every table on screen."""
    page = j.sees(name, title, heading)
    height = page.viewport_size["height"]
    top = page.evaluate("document.querySelector('main h1').getBoundingClientRect().top")
    assert top < height / 3, f"{page.url} ({j.size}): the content starts at {top}px of {height}"
    outside = page.evaluate(MONEY_CELLS)
    assert not outside, f"{page.url} ({j.size}): money off-screen: {outside}"
    return page


def one_line(page, selector):
    """Each element's text is on one line (one line box: not wrapped)."""
    rects = page.evaluate(
        f"Array.from(document.querySelectorAll({selector!r})).map(e => e.getClientRects().length)"
    )
    return bool(rects) and all(count == 1 for count in rects), rects


def phone_first(page, base, size):
    j = Journey(page, base, size, "07-telefono")
    p = page
    j.log_in("maria", "Socia-2026!", "María Pérez")
    readable(j, "posicion", "Posición consolidada")
    # what matters first: the overdue installment, before the totals, with the way to the table
    first = p.locator("#next-payments .due").first
    expect(first).to_contain_text(re.compile(rf"Cuota vencida desde {DATE}"))
    expect(first).to_contain_text("Páguelo")
    assert p.evaluate(
        "document.getElementById('next-payments').getBoundingClientRect().top"
        " < document.getElementById('position-totals').getBoundingClientRect().top"
    )
    expect(first.get_by_role("link")).to_have_attribute("href", "/creditos/CR-100234-02")

    # a 3-year statement, on screen (paged) and as a PDF
    j.menu("Estado de cuenta")
    readable(j, "estado-de-cuenta", "Estado de cuenta")
    today = CLOCK.today()
    p.get_by_label("Cuenta").select_option("4100234001")
    p.get_by_label("Fecha de inicio").fill((today - timedelta(days=3 * 365)).isoformat())
    p.get_by_label("Fecha de corte").fill(today.isoformat())
    j.click(p.get_by_role("button", name="Procesar"))
    expect(p.locator(".pager")).to_contain_text(re.compile(r"Página 1 de \d+"))
    assert p.evaluate("document.activeElement.id") == "statement-title"  # the result
    readable(j, "estado-de-cuenta-3-anios", "Estado de cuenta")
    # its PDF is prepared in the background: progress on a page of its own, then the download
    p.get_by_role("link", name="Descargar PDF").click()
    expect(p).to_have_url(re.compile(r"/estado-de-cuenta/reporte/[\w-]+$"))
    expect(p.get_by_role("heading", name="Su reporte está listo")).to_be_visible(timeout=60000)
    readable(j, "estado-de-cuenta-3-anios-listo", "Su reporte está listo")
    name, text = j.download(p.get_by_role("link", name="Descargar PDF"))
    assert "4100234001" in name and "4100234001" in text, name

    # the loans and the table of the overdue one
    j.menu("Tabla de amortización")
    readable(j, "creditos", "Tabla de amortización")
    if size == "desktop":
        ok, lines = one_line(p, "td[data-label='Crédito'] a")
        assert ok, f"a loan number wraps: {lines}"
    j.click(p.get_by_role("link", name="CR-100234-02").first)
    readable(j, "credito", "Crédito CR-100234-02")
    vencida = p.locator("table.schedule tbody tr.row-vencida")
    vencida.scroll_into_view_if_needed()
    for label in ("Cuota", "Saldo", "Estado"):
        expect(vencida.locator(f"td[data-label='{label}']")).to_be_in_viewport()

    j.menu("Plazo fijo")
    readable(j, "plazo-fijo", "Plazo fijo")

    # an amount typed as in Ecuador, formatted when the field is left
    j.menu("Simulación de créditos")
    readable(j, "simulacion", "Simulación de créditos")
    p.select_option("#product_code", "CONSUMO")
    amount = p.get_by_label("Monto (USD)")
    amount.fill("2.500")
    p.get_by_label("Plazo (meses)").focus()
    expect(amount).to_have_value("2.500,00")
    p.get_by_label("Plazo (meses)").fill("12")
    j.click(p.get_by_role("button", name="Proyectar"))
    expect(p.locator("#schedule-summary")).to_contain_text("$ 2.500,00")
    assert p.evaluate("document.activeElement.id") == "schedule-title"
    readable(j, "simulacion-proyectada", "Simulación de créditos")
    j.click(p.get_by_role("link", name="Solicitar este crédito"))
    expect(p.get_by_label("Monto (USD)")).to_have_value("2.500,00")
    readable(j, "solicitud-con-la-simulacion", "Solicitud de crédito")

    # an ambiguous amount: refused with the format, the focus on the field
    j.go("/plazo-fijo/simulacion")
    p.get_by_label("Monto (USD)").fill("2,500.00")
    p.get_by_label("Plazo (días)").fill("180")
    j.click(p.get_by_role("button", name="Proyectar"))
    expect(p.locator("#amount-error")).to_contain_text("2.500,00")
    assert p.evaluate("document.activeElement.id") == "amount"
    readable(j, "plazo-fijo-monto-ambiguo", "Simulación de plazo fijo")

    # a mistyped address keeps the menu
    j.go("/creditos/no/existe")
    readable(j, "no-existe", "Aviso", "Página no encontrada")
    expect(p.locator("#menu")).to_have_count(1)

    # Salir, then the browser's Back: the login page, no balance
    j.go("/")
    readable(j, "posicion-antes-de-salir", "Posición consolidada")
    j.salir("María Pérez")
    p.go_back()
    p.go_back()
    expect(p).to_have_url(re.compile(r"/login"))
    expect(p.locator("main")).not_to_contain_text("$ ")
    j.sees("atras-despues-de-salir", "Ingreso", "Ingreso al portal en línea")
