"""AMQP_URI with a cluster's nodes, and the queue declarations AMQP_QUEUE_TYPE chooses."""

import pytest

from scripts.preflight import quorum_problem
from scripts.queues import wanted
from services.common.amqp import (
    broker_urls,
    queue_type,
    retry_queue_arguments,
    safe,
    vhost_of,
    with_vhost,
    work_queue_arguments,
)

CLUSTER = "amqp://u:p@mq1:5672/portal;amqp://u:p@mq2:5672/portal; amqp://u:p@mq3:5672/portal"


def test_several_nodes_keep_their_order_and_share_the_vhost():
    assert broker_urls(CLUSTER) == [
        "amqp://u:p@mq1:5672/portal",
        "amqp://u:p@mq2:5672/portal",
        "amqp://u:p@mq3:5672/portal",
    ]
    assert vhost_of(CLUSTER) == "portal"
    assert vhost_of("amqp://guest:guest@localhost:5672/") == "/"
    moved = with_vhost(CLUSTER, "pruebas 1")
    assert moved.split(";")[1] == "amqp://u:p@mq2:5672/pruebas%201"
    assert vhost_of(moved) == "pruebas 1"


def test_messages_show_every_node_and_no_password():
    shown = safe(CLUSTER)
    assert shown == "amqp://mq1:5672/portal, amqp://mq2:5672/portal, amqp://mq3:5672/portal"
    assert "p@" not in shown


def test_the_queue_type_is_quorum_unless_told_and_nothing_else_is_accepted():
    assert queue_type({}) == "quorum"
    assert queue_type({"AMQP_QUEUE_TYPE": "Classic"}) == "classic"
    with pytest.raises(ValueError, match="quorum or classic"):
        queue_type({"AMQP_QUEUE_TYPE": "stream"})


def test_quorum_retry_queues_dead_letter_back_at_least_once():
    arguments = retry_queue_arguments("core.accounts", "quorum")
    assert arguments["x-queue-type"] == "quorum"
    assert arguments["x-dead-letter-routing-key"] == "core.accounts"
    assert arguments["x-dead-letter-strategy"] == "at-least-once"
    assert retry_queue_arguments("core.accounts", "classic") == {
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": "core.accounts",
    }
    # what a quorum queue would drop past its delivery limit is parked instead
    assert work_queue_arguments("core.accounts", "quorum")["x-dead-letter-routing-key"] == (
        "core.accounts.dead"
    )
    assert work_queue_arguments("core.accounts", "classic") == {}


@pytest.mark.parametrize(
    ("row", "kind", "expected"),
    [
        ({"name": "core.accounts"}, "quorum", ("quorum", True)),
        ({"name": "evt-auth-password_changed--audit.on_x.retry"}, "quorum", ("quorum", True)),
        ({"name": "core.credit.dead"}, "classic", ("classic", True)),
        ({"name": "rpc-accounts"}, "quorum", ("classic", False)),
        ({"name": "rpc-accounts"}, "classic", ("classic", True)),
        ({"name": "evt-auth-logged_out--gateway.on_x-1", "auto_delete": True}, "quorum", None),
        ({"name": "rpc.reply-gateway-1"}, "quorum", None),
        ({"name": "contabilidad.portal"}, "quorum", None),  # a subscriber's: not ours to change
        ({"name": "core.accounts.migrating"}, "quorum", None),
    ],
)
def test_the_migration_knows_the_portals_queues_and_leaves_the_others(row, kind, expected):
    want = wanted(row, kind)
    assert (want[:2] if want else None) == expected


def test_a_broker_without_quorum_queues_is_named_with_the_way_out():
    assert "AMQP_QUEUE_TYPE=classic" in quorum_problem("3.7.28", "quorum")
    assert quorum_problem("3.7.28", "classic") is None
    assert quorum_problem(b"3.10.8", "quorum") is None
