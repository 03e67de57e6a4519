"""Inbound `movement_posted` applied per second by one accounts process (part of `make bench`).

python -m bench.inbound [sqlite|postgres] [COUNT] [--live PUBLISHERS]

Two measures. `measure` (the backlog): the movements (ordered per account, interleaved over 20
accounts) wait in `core.accounts` while the process is stopped; it is then started and timed from
its first applied movement to its last. `measure_live` (the core at work, measured from outside):
PUBLISHERS processes, each the connector of its own accounts, publish their movements at once
(persistent, with confirms, in each account's order) while accounts runs; an outside consumer
bound to `accounts.events` counts the portal's own `movement_posted` events, and the rate is
count / (last event seen − first publish): nothing of the portal is asked or timed from inside.

The movements (ordered per account, interleaved over 20 accounts) wait in `core.accounts` while
the process is stopped; it is then started and timed from its first applied movement to its last,
each one through the whole path: envelope check, inbox claim, account lock, order decision,
reference and balance checks, the insert, the account update, the outbox event, commit, ack.

Member changes first (docs/integration.md): once the burst is being applied, the core says the
member is `inactivo`; timed from that publish until accounts applied it (`member_applied_s`) and
until its `accounts.member_updated` reached a queue bound as auth's is (`member_published_s`:
what auth refuses the login on), with how many movements were applied by then.
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

import requests
from kombu import Connection, Exchange, Producer, Queue
from sqlalchemy import create_engine, text

from scripts import broker_users
from scripts.processes import Portal
from services.common.amqp import with_vhost
from services.common.config import amqp_uri, env
from services.common.migrate import upgrade

ACCOUNTS = 20
PG_ADMIN = env("BENCH_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
CORE = Exchange("core.events", type="topic", durable=True)


def _api():
    return env("RABBIT_API_URI", "http://guest:guest@127.0.0.1:15672").rstrip("/")


def _vhost():
    name = f"bench_inbound_{uuid.uuid4().hex[:8]}"
    requests.put(f"{_api()}/api/vhosts/{name}", timeout=10).raise_for_status()
    requests.put(
        f"{_api()}/api/permissions/{name}/guest",
        json={"configure": ".*", "write": ".*", "read": ".*"},
        timeout=10,
    ).raise_for_status()
    return name, with_vhost(amqp_uri(), name)


def _database(backend, workdir):
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'accounts.db'}", None
    name = f"bench_inbound_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", name


def _event(event_type, data):
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "source": "core",
        "occurred_at": "2026-03-02T15:00:00Z",
        "version": 1,
        "data": data,
    }


def _publish(uri, events):
    # as the core: its own broker user, named in `user_id` (docs/integration.md, "Who is the core")
    with Connection(
        broker_users.ensure_core(uri), transport_options={"confirm_publish": True}
    ) as conn:
        channel = conn.channel()
        CORE(channel).declare()
        producer = Producer(channel)
        for event in events:
            producer.publish(
                json.dumps(event),
                exchange=CORE,
                routing_key=event["event_type"],
                content_type="application/json",
                delivery_mode=2,
                user_id=conn.userid,
            )


def _member(status):
    return _event(
        "member_upserted",
        {
            "member_number": "900001",
            "identification": "1710034065",
            "first_names": "Banco",
            "last_names": "Prueba",
            "email": "bench@example.com",
            "phone": None,
            "status": status,
        },
    )


def _probe(uri):
    """A queue bound to accounts.member_updated, as auth's: where the member change arrives."""
    queue = Queue(
        f"bench-member-probe-{uuid.uuid4().hex[:6]}",
        exchange=Exchange("accounts.events", type="topic", durable=True),
        routing_key="member_updated",
        auto_delete=False,
    )
    with Connection(uri) as conn:
        queue(conn.channel()).declare()
    return queue.name


def _probe_has_message(uri, name):
    with Connection(uri) as conn:
        return conn.channel().basic_get(name, no_ack=True) is not None


