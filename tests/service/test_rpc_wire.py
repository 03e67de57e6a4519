"""The RPC wire path on the real broker (services/common/messaging.py): requests sent together in
one write, bodies larger than a frame, values that JSON alone would lose, and a batch that never
leaves failing every call at once instead of at its deadline."""

import subprocess
import time
from decimal import Decimal
from urllib.parse import urlparse

import pytest

from services.common.entrypoints import rpc
from services.common.errors import ServiceUnavailable
from services.common.rpc import ServiceRpc, wait_all


class EchoService:
    name = "echo"

    @rpc
    def echo(self, value):
        return value

    @rpc
    def slow_echo(self, value, seconds):
        time.sleep(seconds)
        return value


class CallerService:
    name = "caller"

    echo_rpc = ServiceRpc("echo", timeout=5)

    @rpc
    def fan_out(self, values):
        with self.echo_rpc.batch():
            calls = [self.echo_rpc.echo.call_async(value) for value in values]
        return [
            {"error": type(answer).__name__} if isinstance(answer, Exception) else answer
            for answer in wait_all(calls)
        ]

    @rpc
    def fan_out_timed(self, seconds, count):
        started = time.monotonic()
        with self.echo_rpc.batch():
            calls = [self.echo_rpc.slow_echo.call_async(n, seconds) for n in range(count)]
        answers = wait_all(calls)
        return {"answers": answers, "elapsed": time.monotonic() - started}


@pytest.fixture
def caller(service_config, container_factory, rpc_proxy):
    for cls in (EchoService, CallerService):
        container_factory(cls, service_config).start()
    return rpc_proxy("caller")


def test_a_batch_of_requests_is_answered_call_by_call(caller):
    values = ["uno", 2, {"tres": [3]}, None]
    assert caller.fan_out(values) == values


def test_bodies_larger_than_a_frame_and_decimals_survive_the_batch(caller):
    big = "movimiento;" * 40_000  # 440 kB: split over several 128 kB body frames
    answers = caller.fan_out([big, Decimal("1234.56"), "ñandú"])
    assert answers[0] == big
    assert answers[1] == Decimal("1234.56")
    assert answers[2] == "ñandú"


def test_the_batched_calls_run_in_parallel(caller):
    # four calls of 0.4 s each: sent together they overlap (one service, ten workers)
    result = caller.fan_out_timed(0.4, 4)
    assert result["answers"] == [0, 1, 2, 3]
    assert result["elapsed"] < 1.2


def test_a_batch_that_cannot_be_sent_fails_every_call_at_once(
    service_config, container_factory, rpc_proxy
):
    container_factory(EchoService, service_config).start()
    container = container_factory(CallerService, service_config)
    container.start()
    publisher = next(ext for ext in container.extensions if type(ext).__name__ == "FastPublisher")

    write = publisher._write

    def broker_away(messages):
        # the batch's write fails (and so does its reconnection); the caller's own reply to
        # this test, one message on the same publisher, still goes out
        if len(messages) > 1:
            raise ConnectionResetError("conexión perdida")
        write(messages)

    publisher._write = broker_away
    started = time.monotonic()
    answers = rpc_proxy("caller").fan_out(["a", "b", "c"])
    assert answers == [{"error": ServiceUnavailable.__name__}] * 3
    assert time.monotonic() - started < 1.0  # not the 5 s deadline


def test_every_answered_request_is_acknowledged(caller, rabbit_config):
    # replies and acks leave together on the request's channel: nothing stays unacknowledged
    # (an unacked request would be delivered again when the service's connection closes)
    vhost = urlparse(rabbit_config["AMQP_URI"]).path[1:]
    assert caller.fan_out(list(range(30))) == list(range(30))
    deadline = time.monotonic() + 5
    while True:
        listing = subprocess.run(
            ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "messages"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        counts = dict(line.split("\t") for line in listing.splitlines() if "\t" in line)
        if counts.get("rpc-echo") == "0" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert counts.get("rpc-echo") == "0", listing
