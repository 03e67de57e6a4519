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
- a loan payment is checked against its books of the loan: the installments it pays must be
  the overdue ones and the next, and the amount their `installment` values plus the late
  interest and other charges of its latest arrears snapshot, on that snapshot's date (the
  quote the member confirmed): honoured, it posts the debit `movement_posted` (sequence,
  `request_id`), one `installment_paid` per installment (`loan_sequence`, `request_id`), a
  `loan_due_updated` out of arrears when the loan was late, then `request_completed`;
  otherwise it rejects (it never debits another amount).

Its books: the demo accounts as the core last published them (read back through accounts'
`import_state`, the portal's copy of the core's postings), plus its own postings still on
their way (so two quick requests on one account never reuse a sequence). What it executed is
kept in a file of its own (`DEMO_CORE_BOOKS`, `var/demo-core-books.db`): each request's answer
and each account's and loan's last posting are written there before the answer is published, so
a copy of a request that reaches a restarted core (a resend that crossed the answer, a request
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
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from kombu import Connection, Exchange, Producer, Queue

from services.common import config
from services.common.clock import CLOCK
from services.common.files import private_dir
from services.credit.demo import arrears_snapshot

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


def out_of_arrears(loan_number, today):
    """The core's snapshot of a loan that left arrears (everything overdue was paid)."""
    return {
        "loan_number": loan_number,
        "as_of": today.isoformat(),
        "days_overdue": 0,
        "overdue_installments": [],
        "overdue_principal": "0.00",
        "overdue_interest": "0.00",
        "late_interest": "0.00",
        "other_charges": "0.00",
        "total_due": "0.00",
    }


class Ledger:
    """What the demo core executed, kept across its restarts (a real core's books are durable):
    the answer to each request_id, each account's and each loan's last posting by this core."""

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
        self.conn.execute("CREATE TABLE IF NOT EXISTS loans (number TEXT PRIMARY KEY, book TEXT)")

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

    def loan(self, number):
        row = self.conn.execute("SELECT book FROM loans WHERE number = ?", (number,)).fetchone()
        return None if row is None else json.loads(row[0])

    def record(self, request_id, events, accounts, loans=None):
        """The answer and the accounts and loans it posted to, in one transaction (before
        publishing)."""
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
            for number, loan in (loans or {}).items():
                self.conn.execute(
                    "INSERT OR REPLACE INTO loans VALUES (?, ?)",
                    (number, json.dumps(loan, ensure_ascii=False)),
                )
            self.conn.execute(
                "INSERT INTO answers VALUES (?, ?)",
                (request_id, json.dumps(events, ensure_ascii=False)),
            )


class Books:
    """The core's view of the demo accounts: {number: {member_number, last_seq, balance}}, and
    of the demo loans: {number: {member_number, last_sequence, unpaid, due}} — what the portal
    last applied, or this core's own later postings (the ledger)."""

    def __init__(self, read_state, ledger, read_loans=None):
        self.read_state = read_state  # [numbers] -> {number: {...}} (accounts.import_state)
        self.read_loans = read_loans  # [numbers] -> {number: {...}} (credit.import_state)
        self.ledger = ledger

    def loan(self, number):
        remote = (self.read_loans([number]) if self.read_loans else {}).get(number)
        if remote is None:
            return None
        mine = self.ledger.loan(number)
        # the portal may not have applied our last installment_paid yet: ours are newer then
        if mine is not None and mine["last_sequence"] > remote["last_sequence"]:
            return mine
        return dict(remote)

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
        posted = {"accounts": {}, "loans": {}}
        events = self._decide(request_id, request, posted)
        self.ledger.record(request_id, events, posted["accounts"], posted["loans"])
        return events

    def _decide(self, request_id, request, posted):
        valid_until = str(request.get("valid_until") or "")
        if not valid_until or now_z() > valid_until:
            return [rejection(request_id, "otro", "La solicitud venció sin ejecutarse.")]
        if request.get("request_type") == "loan_payment":
            return self._loan_payment(request_id, request.get("data") or {}, posted)
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
        posted["accounts"].update({source: books[source], target: books[target]})
        return events

    def quote(self, loan):
        """(installment numbers, amount, as_of) of paying the loan today in these books: the
        overdue installments and the next, plus the snapshot's late interest and charges."""
        today = self.today().isoformat()
        unpaid = sorted(loan["unpaid"], key=lambda r: r["number"])
        late = [r for r in unpaid if r["due_date"] < today]
        chosen = late + [r for r in unpaid if r["due_date"] >= today][:1]
        amount = sum((Decimal(r["installment"]) for r in chosen), Decimal("0.00"))
        due = loan.get("due")
        as_of = None
        if late and due and due["days_overdue"]:
            amount += Decimal(due["late_interest"]) + Decimal(due["other_charges"])
            as_of = due["as_of"]
        return [r["number"] for r in chosen], amount, as_of, chosen, bool(late)

    def _loan_payment(self, request_id, data, posted):
        try:
            amount = Decimal(str(data.get("amount")))
        except InvalidOperation:
            amount = Decimal("-1")
        if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
            return [rejection(request_id, "monto_invalido", "El monto no es válido.")]
        number, source = str(data.get("loan_number")), str(data.get("from_account"))
        loan = self.books.loan(number)
        if loan is None or loan["member_number"] != data.get("member_number"):
            return [rejection(request_id, "cuenta_no_disponible", "El crédito no está disponible.")]
        numbers, due_amount, as_of, chosen, late = self.quote(loan)
        if not chosen or (numbers, due_amount, as_of) != (
            data.get("installment_numbers"),
            amount,
            data.get("as_of"),
        ):
            return [
                rejection(
                    request_id,
                    "monto_invalido",
                    "El valor a pagar del crédito cambió: consulte el valor de hoy.",
                )
            ]
        books = self.books.accounts([source])
        if source not in books or books[source]["member_number"] != data.get("member_number"):
            return [rejection(request_id, "cuenta_no_disponible", "La cuenta no está disponible.")]
        if books[source]["balance"] < amount:
            return [
                rejection(request_id, "fondos_insuficientes", "Fondos insuficientes en la cuenta.")
            ]
        reference = f"DEMO-{request_id[:8].upper()}"
        events = [
            self._movement(
                source,
                books[source],
                amount,
                Decimal("0.00"),
                reference,
                f"Pago crédito {number}"[:60],
                request_id,
            )
        ]
        late_interest = (amount - sum(Decimal(r["installment"]) for r in chosen)).quantize(
            Decimal("0.01")
        )
        for index, row in enumerate(chosen):
            loan["last_sequence"] += 1
            events.append(
                envelope(
                    "installment_paid",
                    {
                        "loan_number": number,
                        "loan_sequence": loan["last_sequence"],
                        "number": row["number"],
                        "paid_on": self.today().isoformat(),
                        "reference": f"{reference}-C{row['number']}",
                        "principal": row["principal"],
                        "interest": row["interest"],
                        "insurance": row["insurance"],
                        # the late interest and charges are paid with the oldest installment
                        "late_interest": f"{late_interest if index == 0 else 0:.2f}",
                        "request_id": request_id,
                    },
                )
            )
        loan["unpaid"] = [r for r in loan["unpaid"] if r["number"] not in numbers]
        if late:
            loan["due"] = {
                "as_of": self.today().isoformat(),
                "days_overdue": 0,
                "late_interest": "0.00",
                "other_charges": "0.00",
            }
            events.append(envelope("loan_due_updated", out_of_arrears(number, self.today())))
        posted["accounts"][source] = books[source]
        posted["loans"][number] = loan
        events.append(
            envelope(
                "request_completed",
                {
                    "request_id": request_id,
                    "completed_at": now_z(),
                    "amount": f"{amount:.2f}",
                    "core_reference": reference,
                },
            )
        )
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


class DayCloses:
    """The demo core's day's close of its loans: at start, the snapshot of the last close
    (yesterday, Ecuador's day) of every loan in arrears, then again each time the day turns —
    `loan_due_updated` as a real core sends it at each close (docs/integration.md). Late
    interest by the demo's stand-in rule (services/credit/demo.py, `arrears_snapshot`)."""

    def __init__(self, read_arrears, today):
        self.read_arrears = read_arrears  # as_of -> {loan_number: {annual_rate, overdue, ...}}
        self.today = today
        self.closed = None  # the last close reported
        self.next_try = 0.0

    def due(self):
        """The `loan_due_updated` envelopes of a close not yet reported (none most calls).
        Credit away (the demo core may start first): tried again 30 s later; the requests are
        answered meanwhile."""
        as_of = self.today() - timedelta(days=1)
        if self.closed == as_of or time.monotonic() < self.next_try:
            return []
        try:
            loans = self.read_arrears(as_of)
        except Exception:  # noqa: BLE001  the close waits; the requests do not
            log.warning("demo core: credit did not answer; the close of %s waits", as_of)
            self.next_try = time.monotonic() + 30
            return []
        self.closed = as_of
        return [
            envelope(
                "loan_due_updated",
                arrears_snapshot(number, loan["annual_rate"], loan["overdue"], as_of),
            )
            for number, loan in sorted(loans.items())
        ]


def accounts_reader(amqp_uri):
    """accounts' and credit's import_state through the operator's connection (the core's user
    reaches no service): the balances, loans and sequences the core last published."""
    from nameko.standalone.rpc import ClusterRpcProxy

    proxy = ClusterRpcProxy({"AMQP_URI": amqp_uri, "serializer": "json"}, timeout=10)
    rpc = proxy.start()

    def read(numbers):
        return rpc.accounts.import_state({"accounts": numbers})["accounts"]

    def read_loans(numbers):
        return rpc.credit.import_state({"loan_books": numbers}).get("loan_books", {})

    def read_arrears(as_of):
        answer = rpc.credit.import_state({"loans_in_arrears": as_of.isoformat()})
        return answer.get("loans_in_arrears", {})

    return read, read_loans, read_arrears, proxy


def books_path():
    """DEMO_CORE_BOOKS, else var/demo-core-books.db (beside the portal's embedded databases)."""
    explicit = config.env("DEMO_CORE_BOOKS")
    return explicit or str(private_dir(config.var_dir()) / "demo-core-books.db")


def serve(amqp_uri, stop, books=None):
    read, read_loans, read_arrears, proxy = accounts_reader(amqp_uri)
    core = DemoCore(Books(read, Ledger(books or books_path()), read_loans))
    closes = DayCloses(read_arrears, core.today)
    core_uri = config.core_amqp_uri(amqp_uri)
    try:
        with Connection(core_uri, transport_options={"confirm_publish": True}) as conn:
            channel = conn.channel()
            CORE_EVENTS(channel).declare()
            # its own queue, bound to the portal's exchange (declared by the portal at start;
            # the core may not declare it); durable and kept while the core is down: what comes
            # meanwhile waits there
            channel.queue_declare(QUEUE, durable=True, auto_delete=False)
            channel.queue_bind(QUEUE, REQUESTS.name, "#")
            queue = Queue(QUEUE, durable=True, no_declare=True)
            # declared once above: a declaration per publish waits for its answer while the
            # broker delivers the next request, which nested answers without end in a burst
            producer = Producer(channel, exchange=CORE_EVENTS, auto_declare=False)

            def publish(events):
                for event in events:
                    producer.publish(
                        json.dumps(event, ensure_ascii=False).encode("utf-8"),
                        routing_key=event["event_type"],
                        content_type="application/json",
                        content_encoding="utf-8",
                        delivery_mode=2,
                        user_id=conn.userid,
                    )

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
                publish(events)
                message.ack()  # after every answer is confirmed by the broker
                kind = events[-1]["event_type"] if events else "-"
                print(f"demo core: {request.get('request_id')} → {kind}", flush=True)

            def publish_closes():
                snapshots = closes.due()
                publish(snapshots)
                if snapshots:
                    as_of = snapshots[0]["data"]["as_of"]
                    print(f"demo core: close of {as_of}: {len(snapshots)} loan(s) in arrears")

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
                    publish_closes()
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
