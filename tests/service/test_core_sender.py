"""Only the core is believed on `core.events` (docs/integration.md, "Who is the core"), on the real
broker: a message the core's broker user did not publish is parked with its reason and counted,
nothing of it applied; the broker itself refuses a forged `user_id`; and the portal's and the
core's broker users may write only where docs/operations.md says.
"""

import json

import pytest
from amqp.exceptions import AccessRefused, PreconditionFailed
from kombu import Connection, Exchange, Producer

from scripts import broker_users, dead_letters
from services.accounts.service import AccountsService
from services.common.amqp import with_credentials
from services.credit.service import CreditService
from services.deposit.service import DepositService
from tests.service.core_tools import core_event, parked, publish_core
from tests.service.event_tools import wait_until
from tests.service.test_core_inbound_accounts import (
    CEDULA,
    MEMBER,
    balance_of,
    member,
    movement,
    opened,
)

ACCOUNT = "4200501001"
FORGED_EMAIL = "ladron@example.com"


@pytest.fixture
def core_config(service_config):
    return {**service_config, "CORE_RETRY_DELAYS": "0.2", "CORE_NOT_YET_DELAYS": "0.2,0.4"}


@pytest.fixture
def accounts(core_config, container_factory):
    container_factory(AccountsService, core_config).start()
    return core_config


@pytest.fixture
def rpc(accounts, rpc_proxy):
    return rpc_proxy("accounts")


def with_member_and_account(uri, rpc):
    publish_core(uri, member(), opened(ACCOUNT))
    wait_until(lambda: balance_of(rpc, ACCOUNT) == "0.00", message="account opened")


def refusals(rpc):
    return {r["kind"]: r["count"] for r in rpc.inbound_status()["refusals"]}


def test_events_a_portal_user_publishes_are_parked_with_the_reason_and_nothing_applies(
    accounts, rpc
):
    uri = accounts["AMQP_URI"]  # guest: what every portal process could use until now
    with_member_and_account(uri, rpc)
    forged = [
        movement(ACCOUNT, 1, credit="50000.00", balance="50000.00"),
        member(email=FORGED_EMAIL),
    ]
    publish_core(uri, *forged, as_core=False)

    dead = []  # parked() takes what it reads: gather until both are there

    def both_parked():
        dead.extend(parked(uri, "accounts"))
        return len(dead) == 2

    wait_until(both_parked, message="both forged events parked")
    for headers, _body in dead:
        assert headers["x-portal-refusal-kind"] == "remitente_no_core"
        assert headers["x-portal-refusal"].startswith("Remitente no autorizado")
        assert "Nada se aplicó" in headers["x-portal-refusal"]
    assert {h["x-portal-event-type"] for h, _body in dead} == {"movement_posted", "member_upserted"}
    assert {json.loads(body)["event_id"] for _h, body in dead} == {f["event_id"] for f in forged}
    wait_until(lambda: refusals(rpc).get("remitente_no_core") == 2, message="both counted")
    assert balance_of(rpc, ACCOUNT) == "0.00"
    assert rpc.get_member(MEMBER)["email"] == "lucia.andrade@example.com"

    # the same events from the core are applied (the consumer went on)
    publish_core(uri, *forged)
    wait_until(lambda: balance_of(rpc, ACCOUNT) == "50000.00", message="the core's movement")
    assert rpc.get_member(MEMBER)["email"] == FORGED_EMAIL
    assert rpc.verify_member(MEMBER, CEDULA, "lucía", "andrade", FORGED_EMAIL)["match"]


def test_the_broker_refuses_a_user_id_that_is_not_the_publishers(accounts, rpc):
    uri = accounts["AMQP_URI"]
    with_member_and_account(uri, rpc)
    core_user = accounts["CORE_AMQP_USER"]
    with pytest.raises(PreconditionFailed, match="user_id"):
        publish_core(
            uri,
            movement(ACCOUNT, 1, credit="50000.00", balance="50000.00"),
            as_core=False,
            user_id=core_user,
        )
    with pytest.raises(PreconditionFailed, match="user_id"):
        publish_core(uri, member(email=FORGED_EMAIL), as_core=False, user_id=core_user)
    # a later event of the core is applied, and nothing of the forged ones was
    publish_core(uri, movement(ACCOUNT, 1, credit="10.00", balance="10.00"))
    wait_until(lambda: balance_of(rpc, ACCOUNT) == "10.00", message="the core's movement")
    assert rpc.get_member(MEMBER)["email"] == "lucia.andrade@example.com"
    assert parked(uri, "accounts") == []


