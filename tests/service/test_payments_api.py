"""The transfers' JSON API through the gateway (docs/payments.md): maria orders a transfer
between her accounts, confirms it with the e-mailed code, and sees it enviada with her available
balance lowered; bad input is a 422 in Spanish and changes nothing."""

import io
from decimal import Decimal

import eventlet
import pytest
from pypdf import PdfReader

from scripts import broker_users, demo_core
from services.payments.service import PaymentsService
from services.reports.service import ReportsService
from tests.helpers import api_login, bearer, emailed_code, start_auth_stack, start_gateway
from tests.service.core_tools import core_uri
from tests.service.event_tools import wait_until

pytestmark = pytest.mark.pg


@pytest.fixture
def api(service_config, container_factory, http_session, today):
    start_auth_stack(container_factory, service_config, today, catch_codes=True)
    container_factory(PaymentsService, service_config).start()
    start_gateway(container_factory, service_config)
    token = api_login(http_session, "maria", "Socia-2026!")
    return http_session, bearer(token)


def test_a_transfer_between_own_accounts_is_ordered_and_confirmed(api):
    http, auth = api
    accounts = http.get("/api/v1/accounts", headers=auth).json()["accounts"]
    source = next(
        a
        for a in accounts
        if a["product"] == "AHORRO_VISTA" and Decimal(a["available_balance"]) > 20
    )
    target = next(
        a
        for a in accounts
        if a["account_number"] != source["account_number"] and a["product"] != "CERTIFICADOS"
    )
    body = {
        "from_account": source["account_number"],
        "to_account": target["account_number"],
        "amount": "15.00",
        "description": "Ahorro del mes",
    }
    refused = http.post("/api/v1/transfers", json={**body, "amount": "0.50"}, headers=auth)
    assert refused.status_code == 422 and "mínimo" in refused.text
    unknown = http.post("/api/v1/transfers", json={**body, "extra": 1}, headers=auth)
    assert unknown.status_code == 422
    assert http.get("/api/v1/transfers", headers=auth).json() == {"transfers": []}

    created = http.post("/api/v1/transfers", json=body, headers=auth)
    assert created.status_code == 201
    order = created.json()
    assert order["status"] == "por_confirmar" and order["kind"] == "propia"
    code = emailed_code(order["confirmation"]["challenge_id"])
    path = f"/api/v1/transfers/{order['transfer_id']}/confirm"
    confirmed = http.post(path, json={"method": "email_code", "code": code}, headers=auth)
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "enviada"
    again = http.post(path, json={"method": "email_code", "code": code}, headers=auth)
    assert again.status_code == 409

    after = next(
        a
        for a in http.get("/api/v1/accounts", headers=auth).json()["accounts"]
        if a["account_number"] == source["account_number"]
    )
    assert Decimal(after["available_balance"]) == Decimal(source["available_balance"]) - 15
    assert after["balance"] == source["balance"]
    limits = http.get("/api/v1/me/limits", headers=auth).json()
    assert limits["used_today"] == "0.00"  # between her own accounts: no limit used
    assert limits["cooperative_max"] == {"per_transfer": "1000.00", "daily_to_others": "2000.00"}


def test_an_idempotency_key_answers_its_first_answer_and_refuses_another_body(api):
    http, auth = api
    accounts = http.get("/api/v1/accounts", headers=auth).json()["accounts"]
    source = next(
        a
        for a in accounts
        if a["product"] == "AHORRO_VISTA" and Decimal(a["available_balance"]) > 20
    )
    target = next(
        a
        for a in accounts
        if a["account_number"] != source["account_number"] and a["product"] != "CERTIFICADOS"
    )
    body = {
        "from_account": source["account_number"],
        "to_account": target["account_number"],
        "amount": "12.34",
    }
    key = {**auth, "Idempotency-Key": "app-7f3a-0001"}
    first = http.post("/api/v1/transfers", json=body, headers=key)
    assert first.status_code == 201
    # the client did not hear the answer and sends it again (its fields in another order)
    again = http.post("/api/v1/transfers", json=dict(reversed(body.items())), headers=key)
    assert again.status_code == 201 and again.json() == first.json()
    other = http.post("/api/v1/transfers", json={**body, "amount": "12.35"}, headers=key)
    assert other.status_code == 409 and other.json()["error"]["code"] == "conflict"
    assert "Idempotency-Key" in other.json()["error"]["message"]
    transfers = http.get("/api/v1/transfers", headers=auth).json()["transfers"]
    assert [t["transfer_id"] for t in transfers] == [first.json()["transfer_id"]]

    # a refused creation keeps nothing under its key: fixed, the same key creates it
    refused = http.post(
        "/api/v1/transfers",
        json={**body, "amount": "0.50"},
        headers={**auth, "Idempotency-Key": "app-7f3a-0002"},
    )
    assert refused.status_code == 422
    fixed = http.post(
        "/api/v1/transfers", json=body, headers={**auth, "Idempotency-Key": "app-7f3a-0002"}
    )
    assert fixed.status_code == 201 and fixed.json()["transfer_id"] != first.json()["transfer_id"]
    bad = http.post("/api/v1/transfers", json=body, headers={**auth, "Idempotency-Key": "a" * 101})
    assert bad.status_code == 422 and "Idempotency-Key" in bad.json()["error"]["fields"]


