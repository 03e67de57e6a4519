"""How a core's connector answers the portal's requests (docs/integration.md, "Requests from the
portal to the core"): the contract with nothing but kombu and the standard library, no import
from the project. A starting point for the core's team, not a core:

    CORE_AMQP_URI=amqp://core:…@broker:5672/ python examples/core_answerer.py --state answers.db

What it does for each request on its own queue (`portal.requests.core`, bound to the portal's
`portal.requests` exchange):
- remembers every `request_id` with its answer in a SQLite file (`--state`): a request sent again
  (a lost confirm, a resend of the portal's sweeper) gets the same answer again and is never
  executed twice, across restarts too;
- rejects a request past its `valid_until` (`otro`), never executes it;
- otherwise calls `execute(request)` — the one function the core's team writes: post the
  movements in the core's books (each `movement_posted` carrying the `request_id`, published
  before the answer, as the core always publishes its movements) and return the answer. Until it
  is written, this example rejects every order (`otro`, "La cooperativa aún no ejecuta…"): the
  member sees it *rechazada* at once and the amount held for it is released, instead of an order
  waiting *en verificación*;
- publishes the answer on `core.events` as the core's broker user (`user_id`, which RabbitMQ
  checks), persistent, with publisher confirms, and acknowledges the request only after the
  broker confirmed the answer: a crash in between means the request comes again and gets the
  remembered answer.
"""

import argparse
import json
import os
import sqlite3
import sys
import uuid
from datetime import UTC, datetime

from kombu import Connection, Exchange, Producer, Queue

REQUESTS = Exchange("portal.requests", type="topic", durable=True)
CORE_EVENTS = Exchange("core.events", type="topic", durable=True)
QUEUE = "portal.requests.core"


def now_z():
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def answer(event_type, data):
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "source": "core",
        "occurred_at": now_z(),
        "version": 1,
        "data": data,
    }


def rejected(request_id, reason_code, reason):
    return answer(
        "request_rejected",
        {
            "request_id": request_id,
            "rejected_at": now_z(),
            "reason_code": reason_code,  # fondos_insuficientes, cuenta_no_disponible, ...
            "reason": reason,  # Spanish, shown to the member
        },
    )


def execute(request):
    """The core's own work: check the order in its books, post its movements (publish them on
    core.events with the request_id) and return `request_completed` with the amount debited and
    the core's reference — or `request_rejected`. This starting point executes nothing."""
    return rejected(
        request["request_id"],
        "otro",
        "La cooperativa aún no ejecuta órdenes del portal en línea; acérquese a una agencia.",
    )


class Answers:
    """request_id → the answer given (JSON), kept on disk: each request is executed once."""

    def __init__(self, path):
        self.db = sqlite3.connect(path)
        self.db.execute("create table if not exists answers (request_id text primary key, body)")

    def get(self, request_id):
        row = self.db.execute(
            "select body from answers where request_id = ?", (request_id,)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def keep(self, request_id, event):
        self.db.execute("insert into answers values (?, ?)", (request_id, json.dumps(event)))
        self.db.commit()


def decide(request, answers):
    """The answer to one request: the remembered one, a rejection when too late, or execute()."""
    request_id = str(request.get("request_id") or "")
    if not request_id:
        return None  # not a request: nothing to answer
    known = answers.get(request_id)
    if known is not None:
        return known
    if not request.get("valid_until") or now_z() > request["valid_until"]:
        event = rejected(request_id, "otro", "La solicitud venció sin ejecutarse.")
    else:
        event = execute(request)
    answers.keep(request_id, event)
    return event


def serve(amqp_uri, state, max_requests=None):
    answers = Answers(state)
    handled = 0
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        # the portal declares portal.requests; the core binds its own queue to it
        channel.queue_declare(QUEUE, durable=True)
        channel.queue_bind(QUEUE, REQUESTS.name, "#")
        producer = Producer(channel, exchange=CORE_EVENTS)

        def on_request(body, message):
            nonlocal handled
            try:
                request = json.loads(body) if isinstance(body, (str, bytes)) else body
            except ValueError:
                request = None
            event = decide(request, answers) if isinstance(request, dict) else None
            if event is not None:
                producer.publish(
                    json.dumps(event, ensure_ascii=False).encode("utf-8"),
                    routing_key=event["event_type"],
                    content_type="application/json",
                    content_encoding="utf-8",
                    delivery_mode=2,
                    user_id=conn.userid,  # the core's user: the portal believes only it
                )
                print(f"{event['data']['request_id']} → {event['event_type']}", flush=True)
            message.ack()  # after the broker confirmed the answer
            handled += 1

        queue = Queue(QUEUE, durable=True, no_declare=True)
        with conn.Consumer(queue, callbacks=[on_request], accept=["json", "text/plain"]):
            print(f"answering the portal's requests on {QUEUE}", flush=True)
            while max_requests is None or handled < max_requests:
                conn.drain_events()


def main(argv=None):
    parser = argparse.ArgumentParser(description="Answer the portal's requests as the core.")
    parser.add_argument("--state", default="core-answers.db", help="the answers given (SQLite)")
    parser.add_argument("--max-requests", type=int, help="stop after this many (tests)")
    parser.add_argument(
        "--amqp-uri",
        default=os.environ.get("CORE_AMQP_URI")
        or os.environ.get("AMQP_URI", "amqp://guest:guest@localhost:5672/"),
    )
    args = parser.parse_args(argv)
    serve(args.amqp_uri, args.state, args.max_requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
