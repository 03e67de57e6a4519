"""Estado de cuenta over the JSON API and the pages: the gateway, accounts and reports for real,
with throwaway auth/credit/deposit services answering on the same broker."""

import io
import re
from datetime import date, timedelta
from decimal import Decimal

import eventlet
import pytest
import requests
from pypdf import PdfReader

from gateway.service import GatewayService
from services.accounts.service import AccountsService
from services.common.clock import CLOCK
from services.common.ecuador_locale import money as shown_money
from services.reports import domain as report_domain
from services.reports.service import ReportsService
from tests.conftest import load_demo
from tests.service.statement_fakes import DEPOSITS, LOANS, FakeAuth, FakeCredit, FakeDeposit

MARIA = {"Authorization": "Bearer tok-maria"}
JOSE = {"Authorization": "Bearer tok-jose"}
POSITION_TIMEOUT = 1.0


@pytest.fixture
def portal(service_config, container_factory, today, monkeypatch):
    """Containers by name; every one started."""
    monkeypatch.setenv("POSITION_TIMEOUT", str(POSITION_TIMEOUT))
    load_demo(service_config, today, services=["accounts"], count=5)
    containers = {}
    for name, cls in (
        ("accounts", AccountsService),
        ("auth", FakeAuth),
        ("credit", FakeCredit),
        ("deposit", FakeDeposit),
        ("reports", ReportsService),
        ("gateway", GatewayService),
    ):
        containers[name] = container_factory(cls, service_config)
        containers[name].start()
    return containers


def money(text):
    return Decimal(text)


def pdf_text(content):
    reader = PdfReader(io.BytesIO(content))
    return [page.extract_text() for page in reader.pages]


def squeeze(text):
    return " ".join(text.split())


# --- consolidated position ------------------------------------------------------------------


def test_position_merges_every_section_with_totals_to_the_cent(portal, http_session, rpc_proxy):
    answer = http_session.get("/api/v1/position", headers=MARIA)
    assert answer.status_code == 200
    body = answer.json()
    assert body["unavailable"] == []
    assert body["member"] == {
        "member_number": "100234",
        "display_name": "María Pérez",
        "identification_masked": "17******75",
    }
    accounts = rpc_proxy("accounts").list_accounts("100234")
    # certificados de aportación (4100234003) are capital: "shares", not savings (API.md 2.x)
    assert [s["account_number"] for s in body["savings"]] == ["4100234001", "4100234002"]
    assert [s["balance"] for s in body["savings"]] == [a["balance"] for a in accounts[:2]]
    certificados = accounts[2]
    assert certificados["product"] == "CERTIFICADOS"
    assert body["shares"] == [
        {
            "account_number": "4100234003",
            "product_name": "Certificados de aportación",
            "balance": certificados["balance"],
        }
    ]
    assert body["deposits"] == DEPOSITS["100234"]
    assert body["loans"] == LOANS["100234"]
    savings = sum(money(a["balance"]) for a in accounts[:2])
    shares = money(certificados["balance"])
    assert shares > 0
    assets = savings + Decimal("5000.00") + shares
    assert body["totals"] == {
        "savings": f"{savings:.2f}",
        "deposits": "5000.00",
        "shares": f"{shares:.2f}",
        "assets": f"{assets:.2f}",
        "loans_outstanding": "11123.44",
        "net": f"{assets - Decimal('11123.44'):.2f}",
    }


def test_position_of_a_member_without_loans_or_deposits(portal, http_session):
    body = http_session.get("/api/v1/position", headers=JOSE).json()
    assert body["loans"] == [] and body["deposits"] == [] and body["unavailable"] == []
    assert [s["account_number"] for s in body["savings"]] == ["4100517001"]
    assert body["totals"]["net"] == body["totals"]["savings"] == body["totals"]["assets"]
    assert body["totals"]["loans_outstanding"] == "0.00"


def test_deposit_service_stopped_leaves_the_rest_filled(portal, http_session):
    portal["deposit"].stop()
    # bounded by the position's deadline: past it (and a margin) the request gives up and fails
    answer = http_session.get("/api/v1/position", headers=MARIA, timeout=POSITION_TIMEOUT + 3)
    assert answer.status_code == 200
    body = answer.json()
    assert body["unavailable"] == ["deposits"]
    assert len(body["savings"]) == 2 and len(body["shares"]) == 1 and len(body["loans"]) == 2
    assert body["deposits"] == []
    assert body["totals"]["loans_outstanding"] == "11123.44"
    assert money(body["totals"]["savings"]) > 0
    assert body["totals"]["deposits"] is None and body["totals"]["net"] is None

    page = http_session.get("/", cookies={"portal_session": "tok-maria"})
    assert page.status_code == 200
    assert "no pudimos consultar" in page.text and "depósitos a plazo fijo" in page.text
    assert "4100234001" in page.text and "CR-100234-01" in page.text


