"""Publishing events the way the portal's outbox relay does, and waiting for their effects."""

import json
import time
import uuid

import eventlet
from kombu import Connection, Producer

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
