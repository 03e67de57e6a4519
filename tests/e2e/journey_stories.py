"""The member's journeys through the manual (docs/manual.md), in headless chromium, at one screen
size.

Run by tests/e2e/test_journeys.py through tests/browser_runner.py (a process without eventlet).
Every page a journey reaches goes through `Journey.sees(...)`, which checks what any page must
have (its title, one h1, no sideways scrolling on a phone), runs axe-core in the page (fails on
a serious or critical violation) and writes a full-page screenshot to
var/screenshots/<size>/<journey>/<nn>-<page>.png (var/ is not committed).
"""

import io
import os
import re
import shutil
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import expect
from pypdf import PdfReader

from services.common.clock import CLOCK
from services.common.config import PROJECT_ROOT
from tests.e2e.credit_browser_story import fill_loan

COOPERATIVE = "Cooperativa de Ahorro y Crédito Andina"
MONEY = r"\$ \d{1,3}(?:\.\d{3})*,\d{2}"
DATE = r"\d{2}/\d{2}/\d{4}"
SCREENSHOTS = Path(os.environ.get("JOURNEY_SCREENSHOTS", PROJECT_ROOT / "var" / "screenshots"))
BLOCKING_IMPACTS = ("serious", "critical")

# Ana (fixtures/reference_members.json) has no portal user: the journey registers her.
ANA = {
    "member_number": "100781",
    "identification": "0104567896",
    "first_name": "Ana",  # one given name and one surname are enough (MANUAL 6)
    "last_name": "Torres",
    "email": "ana.torres@example.com",
    "username": "ana.torres",
    "password": "Cotopaxi-Nevado-2026",
    "new_password": "Chimborazo-Hielo-2026",
    "display_name": "Ana Torres",
}
CARMEN = {
    "member_number": "101245",
    "identification": "1803456787",
    "first_name": "Carmen",
    "last_name": "Quishpe",
    "email": "carmen.quishpe@example.com",
    "username": "carmen.q",
    "password": "Tungurahua-Ceniza-26",
    "new_password": "Pululahua-Niebla-26",
    "display_name": "Carmen Quishpe",
}


def format_violations(violations):
    lines = []
    for violation in violations:
        targets = "; ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        lines.append(
            f"- [{violation['impact']}] {violation['id']}: {violation['help']} "
            f"({len(violation['nodes'])}x: {targets}) {violation['helpUrl']}"
        )
    return "\n".join(lines)