def test_members_asking_at_once_each_get_their_own_position(portal, http_session):
    """Positions asked at the same moment go to the services together (gateway/coalesce.py);
    each member still gets only their own."""
    FakeCredit.batches.clear()
    own = {"tok-maria": "100234", "tok-jose": "100517"}
    asks = ["tok-maria", "tok-jose"] * 10

    def position(token):
        headers = {"Authorization": f"Bearer {token}"}
        url = http_session.base_url + "/api/v1/position"
        return token, requests.get(url, headers=headers, timeout=15)

    for token, answer in eventlet.GreenPool(20).imap(position, asks):
        body, number = answer.json(), own[token]
        assert body["member"]["member_number"] == number and body["unavailable"] == []
        loans = [loan["loan_number"] for loan in LOANS.get(number, [])]
        assert [loan["loan_number"] for loan in body["loans"]] == loans
        deposits = [d["deposit_number"] for d in DEPOSITS.get(number, [])]
        assert [d["deposit_number"] for d in body["deposits"]] == deposits
        assert {s["account_number"][1:7] for s in body["savings"]} == {number}
    # fewer calls than positions: some went together
    assert len(FakeCredit.batches) < len(asks) and max(map(len, FakeCredit.batches)) > 1


def test_position_needs_a_session(portal, http_session):
    answer = http_session.get("/api/v1/position")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthenticated"
    page = http_session.get("/", allow_redirects=False)
    assert page.status_code in (302, 303) and page.headers["Location"].endswith("/login")


def test_position_pdf_has_the_sections_and_totals(portal, http_session):
    body = http_session.get("/api/v1/position", headers=MARIA).json()
    answer = http_session.get("/api/v1/position.pdf", headers=MARIA)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/pdf"
    text = squeeze(" ".join(pdf_text(answer.content)))
    assert "Cooperativa de Ahorro y Crédito Andina" in text
    assert "Posición consolidada" in text and "María Pérez" in text
    assert "DPF-100234-01" in text and "CR-100234-02" in text
    for key in ("savings", "shares", "assets", "net"):
        assert report_domain.money(body["totals"][key]) in text
    assert "Certificados de aportación" in text and "4100234003" in text
    # the certificados have their own section, after the savings' total
    assert text.index("Total ahorros") < text.index("Total certificados de aportación")
    assert "Página 1 de 1" in text


# --- accounts and statements ----------------------------------------------------------------


def test_accounts_of_the_session_member_only(portal, http_session):
    body = http_session.get("/api/v1/accounts", headers=JOSE).json()
    assert [a["account_number"] for a in body["accounts"]] == ["4100517001"]
    assert set(body["accounts"][0]) >= {
        "account_number",
        "product",
        "product_name",
        "balance",
        "available_balance",
        "status",
        "opened_on",
    }


def test_certificados_de_aportacion_are_listed_with_nothing_available(portal, http_session):
    body = http_session.get("/api/v1/accounts", headers=MARIA).json()
    by_number = {a["account_number"]: a for a in body["accounts"]}
    assert list(by_number) == ["4100234001", "4100234002", "4100234003"]
    certificados = by_number["4100234003"]
    assert certificados["product"] == "CERTIFICADOS"
    assert money(certificados["balance"]) > 0
    assert certificados["available_balance"] == "0.00"
    savings = by_number["4100234001"]
    assert savings["available_balance"] == savings["balance"]  # savings keep theirs


def test_position_page_shows_the_certificados_apart_from_savings(portal, http_session):
    page = http_session.get("/", cookies={"portal_session": "tok-maria"}).text
    savings = page[page.index('<section id="savings">') : page.index('<section id="shares">')]
    shares = page[page.index('<section id="shares">') : page.index('<section id="deposits">')]
    assert "4100234001" in savings and "4100234003" not in savings
    assert "Certificados de aportación" in shares and "4100234003" in shares


def test_statement_defaults_to_the_current_month(portal, http_session, today):
    body = http_session.get("/api/v1/accounts/4100234001/statement", headers=MARIA).json()
    assert body["from"] == today.replace(day=1).isoformat()
    assert body["to"] == today.isoformat()
    assert body["page"] == 1 and body["page_size"] == 100


