"""`python -m scripts.demo_core`: the demo cooperative's core answering the portal's requests
(docs/payments.md, "The demo core"). `make run` starts it beside the services; `DEMO_CORE=off`
leaves it out (a real deployment has the cooperative's own core).

It binds its own durable queue `portal.requests.core` to `portal.requests` and, for each
request, as a real core would:
- a `request_id` seen before gets the same answer again (each request is executed once);
- a request past its `valid_until` is rejected, never executed;
- a transfer is checked against its books (the account exists, the core's balance covers it):
  it posts `movement_posted` on both accounts, each with its next `sequence` and the
  `request_id`, then `request_completed`; otherwise `request_rejected` with the reason;
- a loan payment is rejected for now (`otro`): the portal does not send them yet.

Its books: the demo accounts as the core last published them (read back through accounts'
`import_state`, the portal's copy of the core's postings), plus its own postings still on
their way (so two quick requests on one account never reuse a sequence). What it executed is
kept in a file of its own (`DEMO_CORE_BOOKS`, `var/demo-core-books.db`): each request's answer
and each account's last posting are written there before the answer is published, so a copy of
a request that reaches a restarted core (a resend that crossed the answer, a request
redelivered because the process died before its ack) gets the same answer again and is never
executed twice. It publishes on
`core.events` as the core's broker user (CORE_AMQP_URI, else AMQP_URI with CORE_AMQP_USER and
its password), naming it in `user_id`, with publisher confirms; it acknowledges a request only
after its answer is confirmed. Answers within a second.
"""

import json
import logging
import signal
import sqlite3
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from kombu import Connection, Exchange, Producer, Queue

from services.common import config
from services.common.clock import CLOCK
from services.common.files import private_dir

log = logging.getLogger("demo_core")

REQUESTS = Exchange("portal.requests", type="topic", durable=True, auto_delete=False)
CORE_EVENTS = Exchange("core.events", type="topic", durable=True, auto_delete=False)
QUEUE = "portal.requests.core"


def now_z():
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def envelope(event_type, data):
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "source": "core",
        "occurred_at": now_z(),
        "version": 1,
        "data": data,
    }


def rejection(request_id, reason_code, reason):
    return envelope(
        "request_rejected",
        {
            "request_id": request_id,
            "rejected_at": now_z(),
            "reason_code": reason_code,
            "reason": reason,
        },
    )


class Ledger:
    """What the demo core executed, kept across its restarts (a real core's books are durable):
    the answer to each request_id and each account's last posting by this core."""

    def __init__(self, path):
        self.conn = sqlite3.connect(str(path), isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        # as the services' SQLite: a commit survives the process's crash (what a restart needs)
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS answers (request_id TEXT PRIMARY KEY, events TEXT)"
        )
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS books (number TEXT PRIMARY KEY, member_number TEXT, "
            "last_seq INTEGER, balance TEXT)"
        )

    def answer(self, request_id):
        row = self.conn.execute(
            "SELECT events FROM answers WHERE request_id = ?", (request_id,)
        ).fetchone()
        return None if row is None else json.loads(row[0])

    def account(self, number):
        row = self.conn.execute(
            "SELECT member_number, last_seq, balance FROM books WHERE number = ?", (number,)
        ).fetchone()
        if row is None:
            return None
        return {"member_number": row[0], "last_seq": row[1], "balance": Decimal(row[2])}

    def record(self, request_id, events, accounts):
        """The answer and the accounts it posted to, in one transaction (before publishing)."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            for number, account in accounts.items():
                self.conn.execute(
                    "INSERT OR REPLACE INTO books VALUES (?, ?, ?, ?)",
                    (
                        number,
                        account["member_number"],
                        account["last_seq"],
                        f"{account['balance']:.2f}",
                    ),
                )
            self.conn.execute(
                "INSERT INTO answers VALUES (?, ?)",
                (request_id, json.dumps(events, ensure_ascii=False)),
            )


class Books:
    """The core's view of the demo accounts: {number: {member_number, last_seq, balance}}."""

    def __init__(self, read_state, ledger):
        self.read_state = read_state  # [numbers] -> {number: {...}} (accounts.import_state)
        self.ledger = ledger

    def accounts(self, numbers):
        fresh = self.read_state(numbers)
        out = {}
        for number in numbers:
            remote = fresh.get(number)
            if remote is None:
                continue
            mine = self.ledger.account(number)
            # the portal may not have applied our last postings yet: ours are newer then
            if mine is not None and mine["last_seq"] > remote["last_seq"]:
                out[number] = mine
            else:
                out[number] = {
                    "member_number": remote["member_number"],
                    "last_seq": remote["last_seq"],
                    "balance": Decimal(remote["balance"]),
                }
        return out


