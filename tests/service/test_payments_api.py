"""The transfers' JSON API through the gateway (docs/payments.md): maria orders a transfer
between her accounts, confirms it with the e-mailed code, and sees it enviada with her available
balance lowered; bad input is a 422 in Spanish and changes nothing."""

from decimal import Decimal

import pytest

from services.payments.service import PaymentsService
from tests.helpers import api_login, bearer, emailed_code, start_auth_stack, start_gateway

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

    created = http.post(path, json=body, headers=auth)
    assert created.status_code == 201
    order = created.json()
    assert order["status"] == "por_confirmar" and order["loan_number"] == loan
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
