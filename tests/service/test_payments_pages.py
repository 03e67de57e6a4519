"""The Transferencias pages on the real broker (docs/pages.md, "Transferencias"): maria moves
money between her own accounts through the form, the code page (the e-mailed code), the order's
page and its receipt, with the demo core answering; an amount typed the es-EC way is that amount
to the cent; a wrong code says how many attempts are left; another member's order is not found.
"""

import io
import re
from decimal import Decimal

import eventlet
import pytest
from pypdf import PdfReader

from scripts import broker_users, demo_core
from services.payments.service import PaymentsService
from services.reports.service import ReportsService
from tests.helpers import csrf_of, emailed_code, start_auth_stack, start_gateway, web_login_post
from tests.service.core_tools import core_uri
from tests.service.event_tools import wait_until

pytestmark = pytest.mark.pg


@pytest.fixture
def pages(service_config, container_factory, http_session, today, monkeypatch):
    start_auth_stack(container_factory, service_config, today, catch_codes=True)
    container_factory(PaymentsService, service_config).start()
    container_factory(ReportsService, service_config).start()
    start_gateway(container_factory, service_config)
    monkeypatch.setenv("CORE_AMQP_URI", core_uri(service_config["AMQP_URI"]))
    broker_users.declare_requests(service_config["AMQP_URI"])
    stop = {"now": False}
    core = eventlet.spawn(demo_core.serve, service_config["AMQP_URI"], stop)
    yield http_session
    stop["now"] = True
    core.wait()


def log_in(session, username, password):
    token = csrf_of(session.get("/login").text)
    answer = web_login_post(
        session,
        data={"csrf_token": token, "username": username, "password": password},
        allow_redirects=False,
    )
    assert answer.status_code in (302, 303), answer.text


def form_accounts(html):
    """(the first AHORRO_VISTA source, another own account as destination) of the form."""
    source = re.search(r'<select id="from_account".*?<option value="(\d+)"', html, re.S).group(1)
    targets = re.findall(r'<option value="c:(\d+)"', html)
    return source, next(t for t in targets if t != source)


def post_transfer(session, source, target, amount):
    page = session.get("/transferencias")
    return session.post(
        "/transferencias",
        data={
            "csrf_token": csrf_of(page.text),
            "from_account": source,
            "destination": f"c:{target}",
            "amount": amount,
            "description": "Ahorro del mes",
        },
        allow_redirects=False,
    )


def reference_of(html):
    return re.search(r'id="challenge-reference">([A-Z0-9]+)<', html).group(1)


def test_a_transfer_between_own_accounts_through_the_pages(pages, rpc_proxy):
    log_in(pages, "maria", "Socia-2026!")
    page = pages.get("/transferencias")
    assert page.status_code == 200 and "Nueva transferencia" in page.text
    source, target = form_accounts(page.text)
    before = {
        a["account_number"]: Decimal(a["available_balance"])
        for a in rpc_proxy("accounts").list_accounts("100234")
    }

    created = post_transfer(pages, source, target, "1.234,56")
    assert created.status_code == 303, created.text
    code_path = created.headers["Location"]
    code_page = pages.get(code_path)
    assert "$ 1.234,56" in code_page.text  # 1.234,56 is one thousand two hundred …, to the cent
    code = emailed_code(None, reference=reference_of(code_page.text))

    wrong = "000000" if code != "000000" else "111111"
    refused = pages.post(
        code_path,
        data={"csrf_token": csrf_of(code_page.text), "method": "email_code", "code": wrong},
    )
    assert refused.status_code == 422
    assert "Le quedan 4 intentos" in refused.text

    confirmed = pages.post(
        code_path,
        data={"csrf_token": csrf_of(refused.text), "method": "email_code", "code": code},
        allow_redirects=False,
    )
    assert confirmed.status_code == 303
    order_path = confirmed.headers["Location"]
    order_id = order_path.rsplit("/", 1)[1]
    after = next(
        a for a in rpc_proxy("accounts").list_accounts("100234") if a["account_number"] == source
    )
    # held, or already debited by the core: either way that much less is available
    assert Decimal(after["available_balance"]) == before[source] - Decimal("1234.56")

    done = wait_until(
        lambda: "Completada" in (text := pages.get(order_path).text) and text,
        timeout=30,
        message="completada through the demo core",
    )
    assert 'http-equiv="refresh"' not in done  # no more refreshing once answered
    steps = re.findall(r"<li><b>([^<]+)</b>: (\d\d/\d\d/\d{4} \d\d:\d\d)</li>", done)
    assert [label for label, _at in steps] == [
        "Ingresada",
        "Confirmada con su código",
        "Enviada a la cooperativa",
        "Completada",
    ]
    assert f"/transferencias/{order_id}/comprobante.pdf" in done
    history = pages.get("/transferencias").text
    assert f'href="/transferencias/{order_id}"' in history

    receipt = pages.get(f"/transferencias/{order_id}/comprobante.pdf")
    assert receipt.status_code == 200
    assert receipt.headers["Content-Type"] == "application/pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(receipt.content)).pages)
    assert "MIL DOSCIENTOS TREINTA Y CUATRO DÓLARES CON 56/100" in text
    assert "1.234,56" in text
    assert source not in text and target not in text  # both accounts masked
    assert "****" + source[-4:] in text

    # another member sees neither the order nor its receipt
    other = type(pages)()
    log_in(other, "jose", "Socio-2026!")
    assert other.get(order_path).status_code == 404
    assert other.get(f"/transferencias/{order_id}/comprobante.pdf").status_code == 404