def test_credit_and_deposit_also_park_what_the_core_did_not_send(core_config, container_factory):
    for service_cls in (CreditService, DepositService):
        container_factory(service_cls, core_config).start()
    uri = core_config["AMQP_URI"]
    publish_core(
        uri,
        core_event(
            "installment_paid",
            {"loan_number": "PR-1", "installment_number": 1, "paid_on": "2026-03-02"},
        ),
        core_event("deposit_opened", {"deposit_number": "DPF-1", "member_number": MEMBER}),
        as_core=False,
    )
    for service in ("credit", "deposit"):
        dead = wait_until(lambda s=service: parked(uri, s), message=f"{service} parked it")
        assert [h["x-portal-refusal-kind"] for h, _body in dead] == ["remitente_no_core"]


def test_a_core_event_parked_and_requeued_by_the_operator_is_still_the_cores(
    accounts, rpc, monkeypatch
):
    uri = accounts["AMQP_URI"]
    publish_core(uri, member())
    # its account is not opened yet: retried, then parked (the core's, relayed by accounts)
    early = movement(ACCOUNT, 1, credit="5.00", balance="5.00")
    publish_core(uri, early)
    monkeypatch.setenv("AMQP_URI", uri)
    wait_until(
        lambda: ("core.accounts.dead", 1) in dead_letters.list_dead(), message="movement parked"
    )
    publish_core(uri, opened(ACCOUNT))
    wait_until(lambda: balance_of(rpc, ACCOUNT) == "0.00", message="account opened")
    assert dead_letters.requeue("core.accounts.dead") == 1
    wait_until(lambda: balance_of(rpc, ACCOUNT) == "5.00", message="the requeued movement")
    assert "remitente_no_core" not in refusals(rpc)


def _publish(uri, exchange, routing_key):
    with Connection(uri, transport_options={"confirm_publish": True}) as conn:
        producer = Producer(conn.channel())
        producer.publish(
            b"{}", exchange=exchange, routing_key=routing_key, content_type="application/json"
        )


def test_a_portal_services_user_cannot_write_to_core_events(service_config, core_uri):
    vhost = service_config["vhost"]
    user, secret = "portal-test-accounts", "portal-test-accounts"
    broker_users.ensure_user(user, secret, vhost, broker_users.service_permissions("accounts"))
    as_accounts = with_credentials(service_config["AMQP_URI"], user, secret)
    with pytest.raises(AccessRefused, match="core.events"):
        _publish(
            as_accounts, Exchange("core.events", type="topic", durable=True), "movement_posted"
        )
    # and the core's user reaches no portal service
    with pytest.raises(AccessRefused, match="nameko-rpc"):
        _publish(
            core_uri, Exchange("nameko-rpc", type="topic", durable=True), "accounts.get_member"
        )


def test_a_service_runs_with_its_own_users_permissions(core_config, container_factory, rpc_proxy):
    vhost = core_config["vhost"]
    user, secret = "portal-test-accounts", "portal-test-accounts"
    broker_users.ensure_user(user, secret, vhost, broker_users.service_permissions("accounts"))
    config = {
        **core_config,
        "AMQP_URI": with_credentials(core_config["AMQP_URI"], user, secret),
        "CORE_NOT_YET_DELAYS": "1,2,4,8",  # the account opens meanwhile
    }
    container_factory(AccountsService, config).start()
    rpc = rpc_proxy("accounts")
    uri = core_config["AMQP_URI"]
    publish_core(uri, member())
    # retried as NotYet (through its own .retry queue), applied once its account is open
    publish_core(uri, movement(ACCOUNT, 1, credit="7.00", balance="7.00"))
    publish_core(uri, opened(ACCOUNT))
    wait_until(lambda: balance_of(rpc, ACCOUNT) == "7.00", message="applied as portal-accounts")
