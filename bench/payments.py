"""`python -m bench --only payments`: transfers end to end through the demo core
(docs/payments.md), measured on processes of its own: accounts and payments on their embedded
SQLite databases (what `make run` uses), the demo core (scripts/demo_core.py), and a stand-in
auth that accepts the order's code at once (auth's own second-factor check is not what is
measured here; it needs an e-mailed code or a fresh app code per order).

Two figures, each from confirmation to `completada`:
- throughput: a batch of orders confirmed by several clients at once, as fast as they go;
  orders per second from the first confirmation sent to the last order completed;
- latency at a paced 10 orders per second: the time from sending each confirmation to the
  moment payments recorded it `completada` (its `answered_at`), median and p95 (target p95 < 1 s).

The orders are created beforehand (creation is not a confirmation). Every order is checked
`completada` at the end, and both balances exact to the cent.
"""

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import requests
from kombu import Connection, Exchange, Producer
from sqlalchemy import create_engine, text

from scripts import broker_users
from scripts.processes import Portal
from services.common.amqp import with_vhost
from services.common.config import PROJECT_ROOT, amqp_uri, env
from services.common.entrypoints import rpc

MEMBER = "300990"
SOURCE, TARGET = "4300990001", "4300990002"
DEPOSIT = Decimal("100000.00")
CODE = "246810"
BATCH = int(os.environ.get("BENCH_PAYMENTS_BATCH", "300"))
CLIENTS = 8
RATE = 10.0  # orders per second, paced
PACED_SECONDS = int(os.environ.get("BENCH_PAYMENTS_SECONDS", "20"))
CORE = Exchange("core.events", type="topic", durable=True)


class StandInAuth:
    """`auth` as far as payments uses it (PAYMENTS_AUTH_CONTRACT.md): every challenge is
    confirmed by CODE, bound to the digest it was started with."""

    name = "auth"
    challenges: dict[str, str] = {}

    @rpc
    def start_order_challenge(self, member_number=None, order_id=None, digest=None, summary=None):
        challenge_id = str(uuid.uuid4())
        StandInAuth.challenges[challenge_id] = digest
        return {
            "challenge_id": challenge_id,
            "methods": ["totp"],
            "challenge_expires_at": "2099-01-01T00:00:00Z",
        }

    @rpc
    def verify_order_code(self, challenge_id=None, digest=None, method=None, code=None):
        valid = StandInAuth.challenges.get(challenge_id) == digest and code == CODE
        return {"valid": valid, "method": method}


def serve_auth():
    """The stand-in auth as its own process (`python -c` below, eventlet patched first)."""
    from nameko.runners import ServiceRunner

    runner = ServiceRunner({"AMQP_URI": os.environ["AMQP_URI"], "serializer": "json"})
    runner.add_service(StandInAuth)
    runner.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.is_set():
        time.sleep(0.2)
    runner.stop()


def _api():
    return env("RABBIT_API_URI", "http://guest:guest@127.0.0.1:15672").rstrip("/")


def _vhost():
    name = f"bench_payments_{uuid.uuid4().hex[:8]}"
    requests.put(f"{_api()}/api/vhosts/{name}", timeout=10).raise_for_status()
    requests.put(
        f"{_api()}/api/permissions/{name}/guest",
        json={"configure": ".*", "write": ".*", "read": ".*"},
        timeout=10,
    ).raise_for_status()
    return name, with_vhost(amqp_uri(), name)


def _consumers(vhost, queue):
    answer = requests.get(f"{_api()}/api/queues/{vhost}/{queue}", timeout=10)
    return answer.json().get("consumers", 0) if answer.status_code == 200 else 0


def _wait(check, what, timeout=120):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _core_events(core_uri, events):
    with Connection(core_uri, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        CORE(channel).declare()
        producer = Producer(channel)
        for event in events:
            producer.publish(
                json.dumps(event),
                exchange=CORE,
                routing_key=event["event_type"],
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
                user_id=conn.userid,
            )


def _event(event_type, data):
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "source": "core",
        "occurred_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "version": 1,
        "data": data,
    }


