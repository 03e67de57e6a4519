"""Publishing events the way the portal's outbox relay does, and waiting for their effects."""

import json
import subprocess
import sys
import time
import uuid

import eventlet
from kombu import Connection, Producer
from nameko.events import EventHandler
from nameko.extensions import DependencyProvider

from services.common.config import PROJECT_ROOT
from services.common.events import envelope, exchange_for


def make_envelope(source, event_type, data, event_id=None, occurred_at=None):
    event = envelope(source, event_type, data)
    if event_id:
        event["event_id"] = event_id
    if occurred_at:
        event["occurred_at"] = occurred_at
    return event


def publish(amqp_uri, *events):
    """Publish envelopes (dicts) on `<source>.events`, routing key = event_type, confirmed."""
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        for event in events:
            exchange = exchange_for(event["source"])
            exchange(channel).declare()
            Producer(channel).publish(
                json.dumps(event, ensure_ascii=False),
                exchange=exchange,
                routing_key=event["event_type"],
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
            )
    return events


def emit(amqp_uri, source, event_type, data, event_id=None, **kwargs):
    event = make_envelope(source, event_type, data, event_id or str(uuid.uuid4()), **kwargs)
    publish(amqp_uri, event)
    return event


def wait_until(check, timeout=15.0, interval=0.1, message="condition"):
    """Poll `check()` until it returns something truthy; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        eventlet.sleep(interval)


class DeliveriesHandled(DependencyProvider):
    """How many event deliveries the service's workers have finished, whatever they did (applied
    the event, skipped a duplicate, refused it). A test that waits for every delivery it caused
    can then assert that something did not happen, without sleeping and hoping."""

    def setup(self):
        self.count = 0

    def worker_teardown(self, worker_ctx):
        if isinstance(worker_ctx.entrypoint, EventHandler):
            self.count += 1


def counting_deliveries(service_cls):
    """The service class with a DeliveriesHandled counter (same name, same entrypoints)."""
    return type(service_cls.__name__, (service_cls,), {"deliveries_handled": DeliveriesHandled()})


def wait_for_deliveries(container, *events):
    """Until the container (its class made by `counting_deliveries`) has finished one delivery
    of each of `events` to each of its handlers bound to that event, counted since it started."""
    handlers = [e for e in container.entrypoints if isinstance(e, EventHandler)]
    expected = sum(
        1
        for event in events
        for handler in handlers
        if (handler.source_service, handler.event_type) == (event["source"], event["event_type"])
    )
    counter = next(d for d in container.dependencies if isinstance(d, DeliveriesHandled))
    wait_until(lambda: counter.count >= expected, message=f"{expected} deliveries handled")


def start_subscriber(env, workdir, queue, bindings, max_messages=None):
    """examples/subscriber.py as the outside system runs it (its own process, `env` naming the
    broker), returned once its queue is bound; its output files are `proc.out` and `proc.err`."""
    workdir.mkdir(parents=True, exist_ok=True)
    out, err = workdir / "stdout.txt", workdir / "stderr.txt"
    command = [sys.executable, str(PROJECT_ROOT / "examples" / "subscriber.py"), "--queue", queue]
    for binding in bindings:
        command += ["--bind", binding]
    if max_messages:
        command += ["--max-messages", str(max_messages)]
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=stdout, stderr=stderr)
    proc.out, proc.err = out, err
    wait_until(
        lambda: f"listening on {queue}" in err.read_text() or proc.poll() is not None,
        timeout=60,
        message="the subscriber to bind its queue",
    )
    return proc
