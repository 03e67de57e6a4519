"""Operators' view of parked events: `python -m scripts.portal dead-letters [--requeue QUEUE]`.

Lists every `<queue>.dead` with its message count (through RabbitMQ's management API) and can
move a queue's parked messages back to the handler's queue once the cause is fixed.
"""

from urllib.parse import quote, urlparse

import requests
from kombu import Connection, Exchange, Producer

from services.common.config import amqp_uri, env


def _api():
    return env("RABBIT_API_URI", "http://guest:guest@localhost:15672").rstrip("/")


def _vhost():
    path = urlparse(amqp_uri()).path.lstrip("/")
    return path or "/"


def list_dead():
    api = urlparse(_api())
    base = f"{api.scheme}://{api.hostname}:{api.port or 15672}"
    answer = requests.get(
        f"{base}/api/queues/{quote(_vhost(), safe='')}",
        auth=(api.username or "guest", api.password or "guest"),
        timeout=10,
    )
    answer.raise_for_status()
    return [(q["name"], q.get("messages", 0)) for q in answer.json() if q["name"].endswith(".dead")]


def requeue(dead_queue):
    target = dead_queue[: -len(".dead")]
    moved = 0
    with Connection(amqp_uri()) as conn:
        channel = conn.channel()
        producer = Producer(channel, exchange=Exchange("", type="direct"))
        while True:
            message = channel.basic_get(dead_queue, no_ack=False)
            if message is None:
                return moved
            headers = dict(message.headers or {})
            headers.pop("x-portal-attempts", None)
            producer.publish(
                message.body,
                routing_key=target,
                headers=headers,
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                delivery_mode=2,
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
