"""Inbound `movement_posted` applied per second by one accounts process (part of `make bench`).

python -m scripts.bench_inbound [sqlite|postgres] [COUNT]

The movements (ordered per account, interleaved over 20 accounts) wait in `core.accounts` while
the process is stopped; it is then started and timed from its first applied movement to its last,
each one through the whole path: envelope check, inbox claim, account lock, order decision,
reference and balance checks, the insert, the account update, the outbox event, commit, ack.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import requests
from kombu import Connection, Exchange, Producer
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


def _setup_events():
    member = _event(
        "member_upserted",
        {
            "member_number": "900001",
            "identification": "1710034065",
            "first_names": "Banco",
            "last_names": "Prueba",
            "email": "bench@example.com",
            "phone": None,
            "status": "activo",
        },
    )
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
        _wait(lambda: _count(engine) > 0, "the first movement", timeout=60)
        pid = portal.procs["accounts"].pid
        start, first, cpu = time.monotonic(), _count(engine), _cpu_seconds(pid)
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


def main():
    backend = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else int(os.environ.get("BENCH_INBOUND", 20000))
    print(json.dumps({"backend": backend, **measure(backend, count)}))


if __name__ == "__main__":
    main()
