"""Paying a loan's installments online (docs/payments.md, "Loan payments"), on the real broker
with accounts, credit, payments and a stand-in auth over the demo cooperative: maria's loan
CR-100234-02 has its 6th installment overdue and the core's snapshot of yesterday's close.

The quote is credit's, to the cent; a quote that moved is 409 `quote_changed`; the demo core
honours the quote and credit shows the installments paid; a rejection ends the hold once.
"""

from datetime import timedelta
from decimal import Decimal

import eventlet
import pytest

from scripts import broker_users, demo_core
from services.accounts.service import AccountsService
from services.common.errors import NotFound, QuoteChanged, ValidationError
from services.credit.service import CreditService
from services.payments.service import PaymentsService
from tests.conftest import load_demo
from tests.service.core_tools import core_event, core_uri, publish_core
from tests.service.event_tools import wait_until
from tests.service.payments_tools import (
    GOOD_CODE,
    OrderChallengeAuth,
    core_queue,
    requests_received,
)
from tests.service.test_core_inbound_credit import arrears_of, due

D = Decimal
MARIA, JOSE = "100234", "100517"
LOAN = "CR-100234-02"


@pytest.fixture
def portal(service_config, container_factory, rpc_proxy, today):
    load_demo(service_config, today, services=["accounts", "credit"], count=2)
    config = {
        **service_config,
        "CORE_RETRY_DELAYS": "0.2,0.4",
        "CORE_NOT_YET_DELAYS": "0.2,0.4",
    }
    for service in (AccountsService, CreditService, PaymentsService, OrderChallengeAuth):
        container_factory(service, config).start()
    return config, rpc_proxy("accounts"), rpc_proxy("credit"), rpc_proxy("payments")


def savings(accounts):
    """maria's AHORRO_VISTA account as she sees it (balance, available_balance)."""
    return next(a for a in accounts.list_accounts(MARIA) if a["product"] == "AHORRO_VISTA")


def pay(payments, quote, source):
    return payments.create_loan_payment(
        member_number=MARIA,
        loan_number=LOAN,
        from_account=source,
        amount=quote["amount"],
        installment_numbers=quote["installment_numbers"],
        as_of=quote["as_of"],
    )


def confirm(payments, order):
    return payments.confirm_loan_payment(
        member_number=MARIA, order_id=order["payment_id"], method="totp", code=GOOD_CODE
    )


def status(payments, order):
    return payments.get_loan_payment(MARIA, order["payment_id"])["status"]


def test_the_quote_is_the_overdue_installment_and_the_next_with_the_cores_late_interest(
    portal, today
):
    config, _, credit, _ = portal
    rows = credit.get_loan(MARIA, LOAN)["rows"]
    sixth, seventh = rows[5], rows[6]
    assert (sixth["status"], seventh["status"]) == ("vencida", "pendiente")
    snapshot = arrears_of(credit, MARIA, LOAN)  # the demo core's close of yesterday

    quote = credit.loan_payment_quote(MARIA, LOAN)
    assert quote["installment_numbers"] == [6, 7]
    assert quote["installments_amount"] == f"{D(sixth['installment']) + D(seventh['installment'])}"
    assert quote["late_interest"] == snapshot["late_interest"] != "0.00"
    assert quote["other_charges"] == "0.00"
    assert D(quote["amount"]) == (
        D(sixth["installment"]) + D(seventh["installment"]) + D(snapshot["late_interest"])
    )
    assert quote["as_of"] == (today - timedelta(days=1)).isoformat()
    assert quote["due_date"] == sixth["due_date"]
    assert quote["days_overdue"] == snapshot["days_overdue"]

    # a later snapshot with other charges is what the quote reads
    publish_core(config["AMQP_URI"], due(LOAN, today, 40, [6], late="3.05", other_charges="1.50"))
    wait_until(
        lambda: credit.loan_payment_quote(MARIA, LOAN)["as_of"] == today.isoformat(),
        message="the later snapshot",
    )
    moved = credit.loan_payment_quote(MARIA, LOAN)
    assert (moved["late_interest"], moved["other_charges"]) == ("3.05", "1.50")
    assert D(moved["amount"]) == D(quote["installments_amount"]) + D("4.55")

    # another member's loan does not exist for her; in arrears with no figures of the core: 422
    with pytest.raises(NotFound):
        credit.loan_payment_quote(JOSE, LOAN)
    publish_core(config["AMQP_URI"], due(LOAN, today, 0, [], late="0.00", total="0.00"))
    wait_until(lambda: arrears_of(credit, MARIA, LOAN)["due_as_of"] is None, message="cleared")
    with pytest.raises(ValidationError) as refused:
        credit.loan_payment_quote(MARIA, LOAN)
    assert "interés de mora" in refused.value.fields["loan_number"][0]


def test_a_quote_that_moved_is_refused_with_quote_changed(portal, today):
    config, accounts, credit, payments = portal
    source = savings(accounts)
    quote = credit.loan_payment_quote(MARIA, LOAN)
    order = pay(payments, quote, source["account_number"])
    assert order["status"] == "por_confirmar" and order["kind"] == "loan_payment"
    assert (order["amount"], order["installment_numbers"]) == (quote["amount"], [6, 7])
    assert order["late_interest"] == quote["late_interest"]

    # the core's close of today raises the late interest before she types her code
    publish_core(config["AMQP_URI"], due(LOAN, today, 40, [6], late="9.99"))
    wait_until(
        lambda: credit.loan_payment_quote(MARIA, LOAN)["late_interest"] == "9.99",
        message="the new snapshot",
    )
    with pytest.raises(QuoteChanged):
        confirm(payments, order)
    assert status(payments, order) == "anulada"
    assert savings(accounts)["available_balance"] == source["available_balance"]
    with pytest.raises(QuoteChanged):  # the quote she saw before is refused at creation too
        pay(payments, quote, source["account_number"])