def test_statement_balances_are_consistent_over_the_range_and_across_pages(
    portal, http_session, today
):
    params = {"from": (today - timedelta(days=365)).isoformat(), "to": today.isoformat()}
    url = "/api/v1/accounts/4100234001/statement"
    first = http_session.get(url, params={**params, "page_size": 40}, headers=MARIA).json()
    assert first["total_movements"] > 200 and first["total_pages"] > 5
    opening, closing = money(first["opening_balance"]), money(first["closing_balance"])
    credits, debits = money(first["total_credits"]), money(first["total_debits"])
    assert opening + credits - debits == closing
    running, seen = opening, 0
    for page in range(1, first["total_pages"] + 1):
        body = http_session.get(
            url, params={**params, "page": page, "page_size": 40}, headers=MARIA
        ).json()
        assert body["opening_balance"] == first["opening_balance"]
        assert body["total_debits"] == first["total_debits"]
        for movement in body["movements"]:
            running += money(movement["credit"]) - money(movement["debit"])
            assert money(movement["balance"]) == running
            seen += 1
    assert seen == first["total_movements"]
    assert running == closing


def test_statement_newest_first_is_the_same_statement_read_backwards(portal, http_session, today):
    url = "/api/v1/accounts/4100234001/statement"
    params = {"from": (today - timedelta(days=90)).isoformat(), "to": today.isoformat()}
    oldest = http_session.get(url, params={**params, "page_size": 500}, headers=MARIA).json()
    newest = http_session.get(
        url, params={**params, "page_size": 500, "order": "desc"}, headers=MARIA
    ).json()
    assert oldest["total_movements"] > 10
    assert newest["movements"] == oldest["movements"][::-1]
    for key in ("opening_balance", "closing_balance", "total_debits", "total_credits"):
        assert newest[key] == oldest[key]
    # page 1 newest first holds the latest movements, the latest of all on top
    first = http_session.get(
        url, params={**params, "page_size": 5, "order": "desc"}, headers=MARIA
    ).json()
    assert first["movements"] == oldest["movements"][-1:-6:-1]
    assert first["movements"][0]["balance"] == oldest["closing_balance"]


def test_another_members_account_is_404_like_a_missing_one(portal, http_session):
    url = "/api/v1/accounts/{}/statement"
    theirs = http_session.get(url.format("4100517001"), headers=MARIA)
    missing = http_session.get(url.format("4999999999"), headers=MARIA)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()
    assert theirs.json()["error"]["code"] == "not_found"
    pdf = http_session.get("/api/v1/accounts/4100517001/statement.pdf", headers=MARIA)
    assert pdf.status_code == 404


def _days(n):
    return (CLOCK.today() - timedelta(days=n)).isoformat()


@pytest.mark.parametrize(
    "params, field, message",
    [
        (
            {"from": _days(5), "to": _days(10)},
            "from",
            "La fecha de inicio debe ser anterior o igual a la fecha de corte.",
        ),
        (
            {"from": _days(3662), "to": _days(1)},
            "to",
            "El rango no puede superar diez años (3.660 días).",
        ),
        ({"from": "2026-13-01"}, "from", "Fecha inválida: use el formato AAAA-MM-DD."),
        ({"page_size": "501"}, "page_size", "Debe estar entre 1 y 500."),
        ({"page": "0"}, "page", "Debe ser 1 o mayor."),
        ({"page": "dos"}, "page", "Debe ser un número entero."),
        (
            {"order": "newest"},
            "order",
            "Use asc (los más antiguos primero) o desc (los más recientes primero).",
        ),
    ],
)
def test_bad_statement_queries_are_422_in_spanish(portal, http_session, params, field, message):
    answer = http_session.get("/api/v1/accounts/4100234001/statement", params=params, headers=MARIA)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "validation_error"
    assert error["fields"][field] == [message]


