"""A handler that keeps failing retries with backoff, then parks the event; the queue goes on."""

import time

import eventlet
import pytest
from amqp.exceptions import ChannelError, InternalError
from kombu import Connection
from nameko.standalone.events import event_dispatcher

from services.common.entrypoints import ATTEMPTS_HEADER, event_handler

# retry and parking through the production queues: quorum, dead-lettered at least once
pytestmark = pytest.mark.quorum


def take_one(amqp_uri, queue):
    """One message of `queue`, or None while it is empty or not ready yet."""
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        try:
            return channel.basic_get(queue, no_ack=True)
        # the dead-letter queue is declared when the first event is parked, and a quorum queue
        # just declared may not have started yet ("noproc", which closes the connection)
        except (ChannelError, InternalError):
            return None


def test_failing_event_is_retried_then_parked_and_does_not_block_the_queue(
    service_config, container_factory
):
    attempts, handled = [], []

    class Fragile:
        name = "fragile"

        @event_handler("bank", "thing_happened", retry_delays=(0.2, 0.4))
        def on_thing(self, payload):
            if payload["data"]["poison"]:
                attempts.append(time.monotonic())
                raise RuntimeError("cannot handle this one")
            handled.append(payload["event_id"])

    container = container_factory(Fragile, service_config)
    container.start()
    dispatch = event_dispatcher(service_config)
    dispatch("bank", "thing_happened", {"event_id": "poison-1", "data": {"poison": True}})
    dispatch("bank", "thing_happened", {"event_id": "good-1", "data": {"poison": False}})

    queue = "evt-bank-thing_happened--fragile.on_thing.dead"
    parked = None
    with eventlet.Timeout(15):
        # once the event is parked no further attempt can come
        while parked is None or "good-1" not in handled:
            parked = parked or take_one(service_config["AMQP_URI"], queue)
            eventlet.sleep(0.05)

    assert len(attempts) == 3  # first try + two retries
    # the backoff is waited: each retry comes no earlier than its delay (a lower bound only)
    assert attempts[1] - attempts[0] >= 0.15 and attempts[2] - attempts[1] >= 0.35
    assert handled == ["good-1"]  # the good event did not wait behind the poison one
    assert parked.headers[ATTEMPTS_HEADER] == 3
    assert "cannot handle this one" in parked.headers["x-portal-last-error"]
    body = parked.body.decode() if isinstance(parked.body, bytes) else parked.body
    assert "poison-1" in body


def test_operators_can_list_and_requeue_parked_events(
    service_config, container_factory, monkeypatch
):
    from scripts import dead_letters

    fixed = {"now": False}
    handled = []

    class Fragile:
        name = "fragile2"

        @event_handler("bank", "other_thing", retry_delays=(0.1,))
        def on_thing(self, payload):
            if not fixed["now"]:
                raise RuntimeError("dependency down")
            handled.append(payload["event_id"])

    container_factory(Fragile, service_config).start()
    event_dispatcher(service_config)("bank", "other_thing", {"event_id": "e-1", "data": {}})
    queue = "evt-bank-other_thing--fragile2.on_thing.dead"
    monkeypatch.setenv("AMQP_URI", service_config["AMQP_URI"])
    with eventlet.Timeout(20):
        while (queue, 1) not in dead_letters.list_dead():
            eventlet.sleep(0.3)
    fixed["now"] = True
    assert dead_letters.requeue(queue) == 1
    with eventlet.Timeout(10):
        while handled != ["e-1"]:
            eventlet.sleep(0.05)
