"""Playing the cooperative's core in tests: publish on `core.events` with plain kombu, read the
dead-letter queue of a service."""

import json
import uuid

from amqp.exceptions import InternalError
from kombu import Connection, Exchange, Producer

CORE = Exchange("core.events", type="topic", durable=True)


def core_event(event_type, data, event_id=None):
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "event_type": event_type,
        "source": "core",
        "occurred_at": "2026-03-02T15:00:00Z",
        "version": 1,
        "data": data,
    }


def rosa(member_number, **changes):
    """The `data` of a core member_upserted for a member (Rosa Mena) of the fault tests."""
    return {
        "member_number": member_number,
        "identification": "1710034065",
        "first_names": "Rosa",
        "last_names": "Mena",
        "email": "rosa.mena@example.com",
        "phone": None,
        "status": "activo",
        **changes,
    }


def member_with_savings(member_number, *account_numbers):
    """The core's events that make Rosa a member with savings accounts: what a fault test needs
    before its movements."""
    return [
        core_event("member_upserted", rosa(member_number)),
        *(
            core_event(
                "account_opened",
                {
                    "account_number": number,
                    "member_number": member_number,
                    "product": "AHORRO_VISTA",
                    "opened_on": "2026-03-01",
                },
            )
            for number in account_numbers
        ),
    ]


def publish_core(amqp_uri, *events, raw=None, routing_key=None, content_type="application/json"):
    """Publish envelopes (dicts) persistently, with confirms; `raw` bytes go as they are."""
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        CORE(channel).declare()
        producer = Producer(channel)
        bodies = [(json.dumps(e, ensure_ascii=False), e["event_type"]) for e in events]
        if raw is not None:
            bodies.append((raw, routing_key))
        for body, key in bodies:
            producer.publish(
                body,
                exchange=CORE,
                routing_key=key,
                content_type=content_type,
                content_encoding="utf-8",
                delivery_mode=2,
            )
    return events


def take_all(amqp_uri, queue):
    """Every message of `queue` (consumed); none while a quorum queue just declared has not
    started yet ("noproc", which closes the connection): the callers poll."""
    out = []
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        while True:
            try:
                message = channel.basic_get(queue, no_ack=True)
            except InternalError:
                return out
            if message is None:
                return out
            out.append(message)


def parked(amqp_uri, service):
    """Every message parked in `core.<service>.dead`: [(headers, body text)] (consumed)."""
    out = []
    for message in take_all(amqp_uri, f"core.{service}.dead"):
        body = message.body.decode() if isinstance(message.body, bytes) else message.body
        out.append((dict(message.headers or {}), body))
    return out
