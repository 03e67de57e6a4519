"""Publish one of the core's events to the portal, as the cooperative's core (or its connector)
would: the contract of docs/integration.md with nothing but kombu, no import from the project.

    python examples/core_publisher.py member_upserted member_number=300001 \
        identification=1710034065 first_names="Rosa Elena" last_names="Lema Chimbo" \
        email=rosa.lema@example.com phone=0991112233 status=activo
    python examples/core_publisher.py movement_posted account_number=4100234001 sequence:=312 \
        date=2026-12-01 posted_at=2026-12-01T15:04:00Z description="Depósito de nómina" \
        reference=NOM-20261201-1 debit=0.00 credit=850.00 balance=2291.33
    python examples/core_publisher.py --file events.json     # one event or a list of them

`key=value` sends a string (money stays "850.00"), `key:=value` sends raw JSON (numbers such as
`sequence:=312`, null, lists such as `guarantors:='["100517"]'`). A file holds envelopes or
`{"event_type": ..., "data": {...}}` objects; a missing event_id, source or occurred_at is filled
in. Each message: exchange `core.events` (topic, durable, declared here too), routing key = the
event type, persistent, JSON, published `mandatory` and confirmed by the broker before this
script says so. An event that no portal queue takes (the portal never started on this broker,
a routing key no service binds) comes back (`basic.return`, NO_ROUTE) instead of vanishing: the
script stops there with exit status 3 and says which one.

Ids: `--change-id ID` derives the event_id from the core's own change id (uuid5), so the same
change published again (after a crash, a lost confirm) carries the same event_id and the portal
applies it once; use it for events without a natural key (member_upserted).

The portal believes only the core's own broker user: connect as it (the URI `make run` prints,
with the password of var/core_amqp_password) and every message names it in `user_id`, which
RabbitMQ checks against the connection. A message from any other user is parked by the portal,
not applied. CORE_AMQP_URI (else AMQP_URI; default amqp://guest:guest@localhost:5672/, which the
portal refuses) says which broker, vhost and user.
"""

import argparse
import json
import os
import sys
import uuid
from datetime import UTC, datetime

from kombu import Connection, Exchange, Producer

EXCHANGE = Exchange("core.events", type="topic", durable=True)
# the connector's own namespace for event ids derived from the core's change ids (any fixed UUID:
# what matters is that it never changes, so one change always gives the same event_id)
CHANGE_NAMESPACE = uuid.UUID("6f1d3c2e-5b0a-4c47-9a51-0e8f3a7b2c10")


class Unroutable(Exception):
    """The broker returned a mandatory message: no queue is bound for its routing key."""


def event_id_for(change_id, event_type):
    """The event_id of one change of the core: the same change always gives the same id."""
    return str(uuid.uuid5(CHANGE_NAMESPACE, f"{event_type}:{change_id}"))


def parse_fields(pairs):
    data = {}
    for pair in pairs:
        if ":=" in pair and ("=" not in pair or pair.index(":=") < pair.index("=")):
            key, raw = pair.split(":=", 1)
            try:
                data[key] = json.loads(raw)
            except json.JSONDecodeError:
                raise SystemExit(f"{key}: not JSON: {raw}") from None
        elif "=" in pair:
            key, value = pair.split("=", 1)
            data[key] = value
        else:
            raise SystemExit(f"expected key=value or key:=json, got {pair!r}")
    return data


def envelope(event_type, data, event_id=None, occurred_at=None):
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "event_type": event_type,
        "source": "core",
        "occurred_at": occurred_at or now,
        "version": 1,
        "data": data,
    }


def from_file(path):
    with open(path, encoding="utf-8") as fh:
        content = json.load(fh)
    items = content if isinstance(content, list) else [content]
    return [
        envelope(item["event_type"], item["data"], item.get("event_id"), item.get("occurred_at"))
        for item in items
    ]


def publish(amqp_uri, events):
    """Publish persistent, mandatory, confirmed messages; returns the events sent. Raises
    Unroutable for the first one no queue took (the ones before it were delivered)."""
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        EXCHANGE(channel).declare()
        returned = []
        # the broker sends basic.return before the confirm, so it is here when publish() returns
        channel.events["basic_return"].add(lambda exc, _exchange, key, _msg: returned.append(key))
        producer = Producer(channel, exchange=EXCHANGE)
        for event in events:
            # with confirm_publish, publish() returns once the broker has taken the message
            producer.publish(
                json.dumps(event, ensure_ascii=False).encode("utf-8"),
                routing_key=event["event_type"],
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
                message_id=event["event_id"],
                user_id=conn.userid or "guest",  # who we are: the broker refuses any other name
                mandatory=True,
            )
            if returned:
                raise Unroutable(
                    f"{event['event_type']} {event['event_id']}: ninguna cola del portal lo "
                    "recibió (NO_ROUTE); ¿se inició el portal en este broker y vhost?"
                )
    return events


def main(argv=None):
    parser = argparse.ArgumentParser(description="Publish core events on core.events.")
    parser.add_argument("event_type", nargs="?", help="e.g. movement_posted")
    parser.add_argument("fields", nargs="*", help="key=value (string) or key:=json")
    parser.add_argument("--file", help="a JSON file with one event or a list of events")
    parser.add_argument("--event-id", help="reuse an event_id (to show a redelivery is harmless)")
    parser.add_argument(
        "--change-id", help="the core's own change id: the event_id is derived from it (uuid5)"
    )
    parser.add_argument(
        "--amqp-uri",
        default=os.environ.get("CORE_AMQP_URI")
        or os.environ.get("AMQP_URI", "amqp://guest:guest@localhost:5672/"),
    )
    args = parser.parse_args(argv)
    if args.file:
        events = from_file(args.file)
    elif args.event_type:
        event_id = args.event_id
        if args.change_id:
            event_id = event_id_for(args.change_id, args.event_type)
        events = [envelope(args.event_type, parse_fields(args.fields), event_id)]
    else:
        parser.error("give an event type with its fields, or --file")
    try:
        for event in publish(args.amqp_uri, events):
            print(f"published {event['event_type']} {event['event_id']}", flush=True)
    except Unroutable as exc:
        print(f"not delivered: {exc}", file=sys.stderr, flush=True)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