def _member_events():
    today = datetime.now(UTC).date().isoformat()
    return [
        _event(
            "member_upserted",
            {
                "member_number": MEMBER,
                "identification": "1710034065",
                "first_names": "Rosa",
                "last_names": "Mena",
                "email": "rosa.mena@example.com",
                "phone": None,
                "status": "activo",
            },
        ),
        *(
            _event(
                "account_opened",
                {
                    "account_number": number,
                    "member_number": MEMBER,
                    "product": "AHORRO_VISTA",
                    "opened_on": today,
                },
            )
            for number in (SOURCE, TARGET)
        ),
        _event(
            "movement_posted",
            {
                "account_number": SOURCE,
                "sequence": 1,
                "date": today,
                "posted_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "description": "Depósito",
                "reference": "BENCH-DEP",
                "debit": "0.00",
                "credit": f"{DEPOSIT:.2f}",
                "balance": f"{DEPOSIT:.2f}",
            },
        ),
    ]


class Clients:
    """One RPC proxy per thread (a standalone proxy is not shared)."""

    def __init__(self, uri):
        from nameko.standalone.rpc import ClusterRpcProxy

        self.config = {"AMQP_URI": uri, "serializer": "json"}
        self.proxy_class = ClusterRpcProxy
        self.local = threading.local()
        self.proxies = []
        self.lock = threading.Lock()

    def rpc(self):
        if not hasattr(self.local, "rpc"):
            proxy = self.proxy_class(self.config, timeout=30)
            self.local.rpc = proxy.start()
            with self.lock:
                self.proxies.append(proxy)
        return self.local.rpc

    def stop(self):
        for proxy in self.proxies:
            proxy.stop()

    def create(self, count, amount="1.00"):
        rpc = self.rpc()
        return [
            rpc.payments.create_transfer(
                member_number=MEMBER, from_account=SOURCE, to_account=TARGET, amount=amount
            )["transfer_id"]
            for _ in range(count)
        ]

    def confirm(self, order_id):
        return self.rpc().payments.confirm_transfer(
            member_number=MEMBER, order_id=order_id, method="totp", code=CODE
        )