def _setup_events():
    member = _member("activo")
    opened = [
        _event(
            "account_opened",
            {
                "account_number": f"49000010{n:02d}",
                "member_number": "900001",
                "product": "AHORRO_VISTA",
                "opened_on": "2026-03-01",
            },
        )
        for n in range(ACCOUNTS)
    ]
    return [member, *opened]


def _movements(count):
    balances, events = {}, []
    for i in range(count):
        number = f"49000010{i % ACCOUNTS:02d}"
        seq = i // ACCOUNTS + 1
        balance = balances.get(number, Decimal("0.00")) + Decimal("1.25")
        balances[number] = balance
        events.append(
            _event(
                "movement_posted",
                {
                    "account_number": number,
                    "sequence": seq,
                    "date": "2026-03-02",
                    "posted_at": "2026-03-02T15:00:00Z",
                    "description": "Depósito",
                    "reference": f"B-{number}-{seq}",
                    "debit": "0.00",
                    "credit": "1.25",
                    "balance": f"{balance:.2f}",
                },
            )
        )
    return events


def _count(engine):
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM movements")).scalar()


def measure(backend, count):
    """{"per_second", "count", "seconds"} of one accounts process applying `count` movements."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-inbound-"))
    vhost, uri = _vhost()
    url, pg_name = _database(backend, workdir)
    upgrade("accounts", url)
    engine = create_engine(url)
    portal = Portal(workdir, uri, extra_env={"ACCOUNTS_DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
    try:
        portal.start("accounts")
        _wait(lambda: _consumers(vhost) >= 1, "the accounts process to consume core.accounts")
        _publish(uri, _setup_events())
        _wait(
            lambda: _scalar(engine, "SELECT count(*) FROM savings_accounts") == ACCOUNTS,
            "accounts opened",
        )
        portal.stop("accounts")
        _publish(uri, _movements(count))
        portal.start("accounts")
        probe = _probe(uri)
        _wait(lambda: _count(engine) > 0, "the first movement", timeout=60)
        pid = portal.procs["accounts"].pid
        start, first, cpu = time.monotonic(), _count(engine), _cpu_seconds(pid)
        # the core says the member is inactive while the burst is being applied (timed beside it)
        member = {}
        watcher = threading.Thread(target=_member_change, args=(uri, engine, probe, member))
        watcher.start()
        if os.environ.get("BENCH_INBOUND_PROFILE"):  # where the time goes: py-spy, collapsed
            spy = Path(sys.executable).parent / "py-spy"
            subprocess.Popen(  # noqa: S603
                [
                    str(spy),
                    "record",
                    "-d",
                    "8",
                    "-f",
                    "raw",
                    "-o",
                    os.environ["BENCH_INBOUND_PROFILE"],
                    "-p",
                    str(portal.procs["accounts"].pid),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        _wait(lambda: _count(engine) >= count, "every movement", timeout=600, interval=0.05)
        seconds, cpu_applied = time.monotonic() - start, _cpu_seconds(pid)
        applied = count - first
        watcher.join()
        # the portal's own movement_posted events leave through the outbox relay (same process)
        _wait(
            lambda: _scalar(engine, "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0,
            "the outbox relay to publish every event",
            timeout=600,
            interval=0.05,
        )
        drained = time.monotonic() - start
        return {
            "per_second": applied / seconds,
            "count": count,
            "seconds": seconds,
            # CPU of the accounts process per movement: what the machine's other load cannot hide
            "cpu_ms_per_movement": (cpu_applied - cpu) * 1000 / applied,
            # the same until the last outbox event is published too
            "per_second_with_outbox": applied / drained,
            "cpu_ms_per_movement_with_outbox": (_cpu_seconds(pid) - cpu) * 1000 / applied,
            # member changes first: seconds from the core's publish, and the burst's progress
            **member,
        }
    finally:
        portal.stop_all()
        engine.dispose()
        requests.delete(f"{_api()}/api/vhosts/{vhost}", timeout=10)
        if pg_name:
            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
            admin.dispose()


def _member_change(uri, engine, probe, out):
    """Publish the member's `inactivo` and time it to accounts and out of its outbox."""
    _publish(uri, [_member("inactivo")])
    said = time.monotonic()
    _wait(
        lambda: _scalar(engine, "SELECT status FROM members") == "inactivo",
        "the member change",
        timeout=600,
        interval=0.01,
    )
    out["member_applied_s"] = time.monotonic() - said
    out["movements_applied_at_member_change"] = _count(engine)
    _wait(lambda: _probe_has_message(uri, probe), "member_updated", timeout=600, interval=0.01)
    out["member_published_s"] = time.monotonic() - said