class DemoCore:
    def __init__(self, books, today=None):
        self.books = books
        self.ledger = books.ledger
        self.today = today or CLOCK.today

    def answer(self, request):
        """The events the core publishes for one request (movements first, then the answer),
        recorded before they are published: a request seen before, in this process or an
        earlier one, gets the same events again (same ids, same sequences)."""
        request_id = str(request.get("request_id") or "")
        if not request_id:
            return []
        known = self.ledger.answer(request_id)
        if known is not None:
            return known
        posted = {}
        events = self._decide(request_id, request, posted)
        self.ledger.record(request_id, events, posted)
        return events

    def _decide(self, request_id, request, posted):
        valid_until = str(request.get("valid_until") or "")
        if not valid_until or now_z() > valid_until:
            return [rejection(request_id, "otro", "La solicitud venció sin ejecutarse.")]
        if request.get("request_type") != "transfer":
            return [
                rejection(
                    request_id, "otro", "El núcleo de demostración no ejecuta este tipo de orden."
                )
            ]
        data = request.get("data") or {}
        try:
            amount = Decimal(str(data.get("amount")))
        except InvalidOperation:
            amount = Decimal("-1")
        if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
            return [rejection(request_id, "monto_invalido", "El monto no es válido.")]
        source, target = str(data.get("from_account")), str(data.get("to_account"))
        books = self.books.accounts([source, target])
        if source not in books or target not in books or source == target:
            return [rejection(request_id, "cuenta_no_disponible", "La cuenta no está disponible.")]
        if books[source]["member_number"] != data.get("member_number"):
            return [rejection(request_id, "cuenta_no_disponible", "La cuenta no está disponible.")]
        if books[source]["balance"] < amount:
            return [
                rejection(
                    request_id,
                    "fondos_insuficientes",
                    "Fondos insuficientes en la cuenta de origen.",
                )
            ]
        reference = f"DEMO-{request_id[:8].upper()}"
        description = (data.get("description") or "Transferencia en línea")[:60]
        events = [
            self._movement(
                source, books[source], amount, Decimal("0.00"), reference, description, request_id
            ),
            self._movement(
                target, books[target], Decimal("0.00"), amount, reference, description, request_id
            ),
            envelope(
                "request_completed",
                {
                    "request_id": request_id,
                    "completed_at": now_z(),
                    "amount": f"{amount:.2f}",
                    "core_reference": reference,
                },
            ),
        ]
        posted.update({source: books[source], target: books[target]})
        return events

    def _movement(self, number, account, debit, credit, reference, description, request_id):
        account["last_seq"] += 1
        account["balance"] = account["balance"] - debit + credit
        side = "D" if debit else "C"
        return envelope(
            "movement_posted",
            {
                "account_number": number,
                "sequence": account["last_seq"],
                "date": self.today().isoformat(),
                "posted_at": now_z(),
                "description": description,
                "reference": f"{reference}-{side}",
                "debit": f"{debit:.2f}",
                "credit": f"{credit:.2f}",
                "balance": f"{account['balance']:.2f}",
                "request_id": request_id,
            },
        )


def accounts_reader(amqp_uri):
    """accounts.import_state through the operator's connection (the core's user reaches no
    service): the balances and sequences the core last published."""
    from nameko.standalone.rpc import ClusterRpcProxy

    proxy = ClusterRpcProxy({"AMQP_URI": amqp_uri, "serializer": "json"}, timeout=10)
    rpc = proxy.start()

    def read(numbers):
        return rpc.accounts.import_state({"accounts": numbers})["accounts"]

    return read, proxy


def books_path():
    """DEMO_CORE_BOOKS, else var/demo-core-books.db (beside the portal's embedded databases)."""
    explicit = config.env("DEMO_CORE_BOOKS")
    return explicit or str(private_dir(config.var_dir()) / "demo-core-books.db")


def serve(amqp_uri, stop, books=None):
    read, proxy = accounts_reader(amqp_uri)
    core = DemoCore(Books(read, Ledger(books or books_path())))
    core_uri = config.core_amqp_uri(amqp_uri)
    try:
        with Connection(core_uri, transport_options={"confirm_publish": True}) as conn:
            channel = conn.channel()
            CORE_EVENTS(channel).declare()
            # its own queue, bound to the portal's exchange (declared by the portal at start;
            # the core may not declare it)
            # durable and kept while the core is down: what comes meanwhile waits there
            channel.queue_declare(QUEUE, durable=True, auto_delete=False)
            channel.queue_bind(QUEUE, REQUESTS.name, "#")
            queue = Queue(QUEUE, durable=True, no_declare=True)
            # declared once above: a declaration per publish waits for its answer while the
            # broker delivers the next request, which nested answers without end in a burst
            producer = Producer(channel, exchange=CORE_EVENTS, auto_declare=False)

            def on_request(body, message):
                try:
                    request = json.loads(body) if isinstance(body, (str, bytes)) else body
                except ValueError:  # a broken request: the core says nothing
                    log.exception("demo core: request not understood")
                    message.ack()
                    return
                try:
                    events = core.answer(request if isinstance(request, dict) else {})
                except Exception:  # noqa: BLE001  the books unreadable (accounts away): later
                    log.warning("demo core: books unreadable; the request waits", exc_info=True)
                    message.requeue()
                    time.sleep(1.0)
                    return
                for event in events:
                    producer.publish(
                        json.dumps(event, ensure_ascii=False).encode("utf-8"),
                        routing_key=event["event_type"],
                        content_type="application/json",
                        content_encoding="utf-8",
                        delivery_mode=2,
                        user_id=conn.userid,
                    )
                message.ack()  # after every answer is confirmed by the broker
                kind = events[-1]["event_type"] if events else "-"
                print(f"demo core: {request.get('request_id')} → {kind}", flush=True)

            def undecodable(message, exc):  # a request it cannot read: never stop on it
                log.error("demo core: request not understood: %s", exc)
                message.ack()

            with conn.Consumer(
                queue,
                callbacks=[on_request],
                accept=["json", "text/plain"],
                on_decode_error=undecodable,
                prefetch_count=1,  # one request at a time: the next after this one's ack
            ):
                print("demo core: answering portal.requests", flush=True)
                while not stop["now"]:
                    try:
                        conn.drain_events(timeout=1)
                    except TimeoutError:
                        continue
    finally:
        proxy.stop()


def main():
    if not config.env_bool("DEMO_CORE", True):
        print("demo core: off (DEMO_CORE=off)", flush=True)
        return 0
    stop = {"now": False}

    def _stop(signum, frame):
        stop["now"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    serve(config.amqp_uri(), stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