def check_accessibility(page, axe, size, report=None):
    """axe-core in the page: fails on any serious or critical violation (rule, elements, help)."""
    results = axe.run(page).response
    if report is not None:
        report.write((format_violations(results["violations"]) or "no violation") + "\n")
    blocking = [v for v in results["violations"] if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, (
        f"axe-core {results['testEngine']['version']} on {page.url} ({size}), "
        f"serious or critical violations:\n{format_violations(blocking)}"
    )


def field(page, label):
    """The form field whose label starts with `label` (a label may add a hint after it)."""
    return page.get_by_label(re.compile("^" + re.escape(label) + r"(\s|$)"))


class Journey:
    """A member's walk through the portal at one screen size: checks and photographs each page."""

    def __init__(self, page, base, size, name):
        from axe_playwright_python.sync_playwright import Axe

        self.page = page
        self.base = base.rstrip("/")
        self.size = size
        self.axe = Axe()
        self.count = 0
        self.folder = SCREENSHOTS / size / name
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.pages = []

    def go(self, path):
        self.page.goto(self.base + path)

    def click(self, locator):
        """Click what leads to another page and wait for it."""
        with self.page.expect_navigation():
            locator.click()

    def sees(self, name, title, heading=None):
        """The page now shown is `title`: check it, run axe-core in it, photograph it."""
        page = self.page
        page.wait_for_load_state("load")
        expect(page).to_have_title(f"{title} · {COOPERATIVE}")
        h1 = page.locator("h1")
        expect(h1).to_have_count(1)
        expect(h1).to_have_text(heading or title)
        expect(page.locator("main")).to_have_count(1)
        self.count += 1
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{name}.png"), full_page=True)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{page.url}: the page scrolls sideways by {overflow}px ({self.size})"
        with (self.folder / "axe.txt").open("a") as report:  # every impact, for the curious
            report.write(f"{self.count:02d}-{name} {page.url}\n")
            check_accessibility(page, self.axe, self.size, report)
        self.pages.append((page.url.removeprefix(self.base), page.title()))
        return page

    def download(self, locator):
        """Click a link that downloads a PDF; returns (suggested file name, extracted text)."""
        with self.page.expect_download() as info:
            locator.click()
        download = info.value
        content = Path(download.path()).read_bytes()
        assert content.startswith(b"%PDF"), content[:100]
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)
        return download.suggested_filename, text

    # -- steps shared by the journeys -----------------------------------------------------------

    def log_in(self, username, password, display_name):
        page = self.page
        self.go("/login")
        self.sees("ingreso", "Ingreso", "Ingreso al portal en línea")
        page.get_by_label("Usuario").fill(username)
        page.get_by_label("Contraseña").fill(password)
        self.click(page.get_by_role("button", name="Ingresar"))
        self.second_factor()
        expect(page.locator(".usertab summary")).to_have_text(display_name)

    def second_factor(self, remember=True):
        """From a browser that is not a remembered device, the code page after the password:
        the code e-mailed for its reference (docs/pages.md, "Ingreso en dos pasos")."""
        from tests.helpers import emailed_code

        page = self.page
        if not page.url.startswith(self.base + "/login/codigo"):
            return
        self.sees("codigo", "Código de seguridad")
        reference = page.locator("#challenge-reference").inner_text().strip()
        page.locator("#code").fill(emailed_code(None, self.base, reference=reference))
        if remember:
            page.get_by_label("Recordar este dispositivo").check()
        self.click(page.get_by_role("button", name="Continuar"))

    def salir(self, display_name):
        """MANUAL 4: the tab on the member's name, top right, option Salir."""
        page = self.page
        page.locator(".usertab summary", has_text=display_name).click()
        self.click(page.locator(".usertab").get_by_role("button", name="Salir"))
        expect(page).to_have_url(re.compile(r"/login\?aviso=salida$"))
        expect(page.locator(".notice")).to_contain_text("Su sesión terminó")
        assert not [c for c in page.context.cookies() if c["name"] == "portal_session"]
        self.sees("salida", "Ingreso", "Ingreso al portal en línea")
        self.go("/")  # the session is over: back to the login page
        expect(page).to_have_url(re.compile(r"/login"))

    def register(self, member, first_try_wrong=False):
        """MANUAL 6: Registrarse with the data of the member record."""
        page = self.page
        self.go("/login")
        self.click(page.get_by_role("link", name="Registrarse"))
        self.sees("registro", "Registro de socio")
        values = {
            "Número de socio": member["member_number"],
            "Cédula": member["identification"],
            "Nombre": member["first_name"],
            "Apellido": member["last_name"],
            "Correo electrónico registrado": member["email"],
            "Usuario": member["username"],
        }
        if first_try_wrong:  # a surname that is not the member's: refused, nothing registered
            for label, value in {**values, "Apellido": "Zambrano"}.items():
                field(page, label).fill(value)
            field(page, "Contraseña").fill(member["password"])
            page.get_by_label("Repita la contraseña").fill(member["password"])
            self.click(page.locator("main").get_by_role("button", name="Registrarse"))
            expect(page.locator(".field-error, .notice.error").first).to_be_visible()
            self.sees("registro-rechazado", "Registro de socio")
        for label, value in values.items():
            field(page, label).fill(value)
        field(page, "Contraseña").fill(member["password"])
        page.get_by_label("Repita la contraseña").fill(member["password"])
        self.click(page.locator("main").get_by_role("button", name="Registrarse"))
        expect(page).to_have_url(re.compile(r"/login\?aviso=registrado$"))
        expect(page.locator(".notice")).to_have_text(
            "Su usuario fue registrado. Ya puede ingresar al portal."
        )
        self.sees("registrado", "Ingreso", "Ingreso al portal en línea")

    def change_password(self, current, new, label="Contraseña actual"):
        """MANUAL 4: Cambiar contraseña, with a message confirming the change."""
        page = self.page
        if current is not None:  # after a login with the temporary code it is not asked
            page.get_by_label(label).fill(current)
        page.get_by_label("Nueva contraseña", exact=True).fill(new)
        page.get_by_label("Repita la nueva contraseña").fill(new)
        self.click(page.locator("main").get_by_role("button", name="Cambiar contraseña"))
        expect(page.locator(".notice")).to_contain_text("Su contraseña fue cambiada correctamente.")
        self.sees("contrasena-cambiada", "Cambiar contraseña")

    def menu(self, name):
        """Follow a link of the main menu (on a phone, behind the "Menú" button)."""
        toggle = self.page.locator("#menu-toggle")
        if toggle.is_visible() and toggle.get_attribute("aria-expanded") != "true":
            toggle.click()
        nav = self.page.get_by_role("navigation", name="Menú principal")
        self.click(nav.get_by_role("link", name=name, exact=True))

    def position(self, member_line):
        page = self.page
        self.sees("posicion", "Posición consolidada")
        expect(page.locator("main")).to_contain_text(member_line)
        totals = page.locator("#position-totals")
        for label in ("Ahorros", "Plazo fijo", "Total activos", "Saldo de créditos"):
            expect(totals.locator(".kpi", has_text=label).locator("b")).to_have_text(
                re.compile(f"^{MONEY}$")
            )
        expect(totals.locator(".kpi", has_text="Posición neta").locator("b")).to_have_text(
            re.compile(rf"^-?{MONEY}$")
        )
        expect(page.locator("#position-unavailable")).to_have_count(0)
        return totals

    def position_report(self, member_name):
        """1.2 Reporte: the consolidated position as a PDF."""
        name, text = self.download(self.page.get_by_role("link", name="Descargar PDF"))
        assert name.endswith(".pdf") and "posicion" in name.lower(), name
        assert "Posición consolidada" in text and member_name in text, text[:400]

    def statement(self, account, days, member_name):
        """1.3 Estado de cuenta: account, start date, cut-off date, Procesar; 1.4 Descargar."""
        page = self.page
        self.menu("Estado de cuenta")
        self.sees("estado-de-cuenta", "Estado de cuenta")
        today = CLOCK.today()
        start = today - timedelta(days=days)
        page.get_by_label("Cuenta").select_option(account)
        page.get_by_label("Fecha de inicio").fill(start.isoformat())
        page.get_by_label("Fecha de corte").fill(today.isoformat())
        self.click(page.get_by_role("button", name="Procesar"))
        self.sees("estado-de-cuenta-procesado", "Estado de cuenta")
        result = page.locator("#statement")
        expect(result).to_contain_text(f"Del {start:%d/%m/%Y} al {today:%d/%m/%Y}")
        for kpi in ("#opening-balance", "#total-credits", "#total-debits", "#closing-balance"):
            expect(page.locator(kpi)).to_have_text(re.compile(f"^{MONEY}$"))
        rows = page.locator("#movements tbody tr")
        assert rows.count() > 0
        first = rows.first.locator("td")
        expect(first.first).to_have_text(re.compile(f"^{DATE}$"))
        expect(first.last).to_have_text(re.compile(rf"^-?{MONEY}$"))
        closing = page.locator("#closing-balance").inner_text()
        name, text = self.download(page.get_by_role("link", name="Descargar PDF"))
        assert name == f"estado-de-cuenta-{account}-{start}-{today}.pdf", name
        assert account in text and member_name in text, text[:400]
        assert f"del {start:%d/%m/%Y} al {today:%d/%m/%Y}" in text, text[:600]
        assert closing in text, (closing, text[-600:])

    def simulate_loan(self, product, amount, term, system, frequency, rows):
        """2.2 Simulación de créditos: every field, Proyectar, the projected table."""
        page = self.page
        self.menu("Simulación de créditos")
        self.sees("simulacion-credito", "Simulación de créditos")
        fill_loan(page, product, amount, term, system, frequency)
        self.click(page.get_by_role("button", name="Proyectar"))
        expect(page.get_by_role("heading", name="Tabla de amortización presuntiva")).to_be_visible()
        table = page.locator("table.schedule")
        expect(table.locator("tbody tr")).to_have_count(rows)
        expect(table.locator("tbody tr").first.locator("td").nth(1)).to_have_text(
            re.compile(f"^{DATE}$")
        )
        expect(table.locator("tbody tr").last.locator("td").last).to_have_text("$ 0,00")
        expect(table.locator("tfoot")).to_contain_text("Totales")
        self.sees("simulacion-credito-proyectada", "Simulación de créditos")

    def apply_for_loan(self, guarantor_id, guarantor_name, rows):
        """2.3 Solicitud: every field, Proyectar, the table before Grabar; Grabar saves it."""
        page = self.page
        self.menu("Solicitud de crédito")
        self.sees("solicitud-credito", "Solicitud de crédito")
        fill_loan(page, "CONSUMO", "3000", "12", "french", "monthly")
        page.get_by_label("Destino del crédito").fill("Mejoras en la vivienda")
        page.get_by_label("Ingresos mensuales (USD)").fill("1800")
        page.get_by_label("Gastos mensuales (USD)").fill("700")
        page.get_by_label("Cédula del garante 1").fill(guarantor_id)
        page.get_by_label("Nombre del garante 1").fill(guarantor_name)
        expect(page.get_by_role("button", name="Grabar")).to_have_count(0)
        self.click(page.get_by_role("button", name="Proyectar"))
        expect(page.locator("table.schedule tbody tr")).to_have_count(rows)
        self.sees("solicitud-credito-proyectada", "Solicitud de crédito")
        self.click(page.get_by_role("button", name="Grabar"))
        notice = page.locator("#application-created")
        expect(notice).to_contain_text(re.compile(r"Su solicitud SC-\d{4}-\d{6} fue registrada"))
        expect(notice).to_contain_text("ingresada")
        number = re.search(r"SC-\d{4}-\d{6}", notice.inner_text()).group(0)
        row = page.locator("table tbody tr", has_text=number)
        expect(row).to_contain_text("$ 3.000,00")
        expect(row).to_contain_text("12 meses")
        expect(row.locator("td").nth(1)).to_have_text(re.compile(f"^{DATE}"))
        self.sees("solicitudes", "Mis solicitudes de crédito")

    def simulate_deposit(self, amount, days, payment, payments, interest):
        """3.1 Simulación de plazo fijo: every field, Proyectar."""
        page = self.page
        self.menu("Simulación de plazo fijo")
        self.sees("simulacion-plazo-fijo", "Simulación de plazo fijo")
        page.get_by_label("Monto (USD)").fill(amount)
        page.get_by_label("Plazo (días)").fill(days)
        page.get_by_label("Pago de interés").select_option(payment)
        expect(page.get_by_label("Fecha de inicio")).to_have_value(CLOCK.today().isoformat())
        self.click(page.get_by_role("button", name="Proyectar"))
        projection = page.locator("section.projection")
        expect(projection.get_by_role("heading", name="Proyección")).to_be_visible()
        expect(projection.locator("table.payments tbody tr")).to_have_count(payments)
        expect(page.locator("#projection-interest")).to_have_text(interest)
        expect(page.locator("#projection-net")).to_have_text(re.compile(f"^{MONEY}$"))
        self.sees("simulacion-plazo-fijo-proyectada", "Simulación de plazo fijo")


