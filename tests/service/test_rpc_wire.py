"""The RPC wire path on the real broker (services/common/messaging.py): the calls of a batch
answered call by call, bodies larger than a frame, values that JSON alone would lose, and a batch
whose requests cannot be published failing every call at once instead of at its deadline."""

import subprocess
import time
from decimal import Decimal

import pytest

from services.common.amqp import vhost_of
from services.common.entrypoints import rpc
from services.common.errors import ServiceUnavailable
from services.common.messaging import RpcPublisher
from services.common.rpc import ServiceRpc, batch, wait_all


class EchoService:
    name = "echo"

    @rpc
    def echo(self, value):
        return value

    arrived = []  # the calls of meet() under way (class-level: shared by the workers)

    @rpc
    def meet(self, count):
        """Answer how many calls were under way together once `count` are (at most after 3 s)."""
        EchoService.arrived.append(count)
        deadline = time.monotonic() + 3
        while len(EchoService.arrived) < count and time.monotonic() < deadline:
            time.sleep(0.01)  # green: the other workers run meanwhile
        return len(EchoService.arrived)


class CallerService:
    name = "caller"

    echo_rpc = ServiceRpc("echo", timeout=5)

    @rpc
    def fan_out(self, values):
        with batch() as b:
            calls = [b.call(self.echo_rpc.echo, value) for value in values]
        return [
            {"error": type(answer).__name__} if isinstance(answer, Exception) else answer
            for answer in wait_all(calls)
        ]

    @rpc
    def fan_out_meet(self, count):
        with batch() as b:
            calls = [b.call(self.echo_rpc.meet, count) for _ in range(count)]
        return wait_all(calls)


class PatientCaller(CallerService):
    """The caller with a deadline (60 s) far beyond the test client's (30 s)."""

    echo_rpc = ServiceRpc("echo", timeout=60)


@pytest.fixture
def caller(service_config, container_factory, rpc_proxy):
    EchoService.arrived = []
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
    # sent together, the four calls are under way at the same time (one service, ten workers):
    # each one waits until it has met the other three
    assert caller.fan_out_meet(4) == [4, 4, 4, 4]


def test_a_batch_that_cannot_be_sent_fails_every_call_at_once(
    service_config, container_factory, rpc_proxy
):
    container_factory(EchoService, service_config).start()
    container = container_factory(PatientCaller, service_config)
    container.start()
    publisher = next(ext for ext in container.extensions if isinstance(ext, RpcPublisher))
    publish = publisher.publish

    def broker_away(body, routing_key, **properties):
        # the requests to echo cannot be published (nor after the reconnection); the caller's
        # own reply to this test, on the same publisher, still goes out
        if routing_key.startswith("echo."):
            raise ConnectionResetError("conexión perdida")
        publish(body, routing_key, **properties)

    publisher.publish = broker_away
    # at once, not at the calls' 60 s deadline: the test's client gives up after 30 s
    answers = rpc_proxy("caller").fan_out(["a", "b", "c"])
    assert answers == [{"error": ServiceUnavailable.__name__}] * 3


def test_every_answered_request_is_acknowledged(caller, rabbit_config):
    # every reply is followed by its request's ack: nothing stays unacknowledged
    # (an unacked request would be delivered again when the service's connection closes)
    vhost = vhost_of(rabbit_config["AMQP_URI"])
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
