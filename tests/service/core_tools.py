"""Playing the cooperative's core in tests: publish on `core.events` with plain kombu, read the
dead-letter queue of a service."""

import json
import uuid

from amqp.exceptions import InternalError
from kombu import Connection, Exchange, Producer

from scripts import broker_users

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


def core_uri(amqp_uri):
    """`amqp_uri`'s vhost as the core's broker user (CORE_AMQP_USER, in tests `portal-test-core`),
    which is made to exist with the core's permissions on that vhost (once per vhost; the broker
    is shared, guest is never touched)."""
    if amqp_uri not in _CORE_URIS:
        _CORE_URIS[amqp_uri] = broker_users.ensure_core(amqp_uri)
    return _CORE_URIS[amqp_uri]


_CORE_URIS = {}


def publish_core(
    amqp_uri,
    *events,
    raw=None,
    routing_key=None,
    content_type="application/json",
    as_core=True,
    user_id=None,
):
    """Publish envelopes (dicts) persistently, with confirms; `raw` bytes go as they are.

    As the core does: connected as the core's user, with `user_id` set to it. `as_core=False`
    publishes with `amqp_uri`'s own user (a portal user) and `user_id` only when given."""
    uri = core_uri(amqp_uri) if as_core else amqp_uri
    with Connection(uri, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        CORE(channel).declare()
        producer = Producer(channel)
        sender = user_id or (conn.userid if as_core else None)
        properties = {"user_id": sender} if sender else {}
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
                **properties,
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