def test_the_demo_core_honours_the_quote_and_credit_shows_the_installments_paid(
    portal, monkeypatch, today
):
    config, accounts, credit, payments = portal
    monkeypatch.setenv("CORE_AMQP_URI", core_uri(config["AMQP_URI"]))
    broker_users.declare_requests(config["AMQP_URI"])
    stop = {"now": False}
    core = eventlet.spawn(demo_core.serve, config["AMQP_URI"], stop)
    try:
        source = savings(accounts)
        quote = credit.loan_payment_quote(MARIA, LOAN)
        order = pay(payments, quote, source["account_number"])
        sent = confirm(payments, order)
        assert sent["status"] == "enviada"
        done = wait_until(
            lambda: (
                (p := payments.get_loan_payment(MARIA, order["payment_id"]))["status"]
                == "completada"
                and p
            ),
            message="completada",
        )
        assert done["core_reference"].startswith("DEMO-")
        # the installments are paid, the arrears gone; the account debited and its hold ended
        wait_until(
            lambda: (
                [r["status"] for r in credit.get_loan(MARIA, LOAN)["rows"][5:7]]
                == ["pagada", "pagada"]
            ),
            message="installments paid",
        )
        wait_until(
            lambda: arrears_of(credit, MARIA, LOAN)["days_overdue"] is None, message="arrears"
        )
        assert credit.get_loan(MARIA, LOAN)["overdue_installments"] == 0
        expected = f"{D(source['balance']) - D(quote['amount']):.2f}"
        wait_until(
            lambda: (
                (savings(accounts)["balance"], savings(accounts)["available_balance"])
                == (expected, f"{D(source['available_balance']) - D(quote['amount']):.2f}")
            ),
            message="debited once, hold ended",
        )
        statement = accounts.get_statement(
            MARIA, source["account_number"], today.isoformat(), today.isoformat(), 1, 100
        )
        assert [m["debit"] for m in statement["movements"]][-1] == quote["amount"]
        # the order is in her history with the other orders
        listed = payments.list_orders(MARIA)["transfers"]
        assert [(o["kind"], o["status"]) for o in listed] == [("loan_payment", "completada")]
        assert listed[0]["to_account_masked"] == f"Crédito {LOAN}"
    finally:
        stop["now"] = True
        core.wait()


def test_a_rejection_ends_the_hold_once(portal):
    config, accounts, credit, payments = portal
    core_queue(config["AMQP_URI"])
    source = savings(accounts)
    quote = credit.loan_payment_quote(MARIA, LOAN)
    order = confirm(payments, pay(payments, quote, source["account_number"]))
    held = f"{D(source['available_balance']) - D(quote['amount']):.2f}"
    assert savings(accounts)["available_balance"] == held
    # the core receives the quote she confirmed
    ((key, request),) = wait_until(lambda: requests_received(config["AMQP_URI"]), message="sent")
    assert key == "loan_payment" and request["request_id"] == order["request_id"]
    assert request["data"] == {
        "member_number": MARIA,
        "from_account": source["account_number"],
        "loan_number": LOAN,
        "installment_numbers": [6, 7],
        "amount": quote["amount"],
        "as_of": quote["as_of"],
        "confirmed_with": "totp",
    }
    answer = core_event(
        "request_rejected",
        {
            "request_id": order["request_id"],
            "rejected_at": "2026-03-02T15:00:01Z",
            "reason_code": "monto_invalido",
            "reason": "El valor a pagar del crédito cambió: consulte el valor de hoy.",
        },
    )
    publish_core(config["AMQP_URI"], answer, answer)
    wait_until(lambda: status(payments, order) == "rechazada", message="rechazada")
    wait_until(
        lambda: savings(accounts)["available_balance"] == source["available_balance"],
        message="the hold ended",
    )
    assert accounts.get_hold(order["request_id"])["status"] == "ended"
    assert savings(accounts)["balance"] == source["balance"]
    # a new payment of the loan can be ordered now; ordered again, the first one is void
    again = pay(payments, quote, source["account_number"])
    assert again["status"] == "por_confirmar"
    pay(payments, quote, source["account_number"])
    assert status(payments, again) == "anulada"


def test_the_demo_core_reports_its_last_close_of_every_loan_in_arrears_at_start(
    portal, monkeypatch, today
):
    """`make run`'s core sends `loan_due_updated` at start (and at each day's close): maria's
    loan gets again the snapshot of yesterday's close the bulk load gave, by the demo's rule."""
    config, accounts, credit, payments = portal
    loaded = arrears_of(credit, MARIA, LOAN)
    assert loaded["due_as_of"] == (today - timedelta(days=1)).isoformat()
    # the same close said otherwise (as the core may correct itself): the member sees this one
    publish_core(config["AMQP_URI"], due(LOAN, today - timedelta(days=1), 1, [6], late="0.01"))
    wait_until(lambda: arrears_of(credit, MARIA, LOAN)["late_interest"] == "0.01", message="0.01")
    monkeypatch.setenv("CORE_AMQP_URI", core_uri(config["AMQP_URI"]))
    broker_users.declare_requests(config["AMQP_URI"])
    stop = {"now": False}
    core = eventlet.spawn(demo_core.serve, config["AMQP_URI"], stop)
    try:
        wait_until(lambda: arrears_of(credit, MARIA, LOAN) == loaded, message="the close again")
    finally:
        stop["now"] = True
        core.wait()
