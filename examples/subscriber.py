#!/usr/bin/env python3
"""Subscribe to the portal's events with plain AMQP: a starting point for other systems.

Needs only kombu (`pip install kombu`). Copy it, change `handle()`, keep the rest:

    python examples/subscriber.py --queue contabilidad.portal \\
        --bind auth.password_reset_requested --bind accounts.movement_posted

Each `--bind SOURCE.PATTERN` binds your queue to the topic exchange `SOURCE.events` with the
routing-key PATTERN (the event type; `*` matches one word, `#` anything: `auth.#` is every auth
event). Your queue is durable and named by you, so events published while this program is down
wait for it. It is a quorum queue (replicated on a RabbitMQ cluster, it survives the loss of a
node) unless `--queue-type classic` (or AMQP_QUEUE_TYPE=classic) says otherwise; the type of an
existing queue cannot change (RabbitMQ answers PRECONDITION_FAILED): delete it first. AMQP_URI may
list several nodes of a cluster separated by `;`; the program moves to the next when one dies.

Delivery is at-least-once: a message is acknowledged only after `handle()` returns, and the
same event can arrive twice, so events are recognised by `event_id` (here in memory; a real system
keeps the ids it processed in its own database, in the same transaction as its work).

Every message is a JSON envelope:
    {"event_id": "…", "event_type": "…", "source": "…", "occurred_at": "…Z", "version": 1,
     "data": {…}}
"""

import argparse
import json
import os
import signal
import sys
import time
from collections import OrderedDict

from kombu import Connection, Consumer, Exchange, Queue, binding
from kombu.exceptions import OperationalError

DEFAULT_AMQP_URI = "amqp://guest:guest@localhost:5672/"


class SeenEvents:
    """The last `size` event ids, to drop redeliveries (a real system keeps them in its DB)."""

    def __init__(self, size=10000):
        self.size = size
        self.ids = OrderedDict()

    def first_time(self, event_id):
        if event_id in self.ids:
            return False
        self.ids[event_id] = True
        if len(self.ids) > self.size:
            self.ids.popitem(last=False)
        return True


def handle(envelope):
    """Your work goes here. This example prints one JSON line per event."""
    print(json.dumps(envelope, ensure_ascii=False, sort_keys=True), flush=True)


def parse_binding(text):
    source, dot, pattern = text.partition(".")
    if not source or not dot or not pattern:
        raise argparse.ArgumentTypeError(f"use SOURCE.PATTERN, e.g. auth.# (not {text!r})")
    return source, pattern


def make_queue(name, bindings, queue_type="quorum"):
    arguments = {"x-queue-type": "quorum"} if queue_type == "quorum" else {}
    queue = Queue(name, durable=True, auto_delete=False, queue_arguments=arguments)
    queue.bindings = set()
    for source, pattern in bindings:
        # same declaration as the portal's own exchanges (topic, durable)
        exchange = Exchange(f"{source}.events", type="topic", durable=True)
        queue.bindings.add(binding(exchange, routing_key=pattern))
    return queue


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--amqp-uri", default=os.environ.get("AMQP_URI") or DEFAULT_AMQP_URI)
    parser.add_argument("--queue", default="example-subscriber", help="your durable queue")
    parser.add_argument(
        "--bind",
        action="append",
        type=parse_binding,
        help="SOURCE.PATTERN, repeatable (default auth.#)",
    )
    parser.add_argument(
        "--queue-type",
        choices=["quorum", "classic"],
        default=os.environ.get("AMQP_QUEUE_TYPE") or "quorum",
        help="how your queue is declared (default quorum)",
    )
    parser.add_argument("--max-messages", type=int, default=0, help="stop after N new events")
    args = parser.parse_args(argv)
    bindings = args.bind or [("auth", "#")]
    queue = make_queue(args.queue, bindings, args.queue_type)
    seen = SeenEvents()
    handled = 0
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def on_message(body, message):
        nonlocal handled, stopping
        envelope = json.loads(body) if isinstance(body, (str, bytes)) else body
        event_id = envelope.get("event_id") if isinstance(envelope, dict) else None
        if not event_id:
            print("not an event envelope: dropped", file=sys.stderr, flush=True)
            message.ack()
            return
        if not seen.first_time(event_id):
            print(f"duplicate {event_id}: skipped", file=sys.stderr, flush=True)
            message.ack()
            return
        handle(envelope)  # if this raises, the message is not acked and comes back
        message.ack()
        handled += 1
        if args.max_messages and handled >= args.max_messages:
            stopping = True

    connection = Connection(args.amqp_uri, heartbeat=30, connect_timeout=5)
    broker_errors = (*connection.connection_errors, OperationalError, OSError)
    while not stopping:
        try:
            with connection.clone() as conn:
                # with several addresses, each is tried in turn
                conn.ensure_connection(max_retries=3 * len(args.amqp_uri.split(";")))
                channel = conn.channel()
                channel.basic_qos(prefetch_size=0, prefetch_count=10, a_global=False)
                with Consumer(channel, queues=[queue], callbacks=[on_message], accept=["json"]):
                    names = ", ".join(f"{s}.events/{p}" for s, p in bindings)
                    print(f"listening on {args.queue} ({names})", file=sys.stderr, flush=True)
                    while not stopping:
                        try:
                            conn.drain_events(timeout=1)
                        except TimeoutError:
                            conn.heartbeat_check()
        except broker_errors as exc:
            # broker away: unacked messages stay in the queue; reconnect and go on
            print(f"broker connection lost ({exc}); retrying in 2 s", file=sys.stderr, flush=True)
            time.sleep(2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