def test_future_dates_are_refused(portal, http_session, today):
    tomorrow = (today + timedelta(days=1)).isoformat()
    answer = http_session.get(
        "/api/v1/accounts/4100234001/statement",
        params={"from": today.isoformat(), "to": tomorrow},
        headers=MARIA,
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["fields"]["to"] == ["La fecha de corte no puede ser futura."]


def test_statement_pdf_holds_every_movement_header_totals_and_page_numbers(
    portal, http_session, today
):
    params = {"from": (today - timedelta(days=365)).isoformat(), "to": today.isoformat()}
    body = http_session.get(
        "/api/v1/accounts/4100234001/statement",
        params={**params, "page_size": 500},
        headers=MARIA,
    ).json()
    answer = http_session.get(
        "/api/v1/accounts/4100234001/statement.pdf", params=params, headers=MARIA
    )
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/pdf"
    assert "attachment" in answer.headers["Content-Disposition"]
    pages = pdf_text(answer.content)
    assert len(pages) > 2
    for number, text in enumerate(pages, start=1):
        assert f"Página {number} de {len(pages)}" in text
    text = squeeze("\n".join(pages))
    assert "Cooperativa de Ahorro y Crédito Andina" in text
    assert "Estado de cuenta" in text and "María Pérez" in text and "4100234001" in text
    frm, to = date.fromisoformat(params["from"]), date.fromisoformat(params["to"])
    assert f"del {frm:%d/%m/%Y} al {to:%d/%m/%Y}" in text
    assert f"Saldo inicial: {report_domain.money(body['opening_balance'])}" in text
    assert f"Total débitos: {report_domain.money(body['total_debits'])}" in text
    assert f"Total créditos: {report_domain.money(body['total_credits'])}" in text
    assert f"{report_domain.money(body['closing_balance'])}" in text.split("Saldo final")[-1]
    assert len(body["movements"]) == body["total_movements"]
    for movement in body["movements"]:
        for line in report_domain.movement_lines(movement):
            assert squeeze(line) in text


# --- pages ----------------------------------------------------------------------------------


def test_statement_page_processes_the_chosen_account_and_range(portal, http_session, today):
    cookies = {"portal_session": "tok-maria"}
    form_page = http_session.get("/estado-de-cuenta", cookies=cookies)
    assert form_page.status_code == 200
    assert "4100234001" in form_page.text and "4100517001" not in form_page.text
    assert f'value="{today.replace(day=1).isoformat()}"' in form_page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form_page.text).group(1)
    seed = http_session.cookies.get("portal_csrf") or form_page.cookies.get("portal_csrf")
    frm = (today - timedelta(days=200)).isoformat()
    answer = http_session.post(
        "/estado-de-cuenta",
        data={"cuenta": "4100234001", "desde": frm, "hasta": today.isoformat(), "csrf_token": csrf},
        cookies={**cookies, "portal_csrf": seed},
    )
    assert answer.status_code == 200
    assert "Saldo inicial" in answer.text and "Saldo final" in answer.text
    assert "Página 1 de" in answer.text and "Descargar" in answer.text
    refused = http_session.post(
        "/estado-de-cuenta",
        data={"cuenta": "4100234001", "desde": frm, "hasta": today.isoformat()},
        cookies=cookies,
    )
    assert refused.status_code == 400
    assert "Saldo inicial" not in refused.text


def test_statement_page_shows_the_latest_movements_first(portal, http_session, today):
    cookies = {"portal_session": "tok-maria"}
    frm = (today - timedelta(days=200)).isoformat()
    page = http_session.get(
        "/estado-de-cuenta",
        params={"cuenta": "4100234001", "desde": frm, "hasta": today.isoformat()},
        cookies=cookies,
    )
    assert page.status_code == 200
    shown = [
        date(int(y), int(m), int(d))
        for d, m, y in re.findall(r'data-label="Fecha">(\d\d)/(\d\d)/(\d{4})<', page.text)
    ]
    latest = http_session.get(
        "/api/v1/accounts/4100234001/statement",
        params={"from": frm, "to": today.isoformat(), "order": "desc", "page_size": 1},
        headers=MARIA,
    ).json()["movements"][0]
    assert len(shown) == 50  # a full page
    assert shown == sorted(shown, reverse=True)
    assert shown[0] == date.fromisoformat(latest["date"])
    assert "Los movimientos más recientes primero" in page.text


def test_statement_page_shows_date_rules_in_spanish(portal, http_session, today):
    answer = http_session.get(
        "/estado-de-cuenta",
        params={"cuenta": "4100234001", "desde": today.isoformat(), "hasta": "2020-01-01"},
        cookies={"portal_session": "tok-maria"},
    )
    assert answer.status_code == 422
    assert "La fecha de inicio debe ser anterior o igual a la fecha de corte." in answer.text


def test_statement_download_from_the_page(portal, http_session, today):
    answer = http_session.get(
        "/estado-de-cuenta/reporte",
        params={"cuenta": "4100517001", "desde": (today - timedelta(days=90)).isoformat()},
        cookies={"portal_session": "tok-jose"},
    )
    assert answer.status_code == 200 and answer.content.startswith(b"%PDF")
    assert "José Andrade" in pdf_text(answer.content)[0]


# --- against the real deposit service -------------------------------------------------------