def _cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _scalar(engine, sql):
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


def _consumers(vhost):
    answer = requests.get(f"{_api()}/api/queues/{vhost}/core.accounts", timeout=10)
    return answer.json().get("consumers", 0) if answer.status_code == 200 else 0


def _wait(check, what, timeout=60, interval=0.2):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(interval)


LIVE_ACCOUNTS = 40


def _live_movements(count, publishers):
    """[[event, …] per publisher]: each publisher owns LIVE_ACCOUNTS / publishers accounts and
    sends their movements in order, interleaved over them."""
    per_publisher = [[] for _ in range(publishers)]
    balances = {}
    for i in range(count):
        account = i % LIVE_ACCOUNTS
        number = f"49000010{account:02d}"
        seq = i // LIVE_ACCOUNTS + 1
        balance = balances.get(number, Decimal("0.00")) + Decimal("1.25")
        balances[number] = balance
        per_publisher[account % publishers].append(
            _event(
                "movement_posted",
                {
                    "account_number": number,
                    "sequence": seq,
                    "date": "2026-03-02",
                    "posted_at": "2026-03-02T15:00:00Z",
                    "description": "Depósito",
                    "reference": f"B-{number}-{seq}",
                    "debit": "0.00",
                    "credit": "1.25",
                    "balance": f"{balance:.2f}",
                },
            )
        )
    return per_publisher


def _publisher(uri, events, go, window=0):
    """One connector: waits for the start, then publishes its events with confirms — each one
    waited for (`window` 0), or up to `window` in flight, their confirms awaited together (what
    a connector does to publish faster; nothing is done before the broker confirmed it). As the
    core: `uri` is the core's broker user, named in each message's `user_id` (else the portal
    parks it: docs/integration.md, "Who is the core")."""
    bodies = [(json.dumps(e), e["event_type"]) for e in events]
    if not window:
        with Connection(uri, transport_options={"confirm_publish": True}) as conn:
            producer = Producer(conn.channel())
            go.wait()
            for body, key in bodies:
                producer.publish(
                    body,
                    exchange=CORE,
                    routing_key=key,
                    content_type="application/json",
                    delivery_mode=2,
                    user_id=conn.userid,
                )
        return
    import amqp

    with Connection(uri) as conn:
        channel = conn.channel()
        channel.confirm_select()
        confirmed = [0]  # the highest delivery tag confirmed (multiple acks cover the ones before)
        channel.events["basic_ack"].add(
            lambda tag, multiple: confirmed.__setitem__(0, max(confirmed[0], tag))
        )
        channel.events["basic_nack"].add(
            lambda tag, multiple: (_ for _ in ()).throw(RuntimeError(f"nack {tag}"))
        )
        go.wait()
        sent = 0
        for body, key in bodies:
            message = amqp.Message(
                body, content_type="application/json", delivery_mode=2, user_id=conn.userid
            )
            channel.basic_publish(message, exchange=CORE.name, routing_key=key)
            sent += 1
            while sent - confirmed[0] >= window:
                conn.drain_events(timeout=30)
        while confirmed[0] < sent:
            conn.drain_events(timeout=30)