def test_no_receipt_before_completion_and_a_typed_amount_kept(pages):
    log_in(pages, "maria", "Socia-2026!")
    source, target = form_accounts(pages.get("/transferencias").text)
    unreadable = post_transfer(pages, source, target, "1,234.5")
    assert unreadable.status_code == 422
    assert "1,234.5" in unreadable.text  # shown again as typed, never guessed
    created = post_transfer(pages, source, target, "2,50")
    assert created.status_code == 303
    order_id = created.headers["Location"].split("/")[2]
    order = pages.get(f"/transferencias/{order_id}")
    assert "Por confirmar" in order.text and "$ 2,50" in order.text
    assert pages.get(f"/transferencias/{order_id}/comprobante.pdf").status_code == 404


@pytest.fixture
def loan_pages(service_config, container_factory, today):
    """The pages above with credit (maria's CR-100234-02 has its 6th installment overdue)."""
    from services.credit.service import CreditService
    from tests.conftest import load_demo

    load_demo(service_config, today, services=["credit"], count=2)
    container_factory(CreditService, service_config).start()


def test_pagar_cuota_from_the_loan_page_to_completada(
    pages, loan_pages, rpc_proxy, service_config, today
):
    from tests.service.core_tools import publish_core
    from tests.service.test_core_inbound_credit import due

    log_in(pages, "maria", "Socia-2026!")
    loan_page = pages.get("/creditos/CR-100234-02").text
    assert 'href="/creditos/CR-100234-02/pagar"' in loan_page and "Pagar cuota" in loan_page
    quote = rpc_proxy("credit").loan_payment_quote("100234", "CR-100234-02")
    whole, cents = f"{Decimal(quote['amount']):,.2f}".split(".")
    shown = f"$ {whole.replace(',', '.')},{cents}"  # es-EC
    form = pages.get("/creditos/CR-100234-02/pagar")
    assert form.status_code == 200
    assert (
        "Cuota N° 6" in form.text and "Cuota N° 7" in form.text and "Interés de mora" in form.text
    )
    assert shown in form.text
    source = re.search(r'<select id="from_account".*?<option value="(\d+)"', form.text, re.S)[1]
    data = {
        "csrf_token": csrf_of(form.text),
        "from_account": source,
        "amount": quote["amount"],
        "installment_numbers": "6,7",
        "as_of": quote["as_of"],
    }

    # the core's close moved the late interest after the form was shown: the new figure is shown
    publish_core(service_config["AMQP_URI"], due("CR-100234-02", today, 40, [6], late="9.99"))
    wait_until(
        lambda: (
            rpc_proxy("credit").loan_payment_quote("100234", "CR-100234-02")["late_interest"]
            == "9.99"
        ),
        message="new snapshot",
    )
    moved = pages.post("/creditos/CR-100234-02/pagar", data=data)
    assert moved.status_code == 409 and "cambió" in moved.text and "$ 9,99" in moved.text

    fresh = rpc_proxy("credit").loan_payment_quote("100234", "CR-100234-02")
    created = pages.post(
        "/creditos/CR-100234-02/pagar",
        data={
            **data,
            "csrf_token": csrf_of(moved.text),
            "amount": fresh["amount"],
            "as_of": fresh["as_of"],
        },
        allow_redirects=False,
    )
    assert created.status_code == 303, created.text
    code_page = pages.get(created.headers["Location"])
    assert "Crédito CR-100234-02" in code_page.text
    code = emailed_code(None, reference=reference_of(code_page.text))
    confirmed = pages.post(
        created.headers["Location"],
        data={"csrf_token": csrf_of(code_page.text), "method": "email_code", "code": code},
        allow_redirects=False,
    )
    assert confirmed.status_code == 303
    order_path = confirmed.headers["Location"]
    done = wait_until(
        lambda: "Completada" in (text := pages.get(order_path).text) and text,
        timeout=30,
        message="completada through the demo core",
    )
    assert "El pago se realizó" in done and "Cuotas N° 6, 7" in done
    receipt = pages.get(order_path + "/comprobante.pdf")
    assert receipt.status_code == 200
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(receipt.content)).pages)
    assert "Comprobante de pago de cuota" in text
    assert f'href="{order_path}"' in pages.get("/transferencias").text
    # the loan shows both installments paid and no arrears any more
    wait_until(
        lambda: "loan-arrears" not in pages.get("/creditos/CR-100234-02").text, message="arrears"
    )