def _answered(engine, order_ids):
    """{order_id: answered_at as a UTC timestamp} of the orders completada so far."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, answered_at FROM orders WHERE status = 'completada'")
        ).all()
    wanted = set(order_ids)
    out = {}
    for order_id, answered_at in rows:
        if order_id in wanted:
            when = answered_at if isinstance(answered_at, datetime) else _parse(answered_at)
            out[order_id] = when.replace(tzinfo=UTC).timestamp()
    return out


def _parse(value):
    return datetime.fromisoformat(str(value))


def _wait_completed(engine, order_ids, timeout=120, poll=0.05):
    deadline = time.monotonic() + timeout
    while True:
        done = _answered(engine, order_ids)
        if len(done) == len(order_ids):
            return done
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(order_ids) - len(done)} orders not completada")
        time.sleep(poll)


def _cpu(pids):
    """{name: CPU seconds used so far} of each process (user + system, /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for name, pid in pids.items():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        out[name] = (int(fields[11]) + int(fields[12])) / tick
    return out


def _throughput(clients, engine, pids):
    order_ids = clients.create(BATCH)
    todo = list(order_ids)
    lock = threading.Lock()
    errors = []

    def client():
        while True:
            with lock:
                if not todo:
                    return
                order_id = todo.pop()
            try:
                clients.confirm(order_id)
            except Exception as exc:  # noqa: BLE001  counted
                errors.append(repr(exc))

    cpu_before = _cpu(pids)
    started = time.time()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    confirmed = time.time()
    done = _wait_completed(engine, order_ids)
    last = max(done.values())
    cpu_after = _cpu(pids)
    return {
        "cpu_ms_per_order": {
            name: (cpu_after[name] - cpu_before[name]) * 1000 / len(order_ids) for name in pids
        },
        "orders": len(order_ids),
        "clients": CLIENTS,
        "errors": len(errors),
        "confirm_per_second": len(order_ids) / (confirmed - started),
        "per_second": len(order_ids) / (last - started),
        "seconds": last - started,
    }


def _one_at_a_time(clients, engine, count=20):
    """The path's own latency: each order confirmed once the previous one completed."""
    latencies = []
    for order_id in clients.create(count):
        sent = time.time()
        clients.confirm(order_id)
        done = _wait_completed(engine, [order_id], poll=0.005)
        latencies.append((done[order_id] - sent) * 1000)
    latencies.sort()
    return {"orders": count, "median_ms": statistics.median(latencies), "max_ms": latencies[-1]}


def _paced(clients, engine):
    count = int(RATE * PACED_SECONDS)
    order_ids = clients.create(count)
    sent = {}
    errors = []
    start = time.monotonic() + 0.5
    slots = list(enumerate(order_ids))
    lock = threading.Lock()

    def client():
        while True:
            with lock:
                if not slots:
                    return
                index, order_id = slots.pop(0)
            pause = start + index / RATE - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            sent[order_id] = time.time()
            try:
                clients.confirm(order_id)
            except Exception as exc:  # noqa: BLE001  counted
                errors.append(repr(exc))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = _wait_completed(engine, order_ids)
    latencies = sorted((done[o] - sent[o]) * 1000 for o in order_ids)
    return {
        "orders": count,
        "rate": RATE,
        "errors": len(errors),
        "median_ms": statistics.median(latencies),
        "p95_ms": latencies[int(len(latencies) * 0.95) - 1],
        "max_ms": latencies[-1],
    }


def run():
    workdir = Path(tempfile.mkdtemp(prefix="bench-payments-"))
    vhost, uri = _vhost()
    accounts_db = f"sqlite:///{workdir / 'accounts.db'}"
    payments_db = f"sqlite:///{workdir / 'payments.db'}"
    portal = Portal(
        workdir,
        uri,
        extra_env={
            "ACCOUNTS_DATABASE_URL": accounts_db,
            "PAYMENTS_DATABASE_URL": payments_db,
            "DEMO_MEMBERS": "0",
            "LOG_LEVEL": "WARNING",
            # the bench's own member moves more than a member may in a day to others; these are
            # transfers between the member's own accounts, which count no limit anyway
        },
    )
    extra = []
    clients = None
    engine = create_engine(payments_db)
    try:
        portal.setup()
        broker_users.declare_requests(uri)
        core_uri = broker_users.ensure_core(uri)
        portal.start("accounts")
        portal.start("payments")
        log = open(workdir / "bench-auth.log", "ab")  # noqa: SIM115  closed with the process
        extra.append(
            subprocess.Popen(  # noqa: S603  our own stand-in
                [
                    sys.executable,
                    "-c",
                    "import eventlet; eventlet.monkey_patch(); "
                    "from bench.payments import serve_auth; serve_auth()",
                ],
                cwd=PROJECT_ROOT,
                env=portal.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        extra.append(
            subprocess.Popen(  # noqa: S603  our own demo core
                [sys.executable, "-m", "scripts.demo_core"],
                cwd=PROJECT_ROOT,
                env={
                    **portal.env,
                    "CORE_AMQP_URI": core_uri,
                    "DEMO_CORE_BOOKS": str(workdir / "demo-core-books.db"),
                },
                stdout=subprocess.DEVNULL,
                stderr=open(workdir / "demo-core.log", "ab"),  # noqa: SIM115
            )
        )
        for queue in ("core.accounts", "rpc-payments", "rpc-auth", "portal.requests.core"):
            _wait(lambda q=queue: _consumers(vhost, q) >= 1, f"a consumer on {queue}")
        _core_events(core_uri, _member_events())
        clients = Clients(uri)
        _wait(
            lambda: any(
                a["account_number"] == SOURCE and Decimal(a["available_balance"]) == DEPOSIT
                for a in clients.rpc().accounts.list_accounts(MEMBER)
            ),
            "the deposit applied",
        )
        clients.confirm(clients.create(1)[0])  # warm up
        print("  payments: one order at a time…", flush=True)
        results = {"one_at_a_time": _one_at_a_time(clients, engine)}
        print("  payments: throughput…", flush=True)
        pids = {
            "payments": portal.procs["payments"].pid,
            "accounts": portal.procs["accounts"].pid,
            "demo core": extra[1].pid,
            "stand-in auth": extra[0].pid,
        }
        results["throughput"] = _throughput(clients, engine, pids)
        time.sleep(2)  # the machine settles between the two
        print("  payments: paced 10 orders/s…", flush=True)
        results["paced"] = _paced(clients, engine)
        moved = Decimal(21 + BATCH + int(RATE * PACED_SECONDS))  # 1.00 each
        balances = {
            a["account_number"]: (a["balance"], a["available_balance"])
            for a in clients.rpc().accounts.list_accounts(MEMBER)
        }
        _wait(
            lambda: (
                {
                    a["account_number"]: (a["balance"], a["available_balance"])
                    for a in clients.rpc().accounts.list_accounts(MEMBER)
                }
                == {
                    SOURCE: (f"{DEPOSIT - moved:.2f}",) * 2,
                    TARGET: (f"{moved:.2f}",) * 2,
                }
            ),
            f"balances exact after {moved} orders (now {balances})",
            timeout=30,
        )
        results["balances_exact"] = True
        results["load_average"] = os.getloadavg()[0]  # the machine may be shared
        results["cores"] = os.cpu_count()
        return results
    finally:
        if clients is not None:
            clients.stop()
        engine.dispose()
        for proc in extra:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        portal.stop_all()
        requests.delete(f"{_api()}/api/vhosts/{vhost}", timeout=10)


def section(r):
    t, p, one = r["throughput"], r["paced"], r["one_at_a_time"]
    cpu = t["cpu_ms_per_order"]
    return "\n".join(
        [
            "",
            "## Transfers through the demo core",
            "",
            "`python -m bench --only payments` (bench/payments.py): transfers "
            "between a member's own accounts, from the confirmation to `completada`, end to end "
            "through payments (the saga: limits, the hold in accounts, the request outbox), the "
            "broker, the demo core (its books, the movements and the answer on `core.events`), "
            "accounts applying the movements and payments applying the answer. One process of "
            "each service on SQLite; a stand-in auth accepts each order's code at once. Every "
            "order ended `completada` and both balances exact to the cent.",
            "",
            "| measurement | median | p95 | max | rate | target |",
            "|---|---|---|---|---|---|",
            f"| {t['orders']} orders confirmed by {t['clients']} clients at once "
            f"(confirmations answered at {t['confirm_per_second']:.0f}/s) | | | | "
            f"**{t['per_second']:.1f} orders/s** completed | |",
            f"| confirmation → `completada`, paced at {p['rate']:.0f} orders/s "
            f"({p['orders']} orders) | {p['median_ms']:.0f} ms | {p['p95_ms']:.0f} ms | "
            f"{p['max_ms']:.0f} ms | | p95 < 1 s |",
            f"| confirmation → `completada`, one order at a time ({one['orders']} orders: the "
            f"path without queueing) | {one['median_ms']:.0f} ms | | {one['max_ms']:.0f} ms | | |",
            "",
            "CPU per order during the batch (the broker not counted): "
            + ", ".join(f"{name} {ms:.1f} ms" for name, ms in cpu.items())
            + f"; {sum(cpu.values()):.1f} ms in all. Load average at the end of the run: "
            f"{r['load_average']:.1f} on {r['cores']} cores (other work shares the machine: "
            "the latencies above include waiting for a core).",
        ]
    )


if __name__ == "__main__":
    figures = run()
    print(json.dumps(figures, indent=2))
    print(section(figures))