# -- the journeys (each runs in a child process: run_story("module:function", base, size=...)) --


def whole_manual(page, base, size):
    """Ana, who has no user yet, goes through every section of the manual."""
    j = Journey(page, base, size, "00-manual-completo")
    p = page
    j.register(ANA)
    j.log_in(ANA["username"], ANA["password"], ANA["display_name"])

    # 1.1 Posición consolidada and 1.2 its report
    totals = j.position("Socio N.º 100781")
    expect(totals.locator(".kpi", has_text="Plazo fijo").locator("b")).to_have_text("$ 10.000,00")
    expect(totals.locator(".kpi", has_text="Saldo de créditos").locator("b")).to_have_text("$ 0,00")
    expect(p.locator("#savings")).to_contain_text("4100781001")
    expect(p.locator("#deposits")).to_contain_text("DPF-100781-01")
    expect(p.locator("#loans")).to_contain_text("No posee créditos vigentes")
    j.position_report("Ana")

    # 1.3 and 1.4 Estado de cuenta and its download
    j.statement("4100781001", 120, "Ana")

    # 2.1 Tabla de amortización: she has no active loan
    j.menu("Tabla de amortización")
    j.sees("creditos", "Tabla de amortización")
    expect(p.locator("#no-loans")).to_have_text("No posee créditos vigentes")

    # 2.2 Simulación, 2.3 Solicitud (Proyectar before Grabar)
    j.simulate_loan("EMERGENTE", "2000", "12", "french", "monthly", rows=12)
    j.apply_for_loan("1712345675", "María Fernanda Pérez Gómez", rows=12)

    # 2.4 Garantías: she guarantees one of maria's loans
    j.menu("Garantías")
    j.sees("garantias", "Garantías")
    expect(p.get_by_text("Sus créditos no registran garantes.")).to_be_visible()
    mine = p.locator("#guaranteed-by-me tbody tr", has_text="CR-100234-02")
    expect(mine).to_contain_text("María")
    expect(mine.locator("td").nth(4)).to_have_text(re.compile(f"^{DATE}$"))

    # 3 Plazo fijo and 3.1 its simulation
    j.menu("Plazo fijo")
    j.sees("plazo-fijo", "Plazo fijo")
    row = p.locator("table.deposits tbody tr", has_text="DPF-100781-01")
    expect(row).to_contain_text("$ 10.000,00")
    expect(row).to_contain_text("Mensual")
    expect(row.locator("td").nth(4)).to_have_text(re.compile(f"^{DATE}$"))
    j.simulate_deposit("10000", "361", "monthly", payments=13, interest="$ 852,32")

    # 4 Opciones de usuario: Cambiar contraseña, then Salir
    j.menu("Cambiar contraseña")
    j.sees("cambiar-contrasena", "Cambiar contraseña")
    j.change_password(ANA["password"], ANA["new_password"])
    j.salir(ANA["display_name"])
    j.log_in(ANA["username"], ANA["new_password"], ANA["display_name"])
    j.position("Socio N.º 100781")
    print("\n".join(f"{path}\t{title}" for path, title in j.pages))


