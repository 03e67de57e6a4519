"""Transfers survive the crash of any one process (docs/payments.md, "The confirmation saga"):
accounts, payments and the demo core as real processes on PostgreSQL and their own vhost, a
stand-in auth in the test (tests/service/payments_tools.py). Whatever is killed, every confirmed
order reaches the core's books once, every hold ends once, and both accounts end exact to the
cent, in the portal and in the demo core's own books.

Short intervals make it quick: the sweeper every 0.5 s, a `confirmando` order finished after
1 s, an unanswered request sent again after 2 s."""

import json
import signal
import sqlite3
import subprocess
import sys
from decimal import Decimal

import eventlet
import pytest
from eventlet.greenpool import GreenPool
from kombu import Connection
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import create_engine, text

from scripts import broker_users
from services.common.config import PROJECT_ROOT
from services.common.errors import Conflict
from tests.e2e.conftest import Portal, make_vhost
from tests.faults.proxy import CuttableProxy
from tests.service.core_tools import (
    core_event,
    core_uri,
    member_with_savings,
    parked,
    publish_core,
)
from tests.service.payments_tools import GOOD_CODE, PORTAL_REQUESTS, OrderChallengeAuth

MEMBER = "300771"
SOURCE, TARGET = "4300771001", "4300771002"
DEPOSIT = Decimal("1000.00")
CORE_QUEUE = "portal.requests.core"  # the demo core's own queue (scripts/demo_core.py)


def wait_for(check, what, timeout=60):
    """Poll `check()` until it returns something truthy (returned), or fail naming `what`."""
    with eventlet.Timeout(timeout, AssertionError(f"timed out waiting for {what}")):
        while True:
            value = check()
            if value:
                return value
            eventlet.sleep(0.1)