def test_a_raised_limit_takes_effect_once_confirmed_with_the_code(api):
    http, auth = api
    lowered = http.put(
        "/api/v1/me/limits",
        json={"per_transfer": "100.00", "daily_to_others": "200.00"},
        headers=auth,
    )
    assert lowered.status_code == 200 and lowered.json()["per_transfer"] == "100.00"
    too_high = http.put(
        "/api/v1/me/limits",
        json={"per_transfer": "1000.01", "daily_to_others": "200.00"},
        headers=auth,
    )
    assert too_high.status_code == 422

    asked = http.put(
        "/api/v1/me/limits",
        json={"per_transfer": "800.00", "daily_to_others": "1500.00"},
        headers=auth,
    )
    assert asked.status_code == 201
    change = asked.json()
    assert (change["status"], change["per_transfer"], change["daily_to_others"]) == (
        "por_confirmar",
        "800.00",
        "1500.00",
    )
    limits = http.get("/api/v1/me/limits", headers=auth).json()
    assert (limits["per_transfer"], limits["daily_to_others"]) == ("100.00", "200.00")

    code = emailed_code(change["confirmation"]["challenge_id"])
    path = f"/api/v1/me/limits/changes/{change['change_id']}/confirm"
    jose = bearer(api_login(http, "jose", "Socio-2026!"))
    theirs = http.post(path, json={"method": "email_code", "code": code}, headers=jose)
    assert theirs.status_code == 404  # another member's change: as if it did not exist
    confirmed = http.post(path, json={"method": "email_code", "code": code}, headers=auth)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmada"
    limits = http.get("/api/v1/me/limits", headers=auth).json()
    assert (limits["per_transfer"], limits["daily_to_others"]) == ("800.00", "1500.00")
    again = http.post(path, json={"method": "email_code", "code": code}, headers=auth)
    assert again.status_code == 409


@pytest.fixture
def core(service_config, container_factory, monkeypatch):
    """reports (the receipt's renderer) and the demo core answering the portal's requests."""
    container_factory(ReportsService, service_config).start()
    monkeypatch.setenv("CORE_AMQP_URI", core_uri(service_config["AMQP_URI"]))
    broker_users.declare_requests(service_config["AMQP_URI"])
    stop = {"now": False}
    thread = eventlet.spawn(demo_core.serve, service_config["AMQP_URI"], stop)
    yield
    stop["now"] = True
    thread.wait()


def test_the_receipt_of_a_completed_transfer_is_its_pdf_for_its_member_only(api, core):
    http, auth = api
    accounts = http.get("/api/v1/accounts", headers=auth).json()["accounts"]
    source = next(
        a
        for a in accounts
        if a["product"] == "AHORRO_VISTA" and Decimal(a["available_balance"]) > 20
    )
    target = next(
        a
        for a in accounts
        if a["account_number"] != source["account_number"] and a["product"] != "CERTIFICADOS"
    )
    order = http.post(
        "/api/v1/transfers",
        json={
            "from_account": source["account_number"],
            "to_account": target["account_number"],
            "amount": "12.34",
            "description": "Para la casa",
        },
        headers=auth,
    ).json()
    receipt = f"/api/v1/transfers/{order['transfer_id']}/receipt.pdf"
    before = http.get(receipt, headers=auth)
    assert before.status_code == 404 and before.json()["error"]["code"] == "not_found"

    code = emailed_code(order["confirmation"]["challenge_id"])
    path = f"/api/v1/transfers/{order['transfer_id']}/confirm"
    http.post(path, json={"method": "email_code", "code": code}, headers=auth)
    wait_until(
        lambda: (
            http.get(f"/api/v1/transfers/{order['transfer_id']}", headers=auth).json()["status"]
            == "completada"
        ),
        timeout=30,
        message="completada through the demo core",
    )
    pdf = http.get(receipt, headers=auth)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "DOCE DÓLARES CON 34/100" in text and "12,34" in text
    assert source["account_number"] not in text and target["account_number"] not in text
    assert "****" + source["account_number"][-4:] in text and "Para la casa" in text

    jose = bearer(api_login(http, "jose", "Socio-2026!"))
    theirs = http.get(receipt, headers=jose)
    assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "not_found"