def estado_de_cuenta(page, base, size):
    """MANUAL 1: maria's consolidated position, its report, a statement and its download."""
    j = Journey(page, base, size, "01-estado-de-cuenta")
    p = page
    j.log_in("maria", "Socia-2026!", "María Pérez")
    j.position("Socio N.º 100234")
    for account in ("4100234001", "4100234002", "4100234003"):
        expect(p.locator("#savings")).to_contain_text(account)
    deposit = p.locator("#deposits tbody tr", has_text="DPF-100234-01")
    expect(deposit).to_contain_text("$ 5.000,00")
    expect(deposit.locator("td").nth(3)).to_have_text(re.compile(f"^{DATE}$"))
    overdue = p.locator("#loans tbody tr", has_text="CR-100234-02").locator("td").last
    expect(overdue).to_have_text(re.compile(rf"^1 \(vencida desde {DATE}\)$"))
    expect(p.locator("#due-CR-100234-02")).to_contain_text("Cuota vencida desde")
    expect(p.locator("#loans tbody tr", has_text="CR-100234-01")).to_be_visible()
    j.position_report("María Pérez")
    j.statement("4100234001", 200, "María Pérez")
    # a long statement is paged
    expect(p.locator(".pager")).to_contain_text(re.compile(r"Página 1 de [2-9]"))
    j.click(p.get_by_role("link", name="Siguiente"))
    expect(p.locator(".pager")).to_contain_text("Página 2 de")
    j.sees("estado-de-cuenta-pagina-2", "Estado de cuenta")
    # a start date after the cut-off date is refused in Spanish
    p.get_by_label("Fecha de inicio").fill(CLOCK.today().isoformat())
    p.get_by_label("Fecha de corte").fill((CLOCK.today() - timedelta(days=10)).isoformat())
    j.click(p.get_by_role("button", name="Procesar"))
    expect(p.locator(".field-error, .notice.error").first).to_be_visible()
    expect(p.locator("#statement")).to_have_count(0)
    j.sees("estado-de-cuenta-fechas-invalidas", "Estado de cuenta")