class Stack:
    """The portal's processes of a transfer, and what the test reads of them."""

    def __init__(self, portal, uri, accounts_db, payments_db, workdir):
        self.portal = portal
        self.uri = uri
        self.accounts_db = create_engine(accounts_db)
        self.payments_db = create_engine(payments_db)
        self.config = {"AMQP_URI": uri, "serializer": "json"}
        self.core = None
        self.core_books = workdir / "demo-core-books.db"
        self.core_log = workdir / "demo-core.log"

    # --- processes ---------------------------------------------------------------------------

    def start_core(self):
        log = open(self.core_log, "ab")  # noqa: SIM115  closed with the process
        self.core = subprocess.Popen(  # noqa: S603  our own demo core
            [sys.executable, "-m", "scripts.demo_core"],
            cwd=PROJECT_ROOT,
            env={
                **self.portal.env,
                "CORE_AMQP_URI": core_uri(self.uri),
                "DEMO_CORE_BOOKS": str(self.core_books),
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for(lambda: self.consumers(CORE_QUEUE) == 1, "the demo core to consume")

    def kill_core(self):
        self.core.send_signal(signal.SIGKILL)
        self.core.wait(20)
        self.core = None

    def consumers(self, queue):
        with Connection(self.uri) as conn:
            try:
                return conn.default_channel.queue_declare(queue, passive=True).consumer_count
            except Exception:  # noqa: BLE001  not declared yet
                return 0

    def waiting(self, queue):
        with Connection(self.uri) as conn:
            return conn.default_channel.queue_declare(queue, passive=True).message_count

    def answers(self):
        """How many requests the demo core has answered (its log, one line each)."""
        return self.core_log.read_text(errors="replace").count(" → request_")

    def ready(self, service, count=1):
        wait_for(lambda: self.consumers(f"rpc-{service}") >= count, f"{service} to consume")

    # --- the member's orders -------------------------------------------------------------------

    def rpc(self):
        return ClusterRpcProxy(self.config, timeout=30)

    def create(self, rpc, amount):
        return rpc.payments.create_transfer(
            member_number=MEMBER, from_account=SOURCE, to_account=TARGET, amount=amount
        )["transfer_id"]

    def confirm(self, rpc, order_id):
        return rpc.payments.confirm_transfer(
            member_number=MEMBER, order_id=order_id, method="totp", code=GOOD_CODE
        )

    def confirm_all(self, order_ids, clients=4, answers=None):
        """Confirm every order, `clients` at a time; {order_id: answer or exception}."""
        answers = {} if answers is None else answers
        todo = list(order_ids)

        def client():
            with self.rpc() as rpc:
                while todo:
                    order_id = todo.pop(0)
                    try:
                        answers[order_id] = self.confirm(rpc, order_id)
                    except Exception as exc:  # noqa: BLE001  the process was killed under it
                        answers[order_id] = exc

        pool = GreenPool(clients)
        for _ in range(clients):
            pool.spawn_n(client)
        return pool, answers

    def orders(self):
        with self.rpc() as rpc:
            return {o["transfer_id"]: o for o in rpc.payments.list_transfers(MEMBER)["transfers"]}

    def statuses(self):
        return sorted(o["status"] for o in self.orders().values())

    def balances(self, number):
        with self.rpc() as rpc:
            for item in rpc.accounts.list_accounts(MEMBER):
                if item["account_number"] == number:
                    return Decimal(item["balance"]), Decimal(item["available_balance"])
        return None

    def scalar(self, sql, **params):
        with self.accounts_db.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def unpublished_requests(self):
        with self.payments_db.connect() as conn:
            return conn.execute(
                text("SELECT count(*) FROM request_outbox WHERE published_at IS NULL")
            ).scalar()

    def stored_statuses(self):
        """The orders' states in payments' database (while payments is down)."""
        with self.payments_db.connect() as conn:
            return sorted(conn.execute(text("SELECT status FROM orders")).scalars())

    # --- the invariants ------------------------------------------------------------------------

    def situation(self):
        """What a failed wait shows: the orders' states and the open holds."""
        open_holds = self.scalar("SELECT count(*) FROM holds WHERE ended_at IS NULL")
        return f"orders {self.statuses()}, open holds {open_holds}, {self.balances(SOURCE)}"

    def wait_settled(self, timeout=60):
        try:
            return wait_for(self.settled, "every confirmed order completada", timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {self.situation()}") from None

    def settled(self):
        """Every confirmed order completada and nothing held any more (what the test waits for)."""
        orders = self.orders().values()
        confirmed = [o for o in orders if o["status"] not in ("por_confirmar", "anulada")]
        open_holds = self.scalar("SELECT count(*) FROM holds WHERE ended_at IS NULL")
        done = all(o["status"] == "completada" for o in confirmed) and open_holds == 0
        if done and self.balances(SOURCE) == (DEPOSIT - self.moved(confirmed),) * 2:
            return confirmed
        return None

    @staticmethod
    def moved(orders):
        return sum((Decimal(o["amount"]) for o in orders), Decimal("0.00"))

    def assert_exact(self, confirmed):
        """Each confirmed order executed once by the core and its hold ended once by its
        movement; both accounts exact to the cent, in the portal and in the core's books."""
        moved = self.moved(confirmed)
        request_ids = {o["request_id"] for o in confirmed}
        # one hold per confirmed order, each ended once, by the core's movement
        holds = self.scalar("SELECT count(*) FROM holds")
        by_movement = self.scalar("SELECT count(*) FROM holds WHERE end_reason = 'movement'")
        assert (holds, by_movement) == (len(request_ids), len(request_ids))
        # the core executed each request once: one debit and one credit each
        for number, side in ((SOURCE, "D"), (TARGET, "C")):
            references = self.scalar(
                "SELECT string_agg(reference, ',') FROM movements "
                "WHERE account_number = :n AND reference LIKE 'DEMO-%'",
                n=number,
            )
            expected = sorted(f"DEMO-{r[:8].upper()}-{side}" for r in request_ids)
            assert sorted((references or "").split(",") if references else []) == expected
        assert self.balances(SOURCE) == (DEPOSIT - moved, DEPOSIT - moved)
        assert self.balances(TARGET) == (moved, moved)
        # the demo core's own books say the same
        with sqlite3.connect(self.core_books) as books:
            core = dict(books.execute("SELECT number, balance FROM books").fetchall())
        assert {n: Decimal(core[n]) for n in (SOURCE, TARGET)} == {
            SOURCE: DEPOSIT - moved,
            TARGET: moved,
        }
        assert parked(self.uri, "accounts") == []
        assert parked(self.uri, "payments") == []


@pytest.fixture
def stack(tmp_path, rabbit_manager, amqp_base, make_db, container_factory):
    vhost, uri = make_vhost(rabbit_manager, amqp_base)
    accounts_db = make_db("accounts", backend="postgres", migrate=False)
    payments_db = make_db("payments", backend="postgres", migrate=False)
    portal = Portal(
        tmp_path,
        uri,
        extra_env={
            "ACCOUNTS_DATABASE_URL": accounts_db,
            "PAYMENTS_DATABASE_URL": payments_db,
            "DEMO_MEMBERS": "0",
            "PAYMENTS_SWEEP_SECONDS": "0.5",
            "PAYMENTS_SAGA_RETRY_SECONDS": "1",
            "CORE_REQUEST_RESEND_SECONDS": "2",
            "STOP_TIMEOUT": "3",
        },
    )
    portal.setup()
    broker_users.declare_requests(uri)  # what `make run` does at start
    portal.start("accounts")
    portal.start("payments")
    stack = Stack(portal, uri, accounts_db, payments_db, tmp_path)
    container_factory(OrderChallengeAuth, stack.config).start()
    stack.ready("payments")
    # the core's events go to accounts' queue once accounts declared it
    wait_for(lambda: stack.consumers("core.accounts") == 1, "accounts to consume core.accounts")
    publish_core(
        uri,
        *member_with_savings(MEMBER, SOURCE, TARGET),
        core_event(
            "movement_posted",
            {
                "account_number": SOURCE,
                "sequence": 1,
                "date": "2026-03-02",
                "posted_at": "2026-03-02T15:00:00Z",
                "description": "Depósito",
                "reference": "DEP-1",
                "debit": "0.00",
                "credit": f"{DEPOSIT:.2f}",
                "balance": f"{DEPOSIT:.2f}",
            },
        ),
    )
    wait_for(lambda: stack.balances(SOURCE) == (DEPOSIT, DEPOSIT), "the deposit applied")
    yield stack
    if stack.core is not None:
        stack.core.send_signal(signal.SIGTERM)
        stack.core.wait(20)
    for name in list(portal.procs):  # nothing to finish gracefully: the test has its figures
        portal.stop(name, sig=signal.SIGKILL)
    stack.accounts_db.dispose()
    stack.payments_db.dispose()
    rabbit_manager.delete_vhost(vhost)


def amounts(count, start=1):
    return [f"{Decimal(n) + Decimal('0.37'):.2f}" for n in range(start, start + count)]


def test_payments_killed_between_confirmation_and_publish(stack):
    """Payments is SIGKILLed at each step of the saga: while three confirmations wait for their
    holds (accounts stopped, so the orders are `confirmando` and the holds are taken only after
    the crash); with three orders `enviada` whose requests are written but not yet published
    (its relay cannot reach the broker); and in the middle of a stream of 40 confirmations.
    The restarted payments finishes every confirmed order from the step it reached."""
    # 1. three orders `confirmando`, their holds taken after payments died
    stack.start_core()
    with stack.rpc() as rpc:
        first = [stack.create(rpc, a) for a in amounts(3)]
    accounts = stack.portal.procs["accounts"]
    accounts.send_signal(signal.SIGSTOP)  # the holds' RPCs wait in accounts' queue
    pool, answers = stack.confirm_all(first, clients=3)
    wait_for(lambda: stack.statuses().count("confirmando") == 3, "three orders confirmando")
    stack.portal.stop("payments", sig=signal.SIGKILL)
    accounts.send_signal(signal.SIGCONT)
    # the holds are taken after payments died: their answers go nowhere
    wait_for(
        lambda: stack.scalar("SELECT count(*) FROM holds WHERE ended_at IS NULL") == 3,
        "the three holds taken",
    )
    assert stack.stored_statuses() == ["confirmando"] * 3
    stack.portal.start("payments")
    stack.ready("payments")
    pool.waitall()  # the confirmations the dead process had taken are refused now (409)
    stack.wait_settled()

    # 2. three orders `enviada`, their requests written, none published: payments' outbox relay
    # goes to the broker through a proxy that refuses it; then payments dies
    proxy = CuttableProxy()
    proxy.cut()
    stack.portal.stop("payments", sig=signal.SIGKILL)
    stack.portal.start("payments", env={"OUTBOX_AMQP_URI": proxy.uri(stack.uri)})
    stack.ready("payments")
    with stack.rpc() as rpc:
        unsent = [stack.create(rpc, a) for a in amounts(3)]
        assert [stack.confirm(rpc, o)["status"] for o in unsent] == ["enviada"] * 3
    assert stack.unpublished_requests() == 3
    stack.portal.stop("payments", sig=signal.SIGKILL)
    proxy.close()
    stack.portal.start("payments")  # its relay publishes them at start
    stack.ready("payments")
    stack.wait_settled()

    # 3. a stream of confirmations, payments killed once some of them completed
    with stack.rpc() as rpc:
        stream = [stack.create(rpc, a) for a in amounts(40)]
    pool, answers = stack.confirm_all(stream)
    wait_for(lambda: stack.statuses().count("completada") >= 5, "a part of the stream completed")
    stack.portal.stop("payments", sig=signal.SIGKILL)
    assert "por_confirmar" in stack.stored_statuses()  # the crash interrupted the stream
    stack.portal.start("payments")
    stack.ready("payments")
    pool.waitall()
    pool, answers = stack.confirm_all(  # what the crash left unconfirmed is confirmed now
        [o for o, s in stack.orders().items() if s["status"] == "por_confirmar"], answers=answers
    )
    pool.waitall()

    confirmed = stack.wait_settled()
    assert len(confirmed) == 46
    stack.assert_exact(confirmed)


def test_accounts_killed_while_the_core_answers(stack):
    """Twenty orders are sent while the core's answers stream in; accounts is SIGKILLed after
    some movements were applied and started again."""
    stack.start_core()
    with stack.rpc() as rpc:
        order_ids = [stack.create(rpc, a) for a in amounts(20)]
    pool, _ = stack.confirm_all(order_ids)
    wait_for(
        lambda: stack.scalar("SELECT count(*) FROM movements WHERE reference LIKE 'DEMO-%'") >= 6,
        "some of the core's movements applied",
    )
    stack.portal.stop("accounts", sig=signal.SIGKILL)
    assert stack.statuses().count("completada") < 20  # answers were still streaming in
    pool.waitall()
    stack.portal.start("accounts")
    stack.ready("accounts")
    confirmed = stack.wait_settled()
    assert len(confirmed) + stack.statuses().count("por_confirmar") == 20
    stack.assert_exact(confirmed)


def test_the_core_down_then_back(stack):
    """The demo core's process is killed: confirmed orders stay `enviada` and are sent again with
    the same request_id; it comes back and completes each once. A copy of a request that reaches
    a core which already executed it (a resend crossing the answer, its process restarted in
    between) is answered again, not executed again."""
    stack.start_core()  # its queue is bound: what comes while it is down waits there
    stack.kill_core()
    with stack.rpc() as rpc:
        order_ids = [stack.create(rpc, a) for a in amounts(5)]
    pool, answers = stack.confirm_all(order_ids)
    pool.waitall()
    assert sorted(a["status"] for a in answers.values()) == ["enviada"] * 5
    # nobody answers: each request is sent again every 2 s with the same id
    wait_for(lambda: stack.waiting(CORE_QUEUE) >= 10, "every request sent a second time")
    assert stack.statuses() == ["enviada"] * 5
    with Connection(stack.uri) as conn:
        channel = conn.channel()
        copies = {}
        while (message := channel.basic_get(CORE_QUEUE, no_ack=False)) is not None:
            body = message.body
            request = json.loads(body)
            copies.setdefault(request["request_id"], []).append(body)
        channel.close()  # the copies go back to the queue, unacknowledged
    assert set(copies) == {a["request_id"] for a in answers.values()}
    assert all(len(c) >= 2 and len(set(c)) == 1 for c in copies.values())  # the same request

    stack.start_core()
    confirmed = stack.wait_settled()
    assert len(confirmed) == 5
    # the core restarts; a resend that crossed its answer reaches it again
    stack.kill_core()
    stack.start_core()
    answered = stack.answers()
    with Connection(stack.uri) as conn:
        producer = conn.Producer(exchange=PORTAL_REQUESTS)
        for bodies in copies.values():
            producer.publish(
                bodies[0],
                routing_key="transfer",
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
            )
    wait_for(lambda: stack.answers() >= answered + 5, "the core to answer the copies again")
    stack.assert_exact(confirmed)


def test_two_payments_instances_and_two_confirmations_at_once(stack):
    """Two payments processes share the RPCs, the core's answers and the sweeps; every order is
    confirmed twice at the same moment: one confirmation takes effect, the other is refused."""
    stack.portal.start("payments", instance="payments-2")
    stack.ready("payments", count=2)
    stack.start_core()
    with stack.rpc() as rpc:
        order_ids = [stack.create(rpc, a) for a in amounts(10)]
    outcomes = {}

    def confirm(order_id):
        with stack.rpc() as rpc:
            try:
                outcomes.setdefault(order_id, []).append(stack.confirm(rpc, order_id)["status"])
            except Conflict:
                outcomes.setdefault(order_id, []).append("conflict")

    pool = GreenPool(20)
    for order_id in order_ids:
        pool.spawn_n(confirm, order_id)
        pool.spawn_n(confirm, order_id)
    pool.waitall()
    for order_id, both in outcomes.items():
        taken = [s for s in both if s in ("enviada", "completada")]
        assert len(taken) == 1 and len(both) == 2, (order_id, both)
        # the other one is refused: the order is no longer por_confirmar (409)
        assert [s for s in both if s not in taken] == ["conflict"], both
    confirmed = stack.wait_settled()
    assert len(confirmed) == 10
    stack.assert_exact(confirmed)
