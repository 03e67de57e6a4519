"""examples/core_answerer.py, run as a core's team would start it: a plain kombu process as the
core's broker user, answering the portal's requests (docs/integration.md)."""

import json
import subprocess
import sys

import pytest
from kombu import Connection, Producer

from scripts import broker_users
from services.accounts.service import AccountsService
from services.payments.service import PaymentsService
from tests.service.core_tools import core_uri, member_with_savings, publish_core
from tests.service.event_tools import wait_until
from tests.service.payments_tools import GOOD_CODE, PORTAL_REQUESTS, OrderChallengeAuth
from tests.service.test_payments_saga import MEMBER, SOURCE, TARGET, balances, movement


@pytest.fixture
def portal(service_config, container_factory, rpc_proxy):
    for service in (AccountsService, PaymentsService, OrderChallengeAuth):
        container_factory(service, service_config).start()
    broker_users.declare_requests(service_config["AMQP_URI"])
    accounts, payments = rpc_proxy("accounts"), rpc_proxy("payments")
    publish_core(
        service_config["AMQP_URI"],
        *member_with_savings(MEMBER, SOURCE, TARGET),
        movement(SOURCE, 1, credit="100.00", balance="100.00"),
    )
    wait_until(lambda: balances(accounts) == ("100.00", "100.00"), message="deposit applied")
    return service_config, accounts, payments


def test_the_example_connector_answers_each_request_once_and_the_hold_is_released(portal, tmp_path):
    config, accounts, payments = portal
    answerer = subprocess.Popen(
        [sys.executable, "examples/core_answerer.py", "--max-requests", "2"]
        + ["--state", str(tmp_path / "answers.db"), "--amqp-uri", core_uri(config["AMQP_URI"])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert answerer.stdout.readline().startswith("answering the portal's requests")
        order = payments.create_transfer(
            member_number=MEMBER, from_account=SOURCE, to_account=TARGET, amount="30.00"
        )
        sent = payments.confirm_transfer(
            member_number=MEMBER, order_id=order["transfer_id"], method="totp", code=GOOD_CODE
        )
        assert sent["status"] == "enviada"
        done = wait_until(
            lambda: (
                (t := payments.get_transfer(MEMBER, order["transfer_id"]))["status"] == "rechazada"
                and t
            ),
            message="rechazada",
        )
        assert done["reason"].startswith("La cooperativa aún no ejecuta órdenes")
        wait_until(lambda: balances(accounts) == ("100.00", "100.00"), message="hold released")
        # the same request_id again (as the sweeper resends it): the answer given, not a new one
        again = {"request_id": done["request_id"], "valid_until": "2999-01-01T00:00:00Z"}
        with Connection(config["AMQP_URI"]) as conn:
            Producer(conn).publish(
                json.dumps(again), exchange=PORTAL_REQUESTS, routing_key="transfer"
            )
        out, err = answerer.communicate(timeout=30)
    finally:
        if answerer.poll() is None:
            answerer.kill()
    assert answerer.returncode == 0, err
    assert out.splitlines() == [f"{done['request_id']} → request_rejected"] * 2
    assert payments.get_transfer(MEMBER, order["transfer_id"])["status"] == "rechazada"