def creditos(page, base, size):
    """MANUAL 2: maria's loans and tables (an overdue installment), simulation, application,
    guarantees; jose has no active loan."""
    j = Journey(page, base, size, "02-creditos")
    p = page
    j.log_in("maria", "Socia-2026!", "María Pérez")
    j.menu("Tabla de amortización")
    j.sees("creditos", "Tabla de amortización")
    loan = p.locator("table tbody tr", has_text="CR-100234-02")
    expect(loan.locator("td").nth(4)).to_have_text(re.compile(f"^{DATE}$"))
    expect(loan.locator("td").nth(5)).to_have_text(re.compile(f"^{MONEY}$"))
    j.click(loan.get_by_role("link", name="Ver tabla"))
    j.sees("credito-CR-100234-02", "Crédito CR-100234-02")
    overdue = p.locator("table.schedule tbody tr.row-vencida")
    expect(overdue).to_have_count(1)
    expect(p.locator("table.schedule tbody tr.row-pagada")).to_have_count(5)
    name, text = j.download(p.get_by_role("link", name="Descargar PDF"))
    assert "CR-100234-02" in name and name.endswith(".pdf"), name
    assert "CR-100234-02" in text and "vencida" in text, text[:400]
    # another member's loan is not hers: the same answer as a loan that does not exist
    j.go("/creditos/CR-101002-01")
    expect(p.locator(".notice.error")).to_be_visible()
    j.sees("credito-ajeno", "Aviso", "Página no encontrada")
    j.click(p.get_by_role("link", name="Volver al inicio"))
    j.position("Socio N.º 100234")
    j.simulate_loan("CONSUMO", "10000", "12", "german", "quarterly", rows=4)
    name, text = j.download(p.get_by_role("link", name="Descargar PDF"))
    assert name == "simulacion-credito.pdf" and "10.000,00" in text, (name, text[:300])
    j.apply_for_loan("1709876542", "Luis Alberto Cárdenas Ruiz", rows=12)
    j.menu("Garantías")
    j.sees("garantias", "Garantías")
    expect(p.locator("#my-guarantors tbody tr", has_text="CR-100234-02")).to_contain_text("Ana")
    expect(p.locator("#my-guarantors tbody tr", has_text="CR-100234-00")).to_contain_text(
        "liberada"
    )
    expect(p.locator("#guaranteed-by-me")).to_contain_text("CR-101002-01")
    j.salir("María Pérez")
    j.log_in("jose", "Socio-2026!", "José Andrade")
    j.menu("Tabla de amortización")
    j.sees("creditos-sin-creditos", "Tabla de amortización")
    expect(p.locator("#no-loans")).to_have_text("No posee créditos vigentes")


