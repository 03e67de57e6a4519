"""examples/subscriber.py, run as an outside system would run it: a plain kombu process on the
real broker, bound to the portal's exchanges, printing each event once."""

import json
import os
import time

import pytest

from tests.service import event_tools
from tests.service.event_tools import emit, make_envelope, publish


def start_subscriber(amqp_uri, workdir, max_messages):
    return event_tools.start_subscriber(
        {**os.environ, "AMQP_URI": amqp_uri},
        workdir,
        "cooperativa.contabilidad",
        ["auth.password_reset_requested", "accounts.#"],
        max_messages,
    )


def finish(proc, timeout=20):
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)
    assert proc.returncode == 0, proc.err.read_text()
    return [json.loads(line) for line in proc.out.read_text().splitlines()]


@pytest.fixture
def subscriber(rabbit_config, tmp_path):
    proc = start_subscriber(rabbit_config["AMQP_URI"], tmp_path / "run", 2)
    yield proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)


def test_plain_kombu_subscriber_receives_each_bound_event_once(subscriber, rabbit_config):
    uri = rabbit_config["AMQP_URI"]
    reset = make_envelope(
        "auth",
        "password_reset_requested",
        {
            "username": "maria",
            "member_number": "100234",
            "email": "maria.perez@example.com",
            "display_name": "María Pérez",
            "code_shown": True,
        },
    )
    publish(uri, reset, reset)  # delivered twice: printed once
    emit(uri, "auth", "login_succeeded", {"username": "maria"})  # not bound: never arrives
    movement = emit(
        uri,
        "accounts",
        "movement_posted",
        {"account_number": "4100234001", "member_number": "100234", "credit": "25.50"},
    )
    printed = finish(subscriber)
    assert printed == [reset, movement]
    assert f"duplicate {reset['event_id']}: skipped" in subscriber.err.read_text()
    assert set(printed[0]) == {"event_id", "event_type", "source", "occurred_at", "version", "data"}


def test_events_published_while_the_subscriber_is_down_wait_in_its_queue(rabbit_config, tmp_path):
    uri = rabbit_config["AMQP_URI"]
    first = start_subscriber(uri, tmp_path / "first", 1)
    one = emit(uri, "accounts", "movement_posted", {"member_number": "100234", "debit": "5.00"})
    assert finish(first) == [one]
    meanwhile = emit(uri, "accounts", "movement_posted", {"member_number": "100517"})
    second = start_subscriber(uri, tmp_path / "second", 1)
    assert finish(second) == [meanwhile]
