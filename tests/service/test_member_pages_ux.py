"""The member's pages as a member reads them (issue 9): charts with their accessible name and
the data beside them, hints with the product's real ranges, inline errors that keep what was
typed, the way back. Real auth, accounts, credit, deposit and reports behind the gateway."""

import re
from datetime import timedelta
from html import unescape

import pytest

from gateway.web.render import money
from services.credit.service import CreditService
from services.deposit.service import DepositService
from services.reports.service import ReportsService
from tests.conftest import load_demo
from tests.helpers import api_login, bearer, start_auth_stack, start_gateway


@pytest.fixture
def maria(service_config, container_factory, today, http_session):
    start_auth_stack(container_factory, service_config, today)
    load_demo(service_config, today, services=["credit", "deposit"], count=2)
    for cls in (CreditService, DepositService, ReportsService):
        container_factory(cls, service_config).start()
    start_gateway(container_factory, service_config)
    return bearer(api_login(http_session, "maria", "Socia-2026!"))


def csrf_of(page):
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def text_of(html, element_id):
    match = re.search(rf'<(\w+)[^>]*id="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, f"#{element_id} not on the page"
    return unescape(re.sub(r"<[^>]+>", "", match.group(2)))


def tag_of(html, element_id):
    return re.search(rf'<[^>]*id="{element_id}"[^>]*>', html).group(0)


def test_position_shows_its_composition_as_a_chart_with_its_data(maria, http_session):
    totals = http_session.get("/api/v1/position", headers=maria).json()["totals"]
    page = http_session.get("/", headers=maria)
    assert page.status_code == 200
    html = page.text
    assert '<figure class="chart bars" id="position-chart">' in html
    assert 'role="img" aria-labelledby="position-chart-title"' in html
    assert text_of(html, "position-chart-title") == "Composición de su posición"
    assert text_of(html, "position-chart-desc") == (
        f"Ahorros: {money(totals['savings'])}; Plazo fijo: {money(totals['deposits'])}; "
        # maria's certificados de aportación: capital, a bar of their own (API.md 2.x)
        f"Certificados de aportación: {money(totals['shares'])}; "
        f"Saldo de créditos: {money(totals['loans_outstanding'])}."
    )
    assert "Lo que tiene y lo que debe" in text_of(html, "position-chart-caption")
    table = text_of(html, "position-chart-table")
    assert money(totals["savings"]) in table and money(totals["loans_outstanding"]) in table
    # the start page has nothing to go back to; the report says when it is being prepared
    assert 'class="breadcrumb"' not in html
    assert 'data-report="position-report-status"' in html
    assert 'id="position-report-status" role="status" aria-live="polite"' in html


def test_statement_chart_covers_the_whole_range_not_just_the_page(maria, http_session, today):
    frm, to = (today - timedelta(days=200)).isoformat(), today.isoformat()
    whole = http_session.get(
        "/api/v1/accounts/4100234001/statement",
        params={"from": frm, "to": to, "page_size": 500},
        headers=maria,
    ).json()
    page = http_session.get(
        "/estado-de-cuenta",
        params={"cuenta": "4100234001", "desde": frm, "hasta": to, "pagina": 2},
        headers=maria,
    )
    assert page.status_code == 200
    html = page.text
    assert "Página 2 de" in html
    assert text_of(html, "balance-chart-title") == "Saldo de la cuenta 4100234001"
    description = text_of(html, "balance-chart-desc")
    assert f"Saldo inicial {money(whole['opening_balance'])}" in description
    assert f"saldo final {money(whole['closing_balance'])}" in description
    days = {m["date"] for m in whole["movements"]}
    table = html.split('id="balance-chart-table"')[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>(\d\d/\d\d/\d{4})</td>", table)
    assert len(rows) == len(days)
    assert 'class="breadcrumb"' in html and 'aria-current="page">Estado de cuenta' in html
    assert 'data-report="descargar-status"' in html


def test_statement_errors_are_inline_and_keep_the_dates(maria, http_session, today):
    page = http_session.get(
        "/estado-de-cuenta",
        params={"cuenta": "4100234001", "desde": to_iso(today), "hasta": "2020-01-01"},
        headers=maria,
    )
    assert page.status_code == 422
    assert 'aria-invalid="true"' in tag_of(page.text, "desde")
    assert "desde-error" in tag_of(page.text, "desde")
    assert f'value="{to_iso(today)}"' in tag_of(page.text, "desde")
    assert 'value="2020-01-01"' in tag_of(page.text, "hasta")
    assert "Hasta diez años (3.660 días)" in text_of(page.text, "range-hint")


def to_iso(day):
    return day.isoformat()


def test_credit_simulation_hints_errors_and_chart(maria, http_session):
    products = http_session.get("/api/v1/credit/products", headers=maria).json()["products"]
    emergente = next(p for p in products if p["code"] == "EMERGENTE")
    page = http_session.get("/creditos/simulacion", headers=maria)
    for product in products:
        hint = f"Entre {money(product['min_amount'])} y {money(product['max_amount'])}."
        assert f'data-amount-hint="{hint}"' in page.text
        assert f"Hasta {product['max_term_months']} meses" in page.text
    assert 'inputmode="decimal"' in tag_of(page.text, "amount")
    assert 'type="date"' in tag_of(page.text, "start_date")

    form = {
        "csrf_token": csrf_of(page),
        "product_code": "EMERGENTE",
        "amount": "999.999.999,00",
        "term_months": "12",
        "system": "french",
        "frequency": "monthly",
        "start_date": "",
    }
    refused = http_session.post("/creditos/simulacion", data=form, headers=maria)
    assert refused.status_code == 422
    html = refused.text
    # the hint now names the chosen product's real range, the error sits next to the field
    assert text_of(html, "amount-hint").startswith(
        f"Entre {money(emergente['min_amount'])} y {money(emergente['max_amount'])}."
    )
    amount = tag_of(html, "amount")
    assert 'value="999.999.999,00"' in amount and 'aria-invalid="true"' in amount
    assert 'aria-describedby="amount-hint amount-error"' in amount
    assert text_of(html, "amount-error")
    assert 'value="12"' in tag_of(html, "term_months")
    assert re.search(r'<option value="EMERGENTE"[^>]*selected', html)

    projected = http_session.post(
        "/creditos/simulacion", data={**form, "amount": "2.000,00"}, headers=maria
    )
    assert projected.status_code == 200
    html = projected.text
    assert text_of(html, "schedule-chart-title") == "Capital e interés por cuota"
    assert "12 cuotas. Primera cuota: capital $ " in text_of(html, "schedule-chart-desc")
    assert "Capital (línea continua" in html and "Interés (línea discontinua" in html
    assert html.index('id="schedule-chart"') < html.index('<table class="schedule stack">')


def test_deposit_simulation_hints_come_from_the_rate_chart(maria, http_session):
    rates = http_session.get("/api/v1/deposit/rates", headers=maria).json()
    page = http_session.get("/plazo-fijo/simulacion", headers=maria)
    minimum = min(band["min_amount"] for band in rates["bands"])
    assert text_of(page.text, "amount-hint").startswith(f"Mínimo {money(minimum)}.")
    shortest = min(band["min_days"] for band in rates["bands"])
    assert text_of(page.text, "term_days-hint").startswith(f"De {shortest} a ")
    refused = http_session.post(
        "/plazo-fijo/simulacion",
        data={
            "csrf_token": csrf_of(page),
            "amount": "10",
            "term_days": "95",
            "interest_payment": "maturity",
            "start_date": "",
        },
        headers=maria,
    )
    assert refused.status_code == 422
    amount = tag_of(refused.text, "amount")
    assert 'value="10,00"' in amount and 'aria-invalid="true"' in amount
    assert text_of(refused.text, "amount-error")
    assert 'value="95"' in tag_of(refused.text, "term_days")
    assert 'aria-current="page">Simulación de plazo fijo' in refused.text
    assert '<a href="/plazo-fijo">Plazo fijo</a>' in refused.text