def plazo_fijo(page, base, size):
    """MANUAL 3: maria's term deposit and a simulation; jose has none."""
    j = Journey(page, base, size, "03-plazo-fijo")
    p = page
    j.log_in("maria", "Socia-2026!", "María Pérez")
    j.menu("Plazo fijo")
    j.sees("plazo-fijo", "Plazo fijo")
    row = p.locator("table.deposits tbody tr", has_text="DPF-100234-01")
    expect(row).to_contain_text("$ 5.000,00")
    expect(row).to_contain_text("7,00 %")
    expect(row.locator("td").nth(3)).to_have_text(re.compile(f"^{DATE}$"))
    j.simulate_deposit("5000", "180", "maturity", payments=1, interest="$ 175,00")
    expect(p.locator("#projection-withholding")).to_have_text("$ 3,50")
    # wrong amounts are refused in Spanish
    p.get_by_label("Monto (USD)").fill("50")
    j.click(p.get_by_role("button", name="Proyectar"))
    expect(p.get_by_text("El monto mínimo es $ 100,00.")).to_be_visible()
    j.sees("simulacion-plazo-fijo-errores", "Simulación de plazo fijo")
    j.salir("María Pérez")
    j.log_in("jose", "Socio-2026!", "José Andrade")
    j.menu("Plazo fijo")
    j.sees("plazo-fijo-sin-depositos", "Plazo fijo")
    expect(p.get_by_text("No posee plazo fijo")).to_be_visible()