def measure_live(backend, count, publishers=4, profile=None, window=0):
    """{"per_second", "count", "seconds", "publishers", "cpu_ms_per_movement"}: movements applied
    per second while `publishers` processes publish them, seen from outside."""
    import multiprocessing

    from services.common.events import exchange_for

    workdir = Path(tempfile.mkdtemp(prefix="bench-inbound-live-"))
    vhost, uri = _vhost()
    url, pg_name = _database(backend, workdir)
    upgrade("accounts", url)
    engine = create_engine(url)
    level = env("BENCH_LOG_LEVEL", "WARNING")  # DEBUG: the accounts log says each batch's size
    portal = Portal(workdir, uri, extra_env={"ACCOUNTS_DATABASE_URL": url, "LOG_LEVEL": level})
    context = multiprocessing.get_context("spawn")
    try:
        portal.start("accounts")
        _wait(lambda: _consumers(vhost) >= 1, "the accounts process to consume core.accounts")
        events = _setup_events()[:1] + [
            _event(
                "account_opened",
                {
                    "account_number": f"49000010{n:02d}",
                    "member_number": "900001",
                    "product": "AHORRO_VISTA",
                    "opened_on": "2026-03-01",
                },
            )
            for n in range(LIVE_ACCOUNTS)
        ]
        _publish(uri, events)
        _wait(
            lambda: _scalar(engine, "SELECT count(*) FROM savings_accounts") == LIVE_ACCOUNTS,
            "accounts opened",
        )
        go = context.Event()
        core = broker_users.ensure_core(uri)
        procs = [
            context.Process(target=_publisher, args=(core, share, go, window), daemon=True)
            for share in _live_movements(count, publishers)
        ]
        with Connection(uri) as conn:
            channel = conn.channel()
            # the outside observer: the portal's own events, as any subscriber sees them
            outside = channel.queue_declare("", exclusive=True).queue
            exchange_for("accounts")(channel).declare()
            channel.queue_bind(outside, "accounts.events", "movement_posted")
            for proc in procs:
                proc.start()
            time.sleep(2)  # the publishers connected and built their messages
            pid = portal.procs["accounts"].pid
            cpu = _cpu_seconds(pid)
            if profile:  # where the time goes: py-spy, collapsed stacks
                spy = Path(sys.executable).parent / "py-spy"
                subprocess.Popen(  # noqa: S603
                    [str(spy), "record", "-d", "10", "-f", "raw", "-o", profile, "-p", str(pid)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            seen = 0
            start = time.monotonic()
            go.set()

            def count_one(_message):
                nonlocal seen
                seen += 1

            channel.basic_consume(outside, callback=count_one, no_ack=True)
            deadline = start + 600
            last = published = start
            while seen < count and time.monotonic() < deadline:
                try:
                    conn.drain_events(timeout=0.2)
                    last = time.monotonic()
                except TimeoutError:
                    pass
                if published == start and not any(p.is_alive() for p in procs):
                    published = time.monotonic()  # every publisher had its confirms
            seconds = last - start
            cpu_used = _cpu_seconds(pid) - cpu
        for proc in procs:
            proc.join(10)
        if seen < count:
            raise RuntimeError(f"only {seen} of {count} movements seen within 600 s")
        return {
            "per_second": count / seconds,
            "count": count,
            "seconds": seconds,
            # the connectors' side: every movement published and confirmed by the broker
            "publish_seconds": (published - start) if published > start else seconds,
            "publishers": publishers,
            "confirm_window": window,
            "cpu_ms_per_movement": cpu_used * 1000 / count,
            "workdir": str(workdir),
        }
    finally:
        portal.stop_all()
        engine.dispose()
        requests.delete(f"{_api()}/api/vhosts/{vhost}", timeout=10)
        if pg_name:
            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
            admin.dispose()


def main():
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.inbound")
    parser.add_argument("backend", nargs="?", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("count", nargs="?", type=int, default=int(env("BENCH_INBOUND", "20000")))
    parser.add_argument("--live", type=int, metavar="PUBLISHERS", help="measure_live")
    parser.add_argument("--profile", help="measure_live: py-spy raw output file")
    parser.add_argument(
        "--window", type=int, default=0, help="measure_live: confirms in flight per publisher"
    )
    args = parser.parse_args()
    if args.live:
        result = measure_live(args.backend, args.count, args.live, args.profile, args.window)
    else:
        result = measure(args.backend, args.count)
    print(json.dumps({"backend": args.backend, **result}))


if __name__ == "__main__":
    main()
