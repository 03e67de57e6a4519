"""Two instances of one service share its RPC load and its event queue; killing one mid-load
loses no accepted request and no event. Real processes, real broker, PostgreSQL."""

import json
import signal

import eventlet
import pytest
from eventlet.greenpool import GreenPool
from kombu import Connection
from nameko.standalone.rpc import ClusterRpcProxy

from services.common.entrypoints import event_handler
from tests.e2e.conftest import Portal, make_vhost

CALLS = 300


@pytest.fixture
def two_accounts(tmp_path, rabbit_manager, amqp_base, make_db):
    vhost, uri = make_vhost(rabbit_manager, amqp_base)
    portal = Portal(
        tmp_path,
        uri,
        extra_env={
            "ACCOUNTS_DATABASE_URL": make_db("accounts", backend="postgres", migrate=False),
            "LOG_LEVEL": "DEBUG",
            "DEMO_MEMBERS": "0",
        },
    )
    portal.setup()
    portal.start("accounts", instance="accounts-1")
    portal.start("accounts", instance="accounts-2")
    yield portal
    portal.stop_all()
    rabbit_manager.delete_vhost(vhost)


def rpc_consumers(uri):
    """How many consumers the accounts RPC queue has now (a passive declare: no management
    statistics, which lag by seconds)."""
    with Connection(uri) as conn:
        return conn.default_channel.queue_declare("rpc-accounts", passive=True).consumer_count


def handled_by(portal, instance):
    count = 0
    for line in portal.log(instance).splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("method") == "post_movement" and entry.get("status") == "ok":
            count += 1
    return count


def test_two_instances_share_the_load_and_a_killed_one_loses_nothing(
    two_accounts, container_factory, today
):
    portal = two_accounts
    config = {"AMQP_URI": portal.env["AMQP_URI"], "serializer": "json"}
    received = {}

    class Auditor:
        name = "test_auditor"

        @event_handler("accounts", "movement_posted")
        def on_movement(self, payload):
            received.setdefault(payload["data"]["reference"], []).append(payload["event_id"])

    container_factory(Auditor, config).start()

    with ClusterRpcProxy(config, timeout=60) as rpc, eventlet.Timeout(60):
        while True:  # the service answers
            try:
                rpc.accounts.ping()
                break
            except Exception:  # noqa: BLE001
                eventlet.sleep(0.5)
    with eventlet.Timeout(60):  # both instances consume rpc-accounts before the load starts
        while rpc_consumers(config["AMQP_URI"]) < 2:
            eventlet.sleep(0.2)
    answers, errors = {}, []
    todo = list(range(CALLS))

    def client():
        # a standalone proxy is not shared between greenthreads: one per client
        with ClusterRpcProxy(config, timeout=60) as rpc:
            while todo:
                i = todo.pop(0)
                try:
                    answers[i] = rpc.accounts.post_movement(
                        "4100517001",
                        today.isoformat(),
                        f"Depósito {i}",
                        f"SCALE-{i:04d}",
                        None,
                        "1.00",
                    )
                except Exception as exc:  # noqa: BLE001
                    errors.append((i, exc))

    pool = GreenPool(16)
    for _ in range(16):
        pool.spawn_n(client)
    with eventlet.Timeout(120):
        while len(answers) + len(errors) < CALLS // 3:
            eventlet.sleep(0.01)
        portal.stop("accounts-2", sig=signal.SIGKILL)  # crash mid-load
        pool.waitall()

    assert errors == []
    assert len(answers) == CALLS  # every accepted request was answered
    with eventlet.Timeout(30):
        while len(received) < CALLS:
            eventlet.sleep(0.2)
    assert sorted(received) == [f"SCALE-{i:04d}" for i in range(CALLS)]  # no event lost
    # an event may be delivered twice after a crash; each carries one event id per movement
    assert all(len(set(ids)) == 1 for ids in received.values())
    first, second = handled_by(portal, "accounts-1"), handled_by(portal, "accounts-2")
    assert first > 0 and second > 0, (first, second)  # both instances took part
    deliveries = sum(len(ids) for ids in received.values())
    print(
        f"\nscaling: {CALLS} calls accepted and answered; instance 1 handled {first}, "
        f"instance 2 (killed) {second}; {len(received)} distinct events, {deliveries} deliveries"
    )