def opciones_de_usuario(page, base, size):
    """MANUAL 6 and 4: Carmen registers (after one refused try), logs in, changes her password
    (a wrong current password is refused), leaves with Salir, and enters with the new one."""
    j = Journey(page, base, size, "04-opciones-de-usuario")
    p = page
    j.register(CARMEN, first_try_wrong=True)
    # the same member cannot register a second user
    j.go("/registro")
    for label, value in {
        "Número de socio": CARMEN["member_number"],
        "Cédula": CARMEN["identification"],
        "Nombre": CARMEN["first_name"],
        "Apellido": CARMEN["last_name"],
        "Correo electrónico registrado": CARMEN["email"],
        "Usuario": "carmen.otra",
    }.items():
        field(p, label).fill(value)
    field(p, "Contraseña").fill(CARMEN["password"])
    p.get_by_label("Repita la contraseña").fill(CARMEN["password"])
    j.click(p.locator("main").get_by_role("button", name="Registrarse"))
    expect(p.locator(".notice.error, .field-error").first).to_be_visible()
    j.sees("registro-repetido", "Registro de socio")

    j.log_in(CARMEN["username"], CARMEN["password"], CARMEN["display_name"])
    j.position("Socio N.º 101245")
    expect(p.locator("#loans")).to_contain_text("No posee créditos vigentes")
    expect(p.locator("#deposits")).to_contain_text("No posee plazo fijo")
    # Opciones de usuario from the tab on her name
    p.locator(".usertab summary").click()
    j.click(p.locator(".usertab").get_by_role("link", name="Cambiar contraseña"))
    j.sees("cambiar-contrasena", "Cambiar contraseña")
    p.get_by_label("Contraseña actual").fill("no-es-la-clave")
    p.get_by_label("Nueva contraseña", exact=True).fill(CARMEN["new_password"])
    p.get_by_label("Repita la nueva contraseña").fill(CARMEN["new_password"])
    j.click(p.locator("main").get_by_role("button", name="Cambiar contraseña"))
    expect(p.locator(".field-error, .notice.error").first).to_be_visible()
    j.sees("cambiar-contrasena-rechazada", "Cambiar contraseña")
    j.change_password(CARMEN["password"], CARMEN["new_password"])
    j.salir(CARMEN["display_name"])
    # the old password no longer opens a session; the new one does
    p.get_by_label("Usuario").fill(CARMEN["username"])
    p.get_by_label("Contraseña").fill(CARMEN["password"])
    j.click(p.get_by_role("button", name="Ingresar"))
    expect(p.locator(".notice.error")).to_have_text("Usuario o contraseña incorrectos.")
    j.sees("ingreso-rechazado", "Ingreso", "Ingreso al portal en línea")
    j.log_in(CARMEN["username"], CARMEN["new_password"], CARMEN["display_name"])
    j.position("Socio N.º 101245")


def recuperacion(page, base, size, mail_dir):
    """MANUAL 5: maria forgot her password: the code by e-mail (the default), login with it,
    forced change."""
    from tests.e2e.test_auth_browser import code_from_mail

    j = Journey(page, base, size, "05-recuperacion")
    p = page
    j.go("/login")
    p.get_by_label("Usuario").fill("maria")
    j.click(p.get_by_role("link", name="¿Olvidó su contraseña?"))
    j.sees("recuperar", "Recuperación de contraseña")
    # data that do not match: the same neutral answer, no code
    p.get_by_label("Usuario").fill("maria")
    p.get_by_label("Correo electrónico registrado").fill("otra@example.com")
    p.get_by_label("Número de socio").fill("100234")
    j.click(p.get_by_role("button", name="Recuperar"))
    expect(p.locator("#codigo-temporal")).to_have_count(0)
    j.sees("recuperar-sin-coincidencia", "Recuperación de contraseña")

    j.go("/recuperar")
    p.get_by_label("Usuario").fill("maria")
    p.get_by_label("Correo electrónico registrado").fill("maria.perez@example.com")
    p.get_by_label("Número de socio").fill("100234")
    j.click(p.get_by_role("button", name="Recuperar"))
    expect(p.locator(".notice")).to_contain_text("m***@example.com")
    j.sees("recuperar-codigo", "Recuperación de contraseña")
    code = code_from_mail(mail_dir, "maria.perez@example.com")
    j.click(p.get_by_role("link", name="Ir al ingreso"))
    p.get_by_label("Usuario").fill("maria")
    p.get_by_label("Contraseña").fill(code)
    j.click(p.get_by_role("button", name="Ingresar"))
    expect(p).to_have_url(re.compile(r"/opciones/cambiar-contrasena$"))
    expect(p.locator(".notice.warning")).to_contain_text("cambie su contraseña")
    expect(p.get_by_role("navigation", name="Menú principal")).to_have_count(0)
    j.sees("cambio-obligatorio", "Cambiar contraseña")
    j.change_password(None, "Laguna-Quilotoa-2026")
    j.salir("María Pérez")
    j.log_in("maria", "Laguna-Quilotoa-2026", "María Pérez")
    j.position("Socio N.º 100234")


