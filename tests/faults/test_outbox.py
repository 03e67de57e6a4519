"""The transactional outbox under faults: nothing lost, nothing duplicated in effect, in order."""

from decimal import Decimal

import eventlet
import pytest
from sqlalchemy import func, select

from services.accounts.models import outbox
from services.accounts.service import AccountsService
from services.common.db import engine_for
from services.common.entrypoints import event_handler
from services.common.events import Inbox
from tests.conftest import load_demo
from tests.faults.proxy import CuttableProxy
from tests.service.event_tools import counting_deliveries, wait_for_deliveries


@pytest.fixture
def proxy():
    instance = CuttableProxy()
    yield instance
    instance.close()


@pytest.fixture
def received(service_config, container_factory):
    got = []

    class Listener:
        name = "listener"

        @event_handler("accounts", "movement_posted")
        def on_movement(self, payload):
            got.append(payload)

    container_factory(Listener, service_config).start()
    return got


def pending(url):
    with engine_for(url).connect() as conn:
        return conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        ).scalar()


def wait_for(condition, timeout=20):
    with eventlet.Timeout(timeout):
        while not condition():
            eventlet.sleep(0.05)


def test_broker_outage_between_commit_and_publication_loses_nothing(
    service_config, container_factory, rpc_proxy, proxy, received, today
):
    load_demo(service_config, today, services=["accounts"], count=0)
    config = dict(service_config, OUTBOX_AMQP_URI=proxy.uri(service_config["AMQP_URI"]))
    container_factory(AccountsService, config).start()
    accounts = rpc_proxy("accounts")

    proxy.cut()
    for i in range(20):
        accounts.post_movement(
            "4100517001", today.isoformat(), f"Depósito {i}", f"R{i}", None, "1.00"
        )
    tried = proxy.refused
    wait_for(lambda: proxy.refused > tried)  # the relay tried again after the last commit
    assert received == []  # the broker is away for the relay: events wait in the outbox
    assert pending(config["ACCOUNTS_DATABASE_URL"]) == 20

    proxy.restore()
    wait_for(lambda: len(received) >= 20)
    eventlet.sleep(0.5)
    assert [e["data"]["reference"] for e in received] == [f"R{i}" for i in range(20)]
    assert len({e["event_id"] for e in received}) == 20
    balances = [Decimal(e["data"]["balance"]) for e in received]
    assert balances == sorted(balances) and balances[-1] - balances[0] == Decimal("19.00")
    assert pending(config["ACCOUNTS_DATABASE_URL"]) == 0


def test_a_service_killed_before_publishing_publishes_after_restart(
    service_config, container_factory, rpc_proxy, proxy, received, today
):
    load_demo(service_config, today, services=["accounts"], count=0)
    config = dict(service_config, OUTBOX_AMQP_URI=proxy.uri(service_config["AMQP_URI"]))
    first = container_factory(AccountsService, config)
    first.start()
    proxy.cut()
    rpc_proxy("accounts").post_movement(
        "4100517001", today.isoformat(), "Antes del fallo", "CRASH-1", None, "2.00"
    )
    first.kill()  # crash: the movement is committed, its event not yet published
    assert pending(config["ACCOUNTS_DATABASE_URL"]) == 1
    proxy.restore()
    container_factory(AccountsService, config).start()
    wait_for(lambda: len(received) == 1)
    assert received[0]["data"]["reference"] == "CRASH-1"


def test_redelivered_event_has_its_effect_once(service_config, container_factory):
    """A consumer that claims event ids does its effect once, however often the event comes."""
    from nameko.standalone.events import event_dispatcher
    from sqlalchemy import MetaData

    from services.common.db import Database
    from services.common.events import processed_events_table

    metadata = MetaData()
    processed = processed_events_table(metadata)
    effects = []

    class Consumer:
        name = "accounts"  # shares the accounts database's processed_events table in this test
        db = Database("accounts")
        inbox = Inbox("accounts", processed)

        @event_handler("bank", "paid")
        def on_paid(self, payload):
            if not self.inbox.claim(payload):
                return
            effects.append(payload["event_id"])

    container = container_factory(counting_deliveries(Consumer), service_config)
    container.start()
    dispatch = event_dispatcher(service_config)
    for _ in range(3):
        dispatch("bank", "paid", {"event_id": "same-id", "data": {}})
    dispatch("bank", "paid", {"event_id": "other-id", "data": {}})
    wait_for(lambda: len(effects) == 2)
    paid = {"source": "bank", "event_type": "paid"}
    wait_for_deliveries(container, paid, paid, paid, paid)  # the copies were handled too
    assert effects == ["same-id", "other-id"]
