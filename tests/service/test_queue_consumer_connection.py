"""A service keeps consuming when its broker connection, or its consumption, is lost without its
reader being told (services/common/entrypoints.py, PortalQueueConsumer).

When a broker node dies, a worker's ack may be the first to meet the reset socket: py-amqp then
marks the connection dead, and if the reader next wakes by its own read timeout rather than by
the socket (a busy event loop runs timers first), kombu quietly opened a new connection without
the consumers: the service went silent, with no consumer on its queues (seen when a cluster node
was killed under CPU load). The reader now reconnects itself; a watchdog covers a consumption lost
any other way. Real broker, real sockets."""

import socket
import time

import eventlet
import pytest
from nameko.testing.utils import get_extension

from services.common.entrypoints import PortalQueueConsumer, event_handler
from tests.service.event_tools import emit, wait_until


class Recorder:
    name = "recorder"

    seen: list[str] = []

    @event_handler("src", "happened", retry_delays=())
    def on_happened(self, payload):
        Recorder.seen.append(payload["data"]["n"])


@pytest.fixture
def recorder(rabbit_config, container_factory):
    Recorder.seen = []
    container = container_factory(Recorder, rabbit_config)
    container.start()
    emit(rabbit_config["AMQP_URI"], "src", "happened", {"n": "before"})
    wait_until(lambda: "before" in Recorder.seen, message="the first event")
    return container


def test_a_service_that_learns_of_a_dead_connection_from_a_write_consumes_again(
    rabbit_config, container_factory, monkeypatch
):
    # the watchdog out of the way: this is the reader's own check
    monkeypatch.setattr(PortalQueueConsumer, "RECHECK_WINDOW", 0)
    monkeypatch.setattr(PortalQueueConsumer, "WATCH_SECONDS", 3600)
    Recorder.seen = []
    uri = rabbit_config["AMQP_URI"]
    container = container_factory(Recorder, rabbit_config)
    container.start()
    emit(uri, "src", "happened", {"n": "before"})
    wait_until(lambda: "before" in Recorder.seen, message="the first event")

    connection = get_extension(container, PortalQueueConsumer).live_connection.connection

    def busy_loop():  # holds the event loop past the reader's 1 s read timeout
        until = time.monotonic() + 1.5
        while time.monotonic() < until:
            pass

    # the loop is busy first; when it is free, this greenthread's timer is due before the
    # reader's timeout (the reader's is due within a second, ours within 20 ms), and both come
    # before the next look at the sockets: the reader learns of the loss by timing out
    eventlet.spawn_after(0.01, busy_loop)
    eventlet.sleep(0.02)
    connection.sock.shutdown(socket.SHUT_RDWR)  # the node is gone
    try:
        connection.send_heartbeat()  # a write meets the dead socket first, as an ack would
    except OSError:
        pass

    emit(uri, "src", "happened", {"n": "after"})
    wait_until(lambda: "after" in Recorder.seen, message="an event sent after the loss")


def test_a_service_whose_consumption_the_broker_dropped_silently_consumes_again(
    rabbit_config, recorder
):
    # the broker stops delivering, and the consumer is not told (a cancel it never hears of):
    # the watchdog finds the queue without consumer and has the reader reconnect
    channel = get_extension(recorder, PortalQueueConsumer).live_connection.default_channel
    for tag in list(channel.callbacks):
        channel.basic_cancel(tag, nowait=True)

    emit(rabbit_config["AMQP_URI"], "src", "happened", {"n": "after"})
    wait_until(lambda: "after" in Recorder.seen, message="an event sent after the loss")