def post_limits(session, per_transfer, daily):
    page = session.get("/transferencias/limites")
    return session.post(
        "/transferencias/limites",
        data={
            "csrf_token": csrf_of(page.text),
            "per_transfer": per_transfer,
            "daily_to_others": daily,
        },
        allow_redirects=False,
    )


def test_limits_lowered_at_once_and_raised_once_confirmed_with_the_code(pages):
    log_in(pages, "maria", "Socia-2026!")
    lowered = post_limits(pages, "100", "200,00")
    assert lowered.status_code == 303 and "aviso=limites" in lowered.headers["Location"]

    asked = post_limits(pages, "800,00", "1.500")
    assert asked.status_code == 303, asked.text
    code_path = asked.headers["Location"]
    code_page = pages.get(code_path)
    assert "$ 800,00" in code_page.text and "$ 1.500,00" in code_page.text
    limits = pages.get("/transferencias/limites").text
    assert 'id="limit-per-transfer">$ 100,00<' in limits  # nothing changes before the code

    other = type(pages)()
    log_in(other, "jose", "Socio-2026!")
    assert other.get(code_path).status_code == 404

    code = emailed_code(None, reference=reference_of(code_page.text))
    confirmed = pages.post(
        code_path,
        data={"csrf_token": csrf_of(code_page.text), "method": "email_code", "code": code},
        allow_redirects=False,
    )
    assert confirmed.status_code == 303
    limits = pages.get(confirmed.headers["Location"]).text
    assert "Sus límites subieron desde ahora." in limits
    assert 'id="limit-per-transfer">$ 800,00<' in limits
    assert 'id="limit-daily">$ 1.500,00<' in limits


def test_a_beneficiary_is_confirmed_on_its_code_page(pages, rpc_proxy):
    log_in(pages, "maria", "Socia-2026!")
    page = pages.get("/transferencias")
    added = pages.post(
        "/transferencias/beneficiarios",
        data={
            "csrf_token": csrf_of(page.text),
            "alias": "José",
            "account_number": "4100517001",
            "identification": "0918765439",
        },
        allow_redirects=False,
    )
    assert added.status_code == 303, added.text
    code_path = added.headers["Location"]
    code_page = pages.get(code_path)
    code = emailed_code(None, reference=reference_of(code_page.text))
    wrong = "000000" if code != "000000" else "111111"
    refused = pages.post(
        code_path,
        data={"csrf_token": csrf_of(code_page.text), "method": "email_code", "code": wrong},
    )
    assert refused.status_code == 422 and "Le quedan 4 intentos" in refused.text
    confirmed = pages.post(
        code_path,
        data={"csrf_token": csrf_of(refused.text), "method": "email_code", "code": code},
        allow_redirects=False,
    )
    assert confirmed.status_code == 303
    assert confirmed.headers["Location"] == "/transferencias?aviso=beneficiario"
    [listed] = rpc_proxy("payments").list_beneficiaries("100234")["beneficiaries"]
    assert (listed["alias"], listed["status"]) == ("José", "activo")
    # its code is spent: the page of a confirmed beneficiary sends the member back
    again = pages.get(code_path, allow_redirects=False)
    assert again.status_code in (302, 303) and again.headers["Location"] == "/transferencias"
    # the form's address, reloaded after a refused form, is the list on Transferencias
    reloaded = pages.get("/transferencias/beneficiarios")
    assert reloaded.status_code == 200 and "Mis beneficiarios" in reloaded.text
