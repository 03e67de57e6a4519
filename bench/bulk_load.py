"""The bulk load's benchmark (part of `make bench`; alone: `python -m bench.bulk_load`).

Generates a directory of core files (BENCH_IMPORT_MOVEMENTS movements, default 1 000 000, over
100 movements per account), then, on PostgreSQL and on SQLite: fresh databases, the accounts,
credit and deposit services as their own processes on a vhost of their own, and the operator's
`python -m scripts.portal import DIR` timed end to end (reading, every check, the RPCs, the
inserts), then the same files again (nothing to create). About ten minutes with the default
size; BENCH_IMPORT_MOVEMENTS=100000 for a quick look.
"""

import csv
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

from scripts.processes import Portal
from services.common.amqp import with_vhost
from services.common.config import amqp_uri
from services.common.migrate import upgrade

MOVEMENTS = int(os.environ.get("BENCH_IMPORT_MOVEMENTS", "1000000"))
PER_ACCOUNT = 100
PG_ADMIN = os.environ.get(
    "BENCH_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
MANAGEMENT = os.environ.get("RABBIT_MANAGEMENT_URL", "http://guest:guest@127.0.0.1:15672")
SERVICES = ("accounts", "credit", "deposit")


def generate(directory, movements=MOVEMENTS):
    """members, accounts and movements files: balances that add up, one account per member."""
    directory.mkdir(parents=True, exist_ok=True)
    accounts = max(1, movements // PER_ACCOUNT)
    start = date(2024, 1, 1)
    with (
        open(directory / "members.csv", "w", newline="", encoding="utf-8") as members,
        open(directory / "accounts.csv", "w", newline="", encoding="utf-8") as opened,
        open(directory / "movements.csv", "w", newline="", encoding="utf-8") as moves,
    ):
        m, a, v = csv.writer(members), csv.writer(opened), csv.writer(moves)
        m.writerow(
            [
                "member_number",
                "identification",
                "first_names",
                "last_names",
                "email",
                "phone",
                "status",
            ]
        )
        a.writerow(["account_number", "member_number", "product", "opened_on"])
        v.writerow(
            [
                "account_number",
                "sequence",
                "date",
                "posted_at",
                "description",
                "reference",
                "debit",
                "credit",
                "balance",
            ]
        )
        for i in range(accounts):
            member = str(500000 + i)
            account = f"5{member}001"
            m.writerow(
                [
                    member,
                    f"{1700000000 + i:010d}",
                    "Socio",
                    f"Prueba {i}",
                    f"socio{i}@example.com",
                    "",
                    "activo",
                ]
            )
            a.writerow([account, member, "AHORRO_VISTA", start.isoformat()])
            balance = 0
            for seq in range(1, PER_ACCOUNT + 1):
                day = start + timedelta(days=seq * 6)
                cents = 1000 + (i * 7 + seq * 13) % 50000
                if seq % 3 == 0 and balance > cents:
                    debit, credit = cents, 0
                else:
                    debit, credit = 0, cents
                balance += credit - debit
                v.writerow(
                    [
                        account,
                        seq,
                        day.isoformat(),
                        datetime.combine(day, datetime.min.time()).isoformat() + "Z",
                        "Depósito" if credit else "Retiro",
                        f"B{i}-{seq}",
                        f"{debit // 100}.{debit % 100:02d}",
                        f"{credit // 100}.{credit % 100:02d}",
                        f"{balance // 100}.{balance % 100:02d}",
                    ]
                )
    return accounts * PER_ACCOUNT


def vhost(name, create=True):
    url = f"{MANAGEMENT}/api/vhosts/{name}"
    if create:
        requests.put(url, timeout=10).raise_for_status()
        requests.put(
            f"{MANAGEMENT}/api/permissions/{name}/guest",
            json={"configure": ".*", "write": ".*", "read": ".*"},
            timeout=10,
        ).raise_for_status()
    else:
        requests.delete(url, timeout=10)


def databases(backend, workdir):
    urls, created = {}, []
    for service in SERVICES:
        if backend == "sqlite":
            urls[service] = f"sqlite:///{workdir / f'{service}.db'}"
        else:
            name = f"bench_import_{service}_{uuid.uuid4().hex[:8]}"
            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            created.append(name)
            urls[service] = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
        upgrade(service, urls[service])
    return urls, created


def drop(names):
    if not names:
        return
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def wait_ready(uri, timeout=90):
    """Every service answers a ping (they take a few seconds to start)."""
    from nameko.standalone.rpc import ClusterRpcProxy

    deadline = time.monotonic() + timeout
    with ClusterRpcProxy({"AMQP_URI": uri}, timeout=5) as rpc:
        for service in SERVICES:
            while True:
                try:
                    getattr(rpc, service).ping()
                    break
                except Exception:  # noqa: BLE001  not up yet
                    if time.monotonic() > deadline:
                        raise


def measure(backend, files, workdir):
    name = f"bench_import_{uuid.uuid4().hex[:8]}"
    vhost(name)
    urls, created = databases(backend, workdir)
    env = {f"{s.upper()}_DATABASE_URL": url for s, url in urls.items()}
    portal = Portal(
        workdir, with_vhost(amqp_uri(), name), extra_env={**env, "LOG_LEVEL": "WARNING"}
    )
    try:
        for service in SERVICES:
            portal.start(service)
        wait_ready(portal.env["AMQP_URI"])
        runs = []
        for _ in range(2):
            started = time.monotonic()
            result = portal.run("-m", "scripts.portal", "import", str(files), check=False)
            runs.append(time.monotonic() - started)
            if result.returncode:
                raise RuntimeError(result.stderr[-2000:])
            print(f"  {backend}: {runs[-1]:.1f} s\n{result.stdout}", flush=True)
        return {"first_s": runs[0], "again_s": runs[1], "summary": result.stdout.strip()}
    finally:
        portal.stop_all()
        drop(created)
        vhost(name, create=False)


def run(movements=MOVEMENTS, backends=("postgres", "sqlite")):
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        tmp = Path(tmp)
        started = time.monotonic()
        count = generate(tmp / "files", movements)
        generated = time.monotonic() - started
        print(f"bulk import: {count} movements generated in {generated:.0f} s", flush=True)
        results = {"movements": count, "generate_s": generated}
        for backend in backends:
            workdir = tmp / backend
            workdir.mkdir()
            results[backend] = measure(backend, tmp / "files", workdir)
    return results


def section(r):
    n = r["movements"]
    rows = []
    for backend, label in (("postgres", "PostgreSQL"), ("sqlite", "SQLite")):
        if backend in r:
            b = r[backend]
            rows.append(
                f"| {label} | {b['first_s']:.1f} s | {n / b['first_s']:,.0f} movements/s | "
                f"{b['again_s']:.1f} s | {'≤ 90 s' if backend == 'postgres' else '—'} |"
            )
    return (
        "\n".join(
            [
                "",
                "## Bulk import",
                "",
                f"`python -m scripts.portal import DIR` on generated files: {n:,} movements "
                f"({n // PER_ACCOUNT:,} members and accounts, {PER_ACCOUNT} movements each), "
                "end to end (reading and checking every row, then the accounts service's "
                "`import_rows` RPC in chunks of 5 000), fresh databases, one instance of each "
                'service. "Again" is the same files a second time (every row `unchanged`).',
                "",
                "| database | import | rate | again | target |",
                "|---|---|---|---|---|",
                *rows,
            ]
        )
        + "\n"
    )


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else MOVEMENTS
    results = run(n)
    print(json.dumps(results, indent=2))
    print(section(results))