@pytest.fixture
def with_real_deposit(service_config, container_factory, today, monkeypatch):
    from services.deposit.service import DepositService

    monkeypatch.setenv("POSITION_TIMEOUT", str(POSITION_TIMEOUT))
    load_demo(service_config, today, services=["accounts", "deposit"], count=5)
    containers = {}
    for name, cls in (
        ("accounts", AccountsService),
        ("auth", FakeAuth),
        ("credit", FakeCredit),
        ("deposit", DepositService),
        ("gateway", GatewayService),
    ):
        containers[name] = container_factory(cls, service_config)
        containers[name].start()
    return containers


def test_position_merges_the_real_deposit_service(with_real_deposit, http_session, rpc_proxy):
    expected = rpc_proxy("deposit").deposits_summary("100234")
    body = http_session.get("/api/v1/position", headers=MARIA).json()
    assert body["unavailable"] == []
    assert [d["deposit_number"] for d in body["deposits"]] == ["DPF-100234-01"]
    assert body["deposits"] == [{k: d[k] for k in body["deposits"][0]} for d in expected]
    assert body["totals"]["deposits"] == "5000.00"
    assert money(body["deposits"][0]["accrued_interest"]) > 0
    with_real_deposit["deposit"].stop()
    body = http_session.get("/api/v1/position", headers=MARIA).json()
    assert body["unavailable"] == ["deposits"]
    assert len(body["savings"]) == 2 and len(body["shares"]) == 1 and len(body["loans"]) == 2


# --- statements a member can use: the CSV and the search (issue 26, item 8) -----------------


def csv_rows(answer):
    """The rows of a statement CSV as a spreadsheet in Ecuador reads it."""
    import csv

    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert 'filename="estado-de-cuenta-' in answer.headers["Content-Disposition"]
    assert answer.content.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM
    text = answer.content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


def es_amount(cell):
    assert "." not in cell  # a decimal comma, no thousands mark
    return Decimal(cell.replace(",", ".")) if cell else Decimal("0.00")


def test_statement_csv_sums_to_the_statements_totals(portal, http_session, today):
    params = {"from": (today - timedelta(days=365)).isoformat(), "to": today.isoformat()}
    url = "/api/v1/accounts/4100234001/statement"
    totals = http_session.get(url, params={**params, "page_size": 1}, headers=MARIA).json()
    header, *rows = csv_rows(http_session.get(url + ".csv", params=params, headers=MARIA))
    assert header == ["Fecha", "Descripción", "Referencia", "Débito", "Crédito", "Saldo"]
    assert len(rows) == totals["total_movements"]
    assert sum(es_amount(r[3]) for r in rows) == money(totals["total_debits"])
    assert sum(es_amount(r[4]) for r in rows) == money(totals["total_credits"])
    assert es_amount(rows[-1][5]) == money(totals["closing_balance"])
    for row in rows:
        assert re.fullmatch(r"\d\d/\d\d/\d{4}", row[0]), row
    theirs = http_session.get(
        "/api/v1/accounts/4100517001/statement.csv", params=params, headers=MARIA
    )
    assert theirs.status_code == 404


def test_statement_page_finds_movements_by_text_and_by_amount(portal, http_session, today):
    cookies = {"portal_session": "tok-maria"}
    frm = (today - timedelta(days=365)).isoformat()
    base = {"cuenta": "4100234001", "desde": frm, "hasta": today.isoformat()}
    _, *movements = csv_rows(
        http_session.get(
            "/api/v1/accounts/4100234001/statement.csv",
            params={"from": frm, "to": today.isoformat()},
            headers=MARIA,
        )
    )
    movement = next(m for m in movements if m[4])
    word = movement[1].split()[0]
    amount = es_amount(movement[4])
    typed = f"{amount:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")  # 1.250,00

    by_amount = http_session.get(
        "/estado-de-cuenta", params={**base, "buscar": typed}, cookies=cookies
    )
    assert by_amount.status_code == 200
    rows = re.findall(r'data-label="Crédito" class="num">([^<]*)<', by_amount.text)
    debits = re.findall(r'data-label="Débito" class="num">([^<]*)<', by_amount.text)
    assert rows and all(shown_money(amount) in (c, d) for c, d in zip(rows, debits, strict=True))
    assert "con «" + typed + "»" in by_amount.text

    by_text = http_session.get(
        "/estado-de-cuenta", params={**base, "buscar": word.upper()}, cookies=cookies
    )
    expected = sum(1 for m in movements if word.casefold() in f"{m[1]} {m[2]}".casefold())
    assert f"{expected} movimiento" in squeeze(by_text.text)
    assert "/estado-de-cuenta/statement.csv?" in by_text.text

    unreadable = http_session.get(
        "/estado-de-cuenta", params={**base, "buscar": "1,250.00"}, cookies=cookies
    )
    assert unreadable.status_code == 422
    assert "Escriba el monto en dólares" in unreadable.text