FOCUSED = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  return {tag: el.tagName.toLowerCase(), id: el.id, text: (el.innerText || el.value || '').trim(),
          name: el.getAttribute('name'), href: el.getAttribute('href'),
          visible: box.width > 0 && box.height > 0 && box.bottom > 0 && box.top < innerHeight,
          outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
          shadow: style.boxShadow !== 'none', focusVisible: el.matches(':focus-visible')};
}"""


def tab_to(page, predicate, limit=40):
    """Press Tab until the focused element satisfies `predicate`; it must show its focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if predicate(focused):
            assert focused["visible"], f"focused but not on screen: {focused}"
            assert focused["focusVisible"] and (focused["outline"] or focused["shadow"]), (
                f"no visible focus indicator: {focused}"
            )
            return focused
    raise AssertionError(f"Tab never reached the element; last focused: {focused}")


def keyboard(page, base, size):
    """Only the keyboard: skip link, the login form, the menu, the tab on the name and Salir."""
    j = Journey(page, base, size, "06-teclado")
    p = page
    j.go("/login")
    first = tab_to(p, lambda f: True, limit=1)
    assert first["text"] == "Saltar al contenido", first
    j.sees("ingreso-salto-visible", "Ingreso", "Ingreso al portal en línea")
    p.keyboard.press("Enter")
    assert p.evaluate("document.activeElement.id") == "contenido"
    tab_to(p, lambda f: f["id"] == "username", limit=3)
    p.keyboard.type("maria")
    tab_to(p, lambda f: f["id"] == "password", limit=1)
    p.keyboard.type("Socia-2026!")
    with p.expect_navigation():
        p.keyboard.press("Enter")
    if p.url.startswith(j.base + "/login/codigo"):
        # the code page: its field has the focus; the code typed, Enter sends it
        from tests.helpers import emailed_code

        reference = p.locator("#challenge-reference").inner_text().strip()
        assert p.evaluate("document.activeElement.id") == "code"
        p.keyboard.type(emailed_code(None, j.base, reference=reference))
        with p.expect_navigation():
            p.keyboard.press("Enter")
    j.sees("posicion", "Posición consolidada")

    # the main menu: every link reachable, Enter follows it (on a phone behind "Menú")
    if p.locator("#menu-toggle").is_visible():
        tab_to(p, lambda f: f["id"] == "menu-toggle", limit=4)
        p.keyboard.press("Enter")
        expect(p.locator("#menu-toggle")).to_have_attribute("aria-expanded", "true")
    focused = tab_to(p, lambda f: f["text"] == "Simulación de créditos")
    assert focused["href"] == "/creditos/simulacion", focused
    with p.expect_navigation():
        p.keyboard.press("Enter")
    j.sees("simulacion-credito", "Simulación de créditos")
    # (on a phone the menu is closed again on the new page: found by its id, not its role)
    current = p.locator("nav#menu [aria-current=page]")
    expect(current).to_have_text("Simulación de créditos")

    # the tab on the member's name: Space opens it, Enter closes and opens it again
    summary = tab_to(p, lambda f: f["tag"] == "summary")
    assert summary["text"].startswith("María Pérez"), summary
    usertab = p.locator("details.usertab")
    p.keyboard.press("Space")
    expect(usertab).to_have_attribute("open", "")
    p.keyboard.press("Enter")
    expect(usertab).not_to_have_attribute("open", "")
    p.keyboard.press("Enter")
    expect(usertab).to_have_attribute("open", "")
    j.sees("pestana-usuario-abierta", "Simulación de créditos")
    tab_to(p, lambda f: f["text"] == "Cambiar contraseña", limit=1)
    tab_to(p, lambda f: f["text"] == "Salir", limit=1)
    with p.expect_navigation():
        p.keyboard.press("Enter")
    expect(p).to_have_url(re.compile(r"/login\?aviso=salida$"))
    assert not [c for c in p.context.cookies() if c["name"] == "portal_session"]


def axe_gate_catches_a_broken_page(page, base, size):
    """The check is no formality: a page without labels, alt text or contrast fails it."""
    from axe_playwright_python.sync_playwright import Axe

    page.set_content(
        '<html lang="es"><head><title>Roto</title></head><body><main><h1>Roto</h1>'
        '<img src="/x.png"><input name="monto"><p style="color:#bbb">Saldo</p></main></body></html>'
    )
    try:
        check_accessibility(page, Axe(), size)
    except AssertionError as failure:
        message = str(failure)
        for rule in ("image-alt", "label", "color-contrast"):
            assert f"{rule}:" in message, message
        print(message)
    else:
        raise AssertionError("axe-core let a page without labels or alt text pass")
