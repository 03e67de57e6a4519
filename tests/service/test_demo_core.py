"""The demo core answers the portal's requests as a real core would (docs/payments.md): a
confirmed transfer is completada within seconds, both accounts get the core's movements with the
request_id, and a request sent again is executed once."""

import eventlet
import pytest

from scripts import broker_users, demo_core
from services.accounts.service import AccountsService
from services.payments.service import PaymentsService
from tests.service.core_tools import core_uri, member_with_savings, publish_core
from tests.service.event_tools import wait_until
from tests.service.payments_tools import GOOD_CODE, OrderChallengeAuth
from tests.service.test_payments_saga import MEMBER, SOURCE, TARGET, balances, movement


@pytest.fixture
def portal_with_demo_core(service_config, container_factory, rpc_proxy, monkeypatch):
    # every sweep sends again what the core has not answered yet: the core must execute it once
    config = {
        **service_config,
        "CORE_RETRY_DELAYS": "0.2,0.4",
        "CORE_NOT_YET_DELAYS": "0.2,0.4",
        "CORE_REQUEST_RESEND_SECONDS": "0",
    }
    for service in (AccountsService, PaymentsService, OrderChallengeAuth):
        container_factory(service, config).start()
    monkeypatch.setenv("CORE_AMQP_URI", core_uri(config["AMQP_URI"]))
    broker_users.declare_requests(config["AMQP_URI"])  # what `make run` does at start
    accounts, payments = rpc_proxy("accounts"), rpc_proxy("payments")
    publish_core(
        config["AMQP_URI"],
        *member_with_savings(MEMBER, SOURCE, TARGET),
        movement(SOURCE, 1, credit="100.00", balance="100.00"),
    )
    wait_until(lambda: balances(accounts) == ("100.00", "100.00"), message="deposit applied")
    stop = {"now": False}
    core = eventlet.spawn(demo_core.serve, config["AMQP_URI"], stop)
    yield accounts, payments
    stop["now"] = True
    core.wait()


def test_the_demo_core_completes_a_transfer_once(portal_with_demo_core, today):
    accounts, payments = portal_with_demo_core
    order = payments.create_transfer(
        member_number=MEMBER, from_account=SOURCE, to_account=TARGET, amount="30.00"
    )
    payments.confirm_transfer(
        member_number=MEMBER, order_id=order["transfer_id"], method="totp", code=GOOD_CODE
    )
    payments.sweep()  # the same request again, whatever the core did with the first
    done = wait_until(
        lambda: (
            (t := payments.get_transfer(MEMBER, order["transfer_id"]))["status"] == "completada"
            and t
        ),
        message="completada",
    )
    assert done["core_reference"].startswith("DEMO-")
    wait_until(lambda: balances(accounts) == ("70.00", "70.00"), message="debited, hold ended")
    assert balances(accounts, TARGET) == ("30.00", "30.00")
    payments.sweep()
    assert balances(accounts) == ("70.00", "70.00")
    statement = accounts.get_statement(MEMBER, SOURCE, "2026-01-01", today.isoformat(), 1, 100)
    assert [m["debit"] for m in statement["movements"]] == ["0.00", "30.00"]