@pytest.fixture
def loan_api(service_config, container_factory, http_session, today):
    from services.credit.service import CreditService
    from tests.conftest import load_demo

    start_auth_stack(container_factory, service_config, today, catch_codes=True)
    load_demo(service_config, today, services=["credit"], count=2)
    for service in (CreditService, PaymentsService):
        container_factory(service, service_config).start()
    start_gateway(container_factory, service_config)
    return http_session, bearer(api_login(http_session, "maria", "Socia-2026!"))


def test_a_loan_payment_is_quoted_ordered_with_the_quote_and_confirmed(loan_api, http_session):
    http, auth = loan_api
    loan = "CR-100234-02"  # her 6th installment overdue since the demo's close
    quote = http.get(f"/api/v1/loans/{loan}/payment", headers=auth).json()
    assert quote["installment_numbers"] == [6, 7] and quote["as_of"] is not None
    source = next(
        a
        for a in http.get("/api/v1/accounts", headers=auth).json()["accounts"]
        if a["product"] == "AHORRO_VISTA"
    )
    body = {
        "from_account": source["account_number"],
        "amount": quote["amount"],
        "installment_numbers": quote["installment_numbers"],
        "as_of": quote["as_of"],
    }
    path = f"/api/v1/loans/{loan}/payments"
    stale = http.post(path, json={**body, "amount": "1.00"}, headers=auth)
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "quote_changed"
    assert "cambió" in stale.json()["error"]["message"]

    keyed = {**auth, "Idempotency-Key": "app-loan-0001"}
    created = http.post(path, json=body, headers=keyed)
    assert created.status_code == 201
    order = created.json()
    assert order["status"] == "por_confirmar" and order["loan_number"] == loan
    # the same key (the Idempotency-Key of every creation): the same payment, no other
    again = http.post(path, json=body, headers=keyed)
    assert again.status_code == 201 and again.json()["payment_id"] == order["payment_id"]
    receipt = f"/api/v1/payments/{order['payment_id']}/receipt.pdf"
    assert http.get(receipt, headers=auth).status_code == 404  # no receipt before completion
    assert order["late_interest"] == quote["late_interest"]
    code = emailed_code(order["confirmation"]["challenge_id"])
    confirm = f"/api/v1/payments/{order['payment_id']}/confirm"
    done = http.post(confirm, json={"method": "email_code", "code": code}, headers=auth)
    assert done.status_code == 200 and done.json()["status"] == "enviada"
    # confirmed and unanswered: no second payment of the loan meanwhile
    assert http.post(path, json=body, headers=auth).status_code == 409
    listed = http.get("/api/v1/payments", headers=auth).json()["payments"]
    assert [p["payment_id"] for p in listed] == [order["payment_id"]]
    assert http.get("/api/v1/transfers", headers=auth).json() == {"transfers": []}

    # jose: maria's loan and her payment do not exist for him
    jose = bearer(api_login(http_session, "jose", "Socio-2026!"))
    assert http.get(f"/api/v1/loans/{loan}/payment", headers=jose).status_code == 404
    assert http.post(path, json=body, headers=jose).status_code == 404
    assert http.get(f"/api/v1/payments/{order['payment_id']}", headers=jose).status_code == 404


def test_the_receipt_of_a_completed_loan_payment_is_its_pdf(loan_api, core):
    http, auth = loan_api
    loan = "CR-100234-02"
    quote = http.get(f"/api/v1/loans/{loan}/payment", headers=auth).json()
    source = next(
        a
        for a in http.get("/api/v1/accounts", headers=auth).json()["accounts"]
        if a["product"] == "AHORRO_VISTA"
    )
    order = http.post(
        f"/api/v1/loans/{loan}/payments",
        json={
            "from_account": source["account_number"],
            "amount": quote["amount"],
            "installment_numbers": quote["installment_numbers"],
            "as_of": quote["as_of"],
        },
        headers=auth,
    ).json()
    code = emailed_code(order["confirmation"]["challenge_id"])
    confirm = f"/api/v1/payments/{order['payment_id']}/confirm"
    http.post(confirm, json={"method": "email_code", "code": code}, headers=auth)
    wait_until(
        lambda: (
            http.get(f"/api/v1/payments/{order['payment_id']}", headers=auth).json()["status"]
            == "completada"
        ),
        timeout=30,
        message="completada through the demo core",
    )
    pdf = http.get(f"/api/v1/payments/{order['payment_id']}/receipt.pdf", headers=auth)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    amount = quote["amount"].replace(".", ",")
    assert "Comprobante de pago de cuota" in text and amount in text and loan in text
    assert source["account_number"] not in text
