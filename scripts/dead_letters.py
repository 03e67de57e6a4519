"""Operators' view of parked events: `python -m scripts.portal dead-letters [--requeue QUEUE]`.

Lists every `<queue>.dead` with its message count (through RabbitMQ's management API) and can
move a queue's parked messages back to the handler's queue once the cause is fixed. The core's
events refused by a service (`core.<service>.dead`) are listed here (the first 20, with their
reason); `python -m scripts.portal parked` (scripts/parked.py) shows them with their kind, time
and stream, filters and pages them, requeues one or all and discards one (audited).
"""

import json

from kombu import Exchange, Producer

from scripts import broker_users, rabbit_api
from services.common.amqp import open_connection
from services.common.config import amqp_uri
from services.common.ordering import RELAY_HEADER


def list_dead():
    answer = rabbit_api.get(rabbit_api.queue_path())
    return [(q["name"], q.get("messages", 0)) for q in answer if q["name"].endswith(".dead")]


def peek(queue, count=20):
    """The first `count` parked messages of `queue`, left in place:
    [{"event_type", "event_id", "reason", "attempts"}]."""
    answer = rabbit_api.call(
        "POST",
        rabbit_api.queue_path(queue) + "/get",
        json={"count": count, "ackmode": "ack_requeue_true", "encoding": "auto"},
    )
    out = []
    for message in answer.json():
        headers = (message.get("properties") or {}).get("headers") or {}
        try:
            event_id = json.loads(message.get("payload") or "").get("event_id")
        except (ValueError, AttributeError):
            event_id = None
        out.append(
            {
                "event_type": headers.get("x-portal-event-type", "?"),
                "event_id": event_id or "-",
                "reason": headers.get("x-portal-refusal") or headers.get("x-portal-last-error", ""),
                "attempts": headers.get("x-portal-attempts", 1),
            }
        )
    return out


def requeue(dead_queue):
    target = dead_queue[: -len(".dead")]
    moved = 0
    # a core event goes back as the consuming service's own user: that service believes a copy
    # of the core's event only from itself (services/common/inbound.py, `sender_is_core`)
    service = target.split(".")[1] if target.startswith("core.") else None
    uri = broker_users.process_uri(service, amqp_uri()) if service else amqp_uri()
    with open_connection(uri) as conn:
        me = conn.userid or "guest"
        channel = conn.channel()
        producer = Producer(channel, exchange=Exchange("", type="direct"))
        while True:
            message = channel.basic_get(dead_queue, no_ack=False)
            if message is None:
                return moved
            headers = dict(message.headers or {})
            headers.pop("x-portal-attempts", None)
            if message.properties.get("user_id") != me:  # not parked by the service itself
                headers.pop(RELAY_HEADER, None)
            producer.publish(
                message.body,
                routing_key=target,
                headers=headers,
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                delivery_mode=2,
                user_id=me,
            )
            channel.basic_ack(message.delivery_tag)
            moved += 1


def main(requeue_queue=None):
    if requeue_queue:
        print(f"{requeue(requeue_queue)} message(s) moved back from {requeue_queue}")
        return
    rows = list_dead()
    if not rows:
        print("no dead-letter queues")
    for name, count in rows:
        print(f"{count:8d}  {name}")
        if name.startswith("core.") and count:
            # the core's refused events: what each one was and why it was not applied
            for item in peek(name):
                print(f"          {item['event_type']}  {item['event_id']}  {item['reason']}")
            if count > 20:
                print(f"          … y {count - 20} más")
            # kind, time, stream, filters, pages, requeue one, discard: their own tool
            service = name.split(".")[1]
            print(f"          detalle: python -m scripts.portal parked --service {service}")
