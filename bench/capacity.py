"""`make capacity`: how many members one 2-core node serves on the month-start morning, measured
with locust (headless, bounded), and what it means in nodes; writes docs/capacity.md.

An A/B run: the new portal and the old one (main before the capacity changes of December 2026:
Argon2id at 64 MiB, t = 3, p = 4 hashed inline in auth; set here by environment, both from this
tree), each on a vhost of its own of the local broker and on fresh databases, both up at once, in
the same topology (CAPACITY_TOPOLOGY: "sqlite", `make run`'s one process per service, or
"postgres", two gateways and two accounts instances on PostgreSQL; no balancer process: each
simulated member goes to the gateways in turn and stays on theirs, as a balancer with session
affinity does). Their steps are interleaved (old 10 users, new 10, old 25, new 25, … new 90), then
the login path alone is measured on each (logins per second per core of the portal's processes).

The demo cooperative is loaded as `make run` loads it (DEMO_MEMBERS generated members); members
get portal users the way members do, through registration (`POST /api/v1/auth/register`, data from
the demo census, services/common/demo.py). Then, per step of simulated users, locust plays the
morning (bench/capacity_locustfile.py) while this process reads every process's CPU time
(psutil) and the load average. Each step: members per minute served (journeys completed), p95 of
pages and of PDFs, CPU per process.

Knobs: CAPACITY_STEPS_OLD ("10,15,25,60"), CAPACITY_STEPS_NEW ("10,15,25,40,60,90"), users per
step (a side stops at its first step beyond the limits), CAPACITY_STEP_SECONDS (25),
CAPACITY_THINK ("1,3" seconds between pages), CAPACITY_DEMO_MEMBERS (300), CAPACITY_REGISTERED
(80, at least the largest step's users), CAPACITY_BUDGET (seconds, 420: steps that would end
later are skipped and the document says so), CAPACITY_TOPOLOGY ("sqlite"),
CAPACITY_LOGIN_SECONDS (10) and CAPACITY_LOGIN_CLIENTS (4) for the login path alone.
"""

import itertools
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import psutil
import requests
from sqlalchemy import create_engine, text

# the clock imports nameko, which imports eventlet (never started here): no notice about it
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from scripts.processes import Portal, free_port  # noqa: E402
from services.auth.demo import remember_devices_of_portal  # noqa: E402
from services.common.clock import CLOCK  # noqa: E402
from services.common.config import DB_SERVICES, PROJECT_ROOT, amqp_uri, env, env_int  # noqa: E402
from services.common.db import normalize_url  # noqa: E402

# the steps of users, each side's own (interleaved: old 10, new 10, old 25, new 25, …, new 90)
STEPS_OLD = [int(x) for x in env("CAPACITY_STEPS_OLD", "10,15,25,60").split(",")]
STEPS_NEW = [int(x) for x in env("CAPACITY_STEPS_NEW", "10,15,25,40,60,90").split(",")]
STEPS = sorted(set(STEPS_OLD) | set(STEPS_NEW))
STEP_SECONDS = env_int("CAPACITY_STEP_SECONDS", 25)
THINK = env("CAPACITY_THINK", "1,3")
DEMO_MEMBERS = env_int("CAPACITY_DEMO_MEMBERS", 300)
REGISTERED = env_int("CAPACITY_REGISTERED", 80)  # at least the largest step's users
BUDGET = env_int("CAPACITY_BUDGET", 420)
TOPOLOGY = env("CAPACITY_TOPOLOGY", "sqlite")  # or "postgres" (2 gateways + 2 accounts)
COMPARE_USERS = 25  # the old side's step the new side's pages are compared with
LOGIN_SECONDS = env_int("CAPACITY_LOGIN_SECONDS", 10)
LOGIN_CLIENTS = env_int("CAPACITY_LOGIN_CLIENTS", 4)
# A/B: the same topology and journeys; what differs is how auth hashes passwords and at what
# priority the PDFs render
VARIANTS = {
    "old": {
        "name": "old (main before the capacity changes)",
        "what": (
            "Argon2id m = 64 MiB, t = 3, p = 4, hashed inline in auth (eventlet's threads); "
            "PDFs rendered at the pages' priority"
        ),
        "env": {
            "ARGON2_MEMORY_KIB": "65536",
            "ARGON2_TIME_COST": "3",
            "ARGON2_PARALLELISM": "4",
            "AUTH_HASH_WORKERS": "0",
            "AUTH_MAX_WORKERS": "10",  # main's: every service 10 workers
            "REPORTS_RENDER_NICE": "0",  # main's PDF workers ran beside the pages
        },
        "steps": STEPS_OLD,
    },
    "new": {
        "name": "new",
        "what": (
            "Argon2id m = 19 MiB, t = 2, p = 1 in auth's hashing processes (nice 10, logins "
            "queued with a bound); PDFs rendered at nice 10"
        ),
        "env": {},
        "steps": STEPS_NEW,
    },
}
PAGE_P95_S, PDF_P95_S = 1.0, 5.0
PASSWORD = "Zorzal-Kiwi-9137!"  # noqa: S105  the run's throwaway users (no demo name in it)
MANAGEMENT = env("RABBIT_MANAGEMENT_URL", "http://guest:guest@127.0.0.1:15672")
PG_ADMIN = env("BENCH_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
LOCUSTFILE = PROJECT_ROOT / "bench" / "capacity_locustfile.py"
DOC = PROJECT_ROOT / "docs" / "capacity.md"
RESULTS = PROJECT_ROOT / "var" / "capacity.json"  # the last run's figures

# The arrival model of the first business morning of the month (docs/capacity.md says why).
SHARE = 0.30  # of all members log in that morning
HOURS = 4  # spread over 08:00–12:00
PEAK = 2.0  # the busiest quarter-hour against the morning's average
COOPERATIVES = (100_000, 500_000)
OTHER_LOAD_LIMIT = 0.5  # cores of other work beyond which a crossing is the machine's, not ours
BROKER = "RabbitMQ (whole broker)"
PORTAL_TOTAL = "the portal's processes together (what a portal node runs)"
BROKER_SHARE = "RabbitMQ, this run's share"


def vhost(name, create=True):
    url = f"{MANAGEMENT}/api/vhosts/{name}"
    if not create:
        requests.delete(url, timeout=10)
        return None
    requests.put(url, timeout=10).raise_for_status()
    requests.put(
        f"{MANAGEMENT}/api/permissions/{name}/guest",
        json={"configure": ".*", "write": ".*", "read": ".*"},
        timeout=10,
    ).raise_for_status()
    base = amqp_uri().rstrip("/")
    base = base.rsplit("/", 1)[0] if base.count("/") > 2 else base
    return f"{base}/{name}"


def pg_databases(tag):
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    names = {service: f"capacity_{tag}_{service}" for service in DB_SERVICES}
    with admin.connect() as conn:
        for name in names.values():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    base = PG_ADMIN.rsplit("/", 1)[0].replace("+psycopg2", "")
    return names, {service: f"{base}/{name}" for service, name in names.items()}


def drop_pg(names):
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def pg_backends(names):
    """pids of the PostgreSQL backends serving this run's databases."""
    admin = create_engine(PG_ADMIN)
    with admin.connect() as conn:
        rows = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = ANY(:names)"),
            {"names": list(names)},
        )
        pids = [row[0] for row in rows]
    admin.dispose()
    return pids


def register(base_url, members):
    """Portal users for the census's members, through registration as a member does it;
    returns the [username, password] pairs that registered."""

    def one(item):
        index, member = item
        username = f"cap{member.member_number}"
        answer = requests.post(
            base_url + "/api/v1/auth/register",
            json={
                "username": username,
                "password": PASSWORD,
                "member_number": member.member_number,
                "identification": member.identification,
                "first_name": member.given_names.split()[0],
                "last_name": member.surnames.split()[0],
                "email": member.email,
            },
            headers={"X-Forwarded-For": f"10.200.{(index + 1) >> 8 & 255}.{(index + 1) & 255}"},
            timeout=60,
        )
        return [username, PASSWORD] if answer.status_code == 201 else None

    with ThreadPoolExecutor(4) as pool:
        done = list(pool.map(one, enumerate(members)))
    return [pair for pair in done if pair]


class CpuMeter:
    """CPU seconds per process between two readings (psutil), and the machine's busy time."""

    def __init__(self, processes):
        self.processes = processes  # {label: callable returning pids}

    def read(self):
        reading = {}
        for label, pids in self.processes.items():
            times = {}
            for pid in pids():
                try:
                    cpu = psutil.Process(pid).cpu_times()
                    times[pid] = cpu.user + cpu.system
                except psutil.Error:
                    continue
            reading[label] = times
        machine = psutil.cpu_times()
        busy = machine.user + machine.system + machine.nice + getattr(machine, "softirq", 0)
        return time.monotonic(), reading, busy

    @staticmethod
    def cores(first, second):
        """{label: cores busy on average} between two readings, and the machine's."""
        (t0, r0, b0), (t1, r1, b1) = first, second
        span = max(t1 - t0, 1e-6)
        used = {}
        for label, times in r1.items():
            before = r0.get(label, {})
            used[label] = sum(t - before.get(pid, 0.0) for pid, t in times.items()) / span
        return used, (b1 - b0) / span


def with_children(pid):
    """A process and its descendants (reports renders in worker processes of its own)."""
    try:
        process = psutil.Process(pid)
        return [pid, *(child.pid for child in process.children(recursive=True))]
    except psutil.Error:
        return []


def published():
    """{vhost: messages published so far} (management statistics, refreshed every few
    seconds), or None."""
    try:
        vhosts = requests.get(f"{MANAGEMENT}/api/vhosts", timeout=10).json()
    except (requests.RequestException, ValueError):
        return None
    return {v["name"]: (v.get("message_stats") or {}).get("publish", 0) for v in vhosts}


def broker_share(before, after, vhost_name):
    """The run's part of the messages published between two readings, over the vhosts present
    at both (one created and deleted in between is missed: the share is then overstated)."""
    if not before or not after or vhost_name not in before or vhost_name not in after:
        return None
    deltas = {name: max(after[name] - before[name], 0) for name in before.keys() & after.keys()}
    total = sum(deltas.values())
    return deltas[vhost_name] / total if total else None


def audit_logins(portal):
    """What the audit trail saw of the run's logins: how many, from how many addresses (each
    member's own, through X-Forwarded-For), how many refused."""
    url = portal.env.get("AUDIT_DATABASE_URL") or f"sqlite:///{portal.workdir / 'var' / 'audit.db'}"
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT event_type, data FROM audit_log "
                    "WHERE event_type IN ('login_succeeded', 'login_failed')"
                )
            ).all()
    except Exception as exc:  # noqa: BLE001  a figure of the page, not a condition of the run
        return {"error": repr(exc)}
    finally:
        engine.dispose()
    succeeded = [json.loads(data) for kind, data in rows if kind == "login_succeeded"]
    return {
        "logins": len(succeeded),
        "addresses": len({entry.get("client_ip") for entry in succeeded}),
        "refused": sum(1 for kind, _ in rows if kind == "login_failed"),
    }


def beam_pids():
    return [p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == "beam.smp"]


def run_step(hosts, members, users, meter, workdir, label, vhost_name):
    out = workdir / f"{label}-{users}.json"
    members_file = workdir / f"{label}-members.json"
    members_file.write_text(json.dumps(members))
    spawn_rate = max(users / 5, 1)
    ramp = users / spawn_rate
    env = {
        **os.environ,
        "CAPACITY_MEMBERS": str(members_file),
        "CAPACITY_HOSTS": ",".join(hosts),
        "CAPACITY_OUT": str(out),
        "CAPACITY_THINK": THINK,
        "CAPACITY_USERS": str(users),
    }
    locust = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("locust")),
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--only-summary",
            "--users",
            str(users),
            "--spawn-rate",
            str(spawn_rate),
            "--run-time",
            f"{STEP_SECONDS}s",
            "--host",
            hosts[0],
            "--loglevel",
            "WARNING",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / f"{label}-{users}.locust.log", "w"),  # noqa: SIM115
    )
    launched = time.monotonic()
    meter.processes["locust (the load)"] = lambda: with_children(locust.pid)
    time.sleep(ramp + 1)  # the figures start when every user is running (the locustfile too)
    first, messages_before = meter.read(), published()
    load_before = os.getloadavg()[0]
    # the second reading while locust still runs (its run time starts after its own start-up)
    time.sleep(max(launched + STEP_SECONDS - time.monotonic(), 1))
    second, messages_after = meter.read(), published()
    locust.wait(STEP_SECONDS + 60)
    del meter.processes["locust (the load)"]
    cores, machine = CpuMeter.cores(first, second)
    share = broker_share(messages_before, messages_after, vhost_name)
    if share is not None:
        cores[BROKER_SHARE] = cores[BROKER] * share
    span = second[0] - first[0]
    figures = json.loads(out.read_text())
    # the devices the portal set during the step: the next step's browsers present them
    for index, token in figures.pop("devices", {}).items():
        members[int(index)][2] = token
    served = figures["members_per_minute"] * span / 60
    if messages_before and messages_after and vhost_name in messages_after and served:
        mine = messages_after[vhost_name] - messages_before.get(vhost_name, 0)
        figures["messages_per_member"] = mine / served
    figures.update(
        users=users,
        cores=cores,
        machine_cores=machine,
        load_average=[load_before, os.getloadavg()[0]],
    )
    return figures


def login_path(setup, seconds=LOGIN_SECONDS, clients=LOGIN_CLIENTS):
    """The login path alone: `clients` members' devices logging in back to back for `seconds`
    (JSON API, each member from their own address and remembered device), no pages; logins per
    second and per core of the portal's processes (CPU from psutil, as the steps)."""
    members, base = setup["members"], setup["hosts"][0]
    stop = time.monotonic() + seconds
    times, refused, asked = [], [], []

    def client(k):
        mine = itertools.cycle(range(k, len(members), clients))
        while time.monotonic() < stop:
            index = next(mine)
            username, password, device = members[index]
            started = time.monotonic()
            answer = requests.post(
                base + "/api/v1/auth/login",
                json={"username": username, "password": password},
                headers={
                    "X-Device-Token": device,
                    "X-Forwarded-For": f"10.250.{index >> 8 & 255}.{index & 255}",
                },
                timeout=60,
            )
            if answer.status_code == 200 and answer.json().get("token"):
                times.append(time.monotonic() - started)
                members[index][2] = answer.json().get("device_token") or device
            elif answer.status_code == 200:
                # the code was asked: a step's end cut a login of this member after the portal
                # had replaced the device token, so locust never kept the new one (the old one
                # stops working, docs/identity.md); not a refusal, and not timed
                asked.append(index)
            else:
                refused.append(answer.status_code)

    meter = setup["meter"]
    first = meter.read()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    second = meter.read()
    cores, machine = CpuMeter.cores(first, second)
    span = second[0] - first[0]
    portal = portal_cores({"cores": cores})
    ordered = sorted(times)
    return {
        "clients": clients,
        "logins": len(times),
        "refused": len(refused),
        "refused_statuses": {str(code): refused.count(code) for code in sorted(set(refused))},
        "code_asked": len(asked),
        "logins_per_s": len(times) / span,
        "portal_cores": portal,
        "auth_cores": cores.get("auth", 0.0),
        "logins_per_s_per_core": len(times) / span / portal if portal else None,
        "p95_s": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else None,
    }


def start_variant(variant, workdir, today):
    """Set up one side of the A/B (its own vhost and databases, the same topology), register its
    members and remember their devices; returns what its steps need."""
    from services.common.demo import census

    tag = uuid.uuid4().hex[:8]
    vhost_name = f"portal_capacity_{variant}_{tag}"
    uri = vhost(vhost_name)
    env_extra = {
        "DEMO_MEMBERS": str(DEMO_MEMBERS),
        "LOG_LEVEL": "WARNING",
        "TRUSTED_PROXY": "127.0.0.1",  # members' addresses come from X-Forwarded-For
        "RPC_TIMEOUT": "5",
        **VARIANTS[variant]["env"],
    }
    databases = []
    if TOPOLOGY == "postgres":
        databases, urls = pg_databases(tag)
        env_extra.update({f"{s.upper()}_DATABASE_URL": url for s, url in urls.items()})
    portal = Portal(workdir / variant, uri, extra_env=env_extra)
    portal.workdir.mkdir(parents=True, exist_ok=True)
    setup = {"variant": variant, "portal": portal, "vhost": vhost_name, "databases": databases}
    result = {"kind": variant, "steps": [], "skipped": [], "beyond": []}
    setup["result"] = result
    started = time.monotonic()
    portal.setup()
    result["setup_s"] = time.monotonic() - started
    if TOPOLOGY == "sqlite":
        portal.start_all()
        hosts = [portal.base_url]
    else:
        second_port = free_port()
        for name in ("accounts", "auth", "credit", "deposit", "reports", "notifications"):
            portal.start(name)
        portal.start("audit")
        portal.start("accounts", instance="accounts-2")
        portal.start("gateway")
        portal.start(
            "gateway", instance="gateway-2", env={"GATEWAY_ADDRESS": f"127.0.0.1:{second_port}"}
        )
        portal.wait_healthy()
        hosts = [portal.base_url, f"http://127.0.0.1:{second_port}"]
        for host in hosts:
            requests.get(host + "/health", timeout=10).raise_for_status()
    started = time.monotonic()
    generated = [m for m in census(today, DEMO_MEMBERS) if m.reference is None]
    members = register(portal.base_url, generated[: max(REGISTERED, *STEPS)])
    # each member logs in from a remembered device, as from their own phone: the month-start
    # morning measures the password step, not one e-mailed code per login
    devices = remember_devices_of_portal(portal.env, [name for name, _ in members])
    members = [[name, password, devices[name]] for name, password in members]
    result["registered"] = len(members)
    result["register_s"] = time.monotonic() - started
    print(
        f"  {variant}: set up in {result['setup_s']:.0f} s, {len(members)} members registered "
        f"in {result['register_s']:.0f} s",
        flush=True,
    )
    if not members:
        raise RuntimeError("no member could register")
    processes = {
        name: (lambda proc=proc: with_children(proc.pid))
        for name, proc in sorted(portal.procs.items())
    }
    processes[BROKER] = beam_pids
    if databases:
        processes["PostgreSQL (this run's backends)"] = lambda: pg_backends(databases)
    setup.update(hosts=hosts, members=members, meter=CpuMeter(processes))
    return setup


def remember_again(setup):
    """A fresh remembered device for every member. A step ends by stopping its browsers, some
    in the middle of a login: the portal has then replaced that member's device token and the
    browser never kept the new one (the old one stops working, docs/identity.md), so the next
    step would be asked for an e-mailed code, and after a few, refused (429). Each step starts
    as the members' phones would: every device remembered."""
    members = setup["members"]
    devices = remember_devices_of_portal(setup["portal"].env, [name for name, _, _ in members])
    for member in members:
        member[2] = devices[member[0]]


def stop_variant(setup):
    setup["result"]["audit"] = audit_logins(setup["portal"])
    setup["portal"].stop_all()
    vhost(setup["vhost"], create=False)
    if setup["databases"]:
        drop_pg(setup["databases"].values())


def ab_run(deadline, workdir, today):
    """Both sides up at once, on vhosts of their own; steps interleaved old, new, old, new… at
    each number of users (a slow spell of a shared machine weighs on both alike). A side stops
    at its first step beyond the limits. Then the login path alone, old then new."""
    setups = {}
    try:
        for variant in ("old", "new"):
            print(f"capacity: setting up {variant}…", flush=True)
            setups[variant] = start_variant(variant, workdir, today)
        for users in STEPS:
            for variant in ("old", "new"):
                setup = setups[variant]
                result = setup["result"]
                if users not in VARIANTS[variant]["steps"]:
                    continue
                crossed = result["steps"] and not within(result["steps"][-1])
                # the crossing is found: no need to go higher, but the old side always plays
                # the step the issue compares with (COMPARE_USERS)
                if crossed and not (variant == "old" and users <= COMPARE_USERS):
                    result["beyond"].append(users)
                elif time.monotonic() + STEP_SECONDS + 15 + LOGIN_SECONDS * 2 > deadline:
                    result["skipped"].append(users)
                else:
                    remember_again(setup)
                    figures = run_step(
                        setup["hosts"],
                        setup["members"],
                        users,
                        setup["meter"],
                        workdir,
                        variant,
                        setup["vhost"],
                    )
                    result["steps"].append(figures)
                    print(f"  {variant} {users} users: {line(figures)}", flush=True)
        for variant in ("old", "new"):
            remember_again(setups[variant])
            setups[variant]["result"]["login_path"] = lp = login_path(setups[variant])
            print(
                f"  {variant} login path: {lp['logins_per_s']:.1f} logins/s, "
                f"{lp['logins_per_s_per_core'] or 0:.1f} per core, p95 {seconds(lp['p95_s'])}, "
                f"{lp['refused']} refused {lp['refused_statuses']}, "
                f"{lp['code_asked']} asked for a code",
                flush=True,
            )
    finally:
        for setup in setups.values():
            try:
                stop_variant(setup)
            except Exception as exc:  # noqa: BLE001  tear the other side down too
                print(f"  stopping {setup['variant']} failed: {exc!r}", flush=True)
    return [setups[v]["result"] for v in ("old", "new") if v in setups]


def seconds(value):
    return "—" if value is None else f"{value:.2f} s"


def line(step):
    return (
        f"{step['members_per_minute']:.0f} members/min, pages p95 {seconds(step['page_p95_s'])}, "
        f"PDF p95 {seconds(step['pdf_p95_s'])}, machine {step['machine_cores']:.2f} cores busy, "
        f"load {step['load_average'][0]:.1f}→{step['load_average'][1]:.1f}, "
        f"failures {sum(step['failures'].values())}"
    )


def within(step):
    pdf = step["pdf_p95_s"]
    return (
        step["page_p95_s"] is not None
        and step["page_p95_s"] < PAGE_P95_S
        and (pdf is None or pdf < PDF_P95_S)
        and not step["failures"]
    )


def portal_cores(step):
    """What a portal node runs: the portal's processes (and, on PostgreSQL, this run's database
    backends); not the broker, not locust."""
    others = (BROKER, BROKER_SHARE)
    return sum(
        v for k, v in step["cores"].items() if k not in others and not k.startswith("locust")
    )


def broker_cores(step):
    """The run's share of the broker (the whole broker when the share is unknown)."""
    return step["cores"].get(BROKER_SHARE, step["cores"].get(BROKER, 0.0))


def other_load(step):
    """Cores the machine spent on anything but this run (portal, its share of the broker,
    locust) during a step: other users of a shared machine."""
    locust = sum(v for k, v in step["cores"].items() if k.startswith("locust"))
    return max(step["machine_cores"] - portal_cores(step) - broker_cores(step) - locust, 0.0)


def broker_cpu_per_member(results):
    """CPU seconds of the broker per member: the lowest of every step's (on a shared broker the
    share by messages can only overstate it), or None."""
    figures = [
        broker_cores(s) * 60 / s["members_per_minute"]
        for r in results
        for s in r["steps"]
        if s["members_per_minute"]
    ]
    return min(figures) if figures else None


def capacity_basis(result):
    """(members per minute a node is sized by, why)."""
    measured, projected = node_capacity(result)
    beyond = next((s for s in result["steps"] if not within(s)), None)
    if beyond is None:
        return projected, "projected: no step went beyond the limits"
    if other_load(beyond) > OTHER_LOAD_LIMIT:
        return projected, (
            f"projected: the step beyond the limits had {other_load(beyond):.1f} cores of other "
            "work on the machine, so the crossing says more about the machine than the portal"
        )
    return measured, "within: the best step before the crossing"


def node_capacity(result):
    """(members per minute within the limits, measured; the same projected to 70 % of two
    cores from the CPU one member costs, at the best step within the limits)."""
    good = [s for s in result["steps"] if within(s)]
    if not good:
        return None, None
    best = max(good, key=lambda s: s["members_per_minute"])
    used = portal_cores(best)
    projected = best["members_per_minute"] * 1.4 / used if used else None
    return best["members_per_minute"], projected


def peak_per_minute(members):
    return members * SHARE / (HOURS * 60) * PEAK


def document(results, machine, total_s, now):
    names = {kind: variant["name"] for kind, variant in VARIANTS.items()}
    out = [
        "# Capacity: the month-start morning",
        "",
        "Written by `make capacity` (`bench/capacity.py`, load from locust in",
        "`bench/capacity_locustfile.py`); rerun it to refresh every figure. "
        f"Last run: {now}, {machine}; the whole run took {total_s:.0f} s.",
        "",
        "**The load.** Each simulated member is a browser on the web pages: *Ingreso*, the",
        "consolidated position, last month's statement of the first account, *Créditos* and the",
        "first loan's table (when the member has one), the statement as a PDF in one journey",
        "of five,",
        "a credit simulation in one of ten, *Salir*; "
        f"{THINK.replace(',', '–')} s of thought between pages and before",
        "the next member. Members are the demo cooperative's generated members, each registered",
        "through the portal's own registration, each on a browser of its own that the portal",
        "remembers (the second factor's remembered device: no e-mailed code, the device token",
        "renewed at each login as a browser's cookie is), each with an address of their own",
        "(`X-Forwarded-For` from a trusted proxy, as behind the cooperative's balancer), so",
        "lockout and throttling count per member, not per load generator. With two gateways",
        "each member goes to them in turn and stays on theirs, as a balancer with session",
        "affinity does; no balancer process runs (it would take CPU from the node measured).",
        "Locust runs on the same machine and its CPU is shown apart. Shorter thinking than a",
        "real member's only means fewer members online at once for the same members per",
        "minute: the CPU a member's morning costs is the same.",
        "",
        "**A/B.** Both sides run the same topology "
        f"({TOPOLOGY_NAMES[TOPOLOGY]}), the same journeys and the same members, each",
        "side on its own vhost and databases, both up at once, their steps interleaved (old 10",
        "users, new 10, old 25, new 25, …) so that a slow spell of the machine weighs on both.",
        "Both run this tree's code; the old side is set by environment to hash passwords as main",
        "did before the capacity changes:",
        "",
        *(f"- **{v['name']}**: {v['what']}." for v in VARIANTS.values()),
        "",
        *ab_table(results),
        "",
        f"**The limits.** Pages (every request but the PDF) p95 < {PAGE_P95_S:.0f} s; the PDF p95 <"
        f" {PDF_P95_S:.0f} s; no failed request. Members per minute = journeys completed per",
        "minute after the ramp-up.",
        "",
        "## Steps",
        "",
        "| topology | users | members/min | pages p50 / p95 | PDF p50 / p95 | failed "
        "| machine CPU (cores) | load average (1 min, start → end) | within limits |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for step in result["steps"]:
            failures = sum(step["failures"].values())
            out.append(
                f"| {names[result['kind']]} | {step['users']} | "
                f"{step['members_per_minute']:.0f} | {seconds(step['page_p50_s'])} / "
                f"{seconds(step['page_p95_s'])} | {seconds(step['pdf_p50_s'])} / "
                f"{seconds(step['pdf_p95_s'])} | {failures} of "
                f"{step['page_count'] + step['pdf_count']} | {step['machine_cores']:.2f} of "
                f"{os.cpu_count()} | {step['load_average'][0]:.1f} → "
                f"{step['load_average'][1]:.1f} | {'yes' if within(step) else '**no**'} |"
            )
        for users in result.get("beyond", []):
            out.append(
                f"| {names[result['kind']]} | {users} | not run: the step before was beyond the "
                "limits |"
            )
        for users in result.get("skipped", []):
            out.append(f"| {names[result['kind']]} | {users} | skipped: over the time budget |")
        if result.get("error"):
            out.append(f"| {names[result['kind']]} | — | failed: {result['error']} |")
    out += ["", "The audit trail's logins (each member from an address of their own):", ""]
    for result in results:
        audit = result.get("audit") or {}
        if "logins" in audit:
            out.append(
                f"- {names[result['kind']]}: {audit['logins']} logins from {audit['addresses']} "
                f"addresses, {audit['refused']} refused."
            )
    out += [
        "",
        "Where members waited (p95 of each request, slowest three, at each step):",
        "",
    ]
    for result in results:
        for step in result["steps"]:
            slowest = ", ".join(
                f"`{name}` {seconds(p95)} ({count})" for name, p95, count in step["requests"][:3]
            )
            failed = ", ".join(f"`{name}` × {n}" for name, n in sorted(step["failures"].items()))
            failed = f" Failed: {failed}." if failed else ""
            out.append(f"- {names[result['kind']]}, {step['users']} users: {slowest}.{failed}")
    out += [
        "",
        "## Where the CPU goes",
        "",
        "Per process: cores busy on average during the step (CPU time from psutil) and CPU",
        "seconds per member's morning (cores × 60 / members per minute). A process counts its",
        "worker processes (reports renders PDFs in its own). The whole broker serves every",
        "vhost of the machine; the run's share is its CPU times the run's part of the messages",
        "published meanwhile (management statistics). The machine's figure includes every",
        "other process on it.",
        "",
    ]
    for result in results:
        for step in result["steps"]:
            rate = step["members_per_minute"]
            ordered = sorted(step["cores"].items(), key=lambda kv: -kv[1])
            messages = step.get("messages_per_member")
            messages = f", {messages:.0f} messages published per member" if messages else ""
            out += [
                f"{names[result['kind']]}, {step['users']} users ({rate:.0f} members/min"
                f"{messages}):",
                "",
                "| process | cores | CPU s per member |",
                "|---|---|---|",
            ]
            for name, cores in ordered + [(PORTAL_TOTAL, 0.0)]:
                if name == PORTAL_TOTAL:
                    cores = portal_cores(step)
                per_member = f"{cores * 60 / rate:.3f}" if rate else "—"
                out.append(f"| {name} | {cores:.2f} | {per_member} |")
            out.append(f"| other work on the machine (not this run) | {other_load(step):.2f} | — |")
            out.append(
                f"| the whole machine (everything on it) | {step['machine_cores']:.2f} | — |"
            )
            out.append("")
    out += ["## What saturates first", ""]
    for result in results:
        if not result["steps"]:
            continue
        top = result["steps"][-1]
        portal = {
            k: v
            for k, v in top["cores"].items()
            if not k.startswith("locust") and not (k == BROKER and BROKER_SHARE in top["cores"])
        }
        busiest, cores = max(portal.items(), key=lambda kv: kv[1])
        slowest = top["requests"][0] if top["requests"] else ["—", None, 0]
        out.append(
            f"- {names[result['kind']]}, {top['users']} users: the machine "
            f"{top['machine_cores'] / os.cpu_count():.0%} busy; the busiest process "
            f"**{busiest}** ({cores:.2f} cores); the slowest request `{slowest[0]}` (p95 "
            f"{seconds(slowest[1])})."
        )
    out += [
        "",
        "auth's CPU is Argon2id, one hash per login (docs/identity.md, 'Password hashes'),",
        "computed in auth's hashing worker processes (counted with auth) at a lower priority, so",
        "auth can use more than one core; every other process runs its Python on one core at a",
        "time, so",
        "one near 1.0 core is that process's limit whatever the machine has left (a second",
        "instance then helps: docs/operations.md).",
        "",
    ]
    out += [
        "",
        "## Members per minute one 2-core node serves",
        "",
        "Within: the best step within the limits; beyond: the first step past them (p95 crosses",
        "between the two). Projected: the within step's members per minute scaled to 70 % of",
        "two cores by the CPU the portal's processes used in it (and this run's PostgreSQL",
        "backends; not the broker, not locust) — an estimate, since latency grows faster than",
        "linearly near saturation. The node counts use the within figure when a step went",
        "beyond the limits (the crossing was found) on a machine doing little else "
        f"(< {OTHER_LOAD_LIMIT}",
        "core of other work), else the projection.",
        "",
        "| topology | within (members/min) | beyond (members/min) | projected (members/min) "
        "| nodes sized by |",
        "|---|---|---|---|---|",
    ]
    capacities = {}
    for result in results:
        measured, projected = node_capacity(result)
        capacities[result["kind"]], basis = capacity_basis(result)
        beyond = next((s["members_per_minute"] for s in result["steps"] if not within(s)), None)
        out.append(
            f"| {names[result['kind']]} | "
            f"{'none within the limits' if measured is None else f'{measured:.0f}'} | "
            f"{'—' if beyond is None else f'{beyond:.0f}'} | "
            f"{'—' if projected is None else f'{projected:.0f}'} | {basis} |"
        )
    out += [
        "",
        "## Nodes for a cooperative's first morning of the month",
        "",
        f"**Arrival model.** {SHARE:.0%} of the members log in on the first business morning",
        f"of the month (salaries and loan installments fall then), spread over {HOURS} hours",
        f"(08:00–12:00), with a peak quarter-hour {PEAK:g} times the morning's average: peak =",
        f"members × {SHARE:g} / ({HOURS} × 60) × {PEAK:g} per minute. Each member makes one",
        "journey as above. These are assumptions: a cooperative replaces them with its own",
        "mornings, counted from the audit trail (`login_succeeded` per quarter-hour) or from",
        "`portal_http_requests_total` on `/metrics` (docs/operations.md).",
        "Nodes are 2-core nodes like this one running the portal's processes (the topology's);",
        "one more is added so the morning survives losing one. PostgreSQL and RabbitMQ are the",
        "operators' (here they ran on the measured node: the measured figures are conservative,",
        "the projection counts the portal's processes only). SQLite's files belong to one",
        "machine, so only the PostgreSQL topology spans nodes; the `make run` column is what the",
        "same CPU would give, for comparison.",
        "",
        "| members | peak members/min | " + " | ".join(names[r["kind"]] for r in results) + " |",
        "|---|---|" + "---|" * len(results),
    ]
    for members in COOPERATIVES:
        peak = peak_per_minute(members)
        cells = []
        for result in results:
            capacity = capacities.get(result["kind"])
            if not capacity:
                cells.append("unknown (no step within the limits)")
            else:
                nodes = math.ceil(peak / capacity)
                if result["kind"] == "old":
                    cells.append(f"({nodes} + 1 = {nodes + 1}, for comparison)")
                else:
                    cells.append(f"{nodes} + 1 = **{nodes + 1}**")
        out.append(f"| {members:,} | {peak:.0f} | " + " | ".join(cells) + " |")
    broker = broker_cpu_per_member(results)
    if broker:
        at_peak = ", ".join(
            f"{peak_per_minute(m) / 60 * broker:.1f} cores at the peak of {m:,} members"
            for m in COOPERATIVES
        )
        out += [
            "",
            f"**The broker** took {broker:.3f} CPU seconds per member (the lowest of the steps:",
            "on a broker shared with other work the share by messages can only overstate it):",
            f"{at_peak}. Its operators size it (three nodes: docker-compose.yml).",
        ]
    out += [
        "",
        "The figures of a busy machine (see the load averages) understate what a quiet node",
        "serves; rerun `make capacity` on the machine that will serve before sizing a purchase.",
        "",
    ]
    return "\n".join(out)


TOPOLOGY_NAMES = {
    "sqlite": "`make run`: SQLite, one process per service",
    "postgres": "2 gateways + 2 accounts, PostgreSQL",
}


def step_at(result, users):
    return next((s for s in result["steps"] if s["users"] == users), None)


def request_p95(step, name):
    return next((p95 for n, p95, _ in step["requests"] if n == name), None) if step else None


def cpu_per_member(step):
    rate = step["members_per_minute"] if step else 0
    return portal_cores(step) * 60 / rate if rate else None


def best_within(result):
    good = [s for s in result["steps"] if within(s)]
    return max(good, key=lambda s: s["members_per_minute"]) if good else None


def ab_rows(results):
    """(measure, old, new, new ÷ old or the target's reading, target) rows of the A/B table."""
    by = {r["kind"]: r for r in results}
    old, new = by.get("old"), by.get("new")
    if not old or not new:
        return []
    old25 = step_at(old, COMPARE_USERS)
    # CPU per member compared at the same load: 25 users, else the most users both sides played
    both = {s["users"] for s in old["steps"]} & {s["users"] for s in new["steps"]}
    same = COMPARE_USERS if COMPARE_USERS in both else max(both, default=None)
    cpu_old, cpu_new = step_at(old, same), step_at(new, same)
    old_best, new_best = best_within(old), best_within(new)
    rows = []

    def ratio(a, b):
        return f"{b / a:.2f}×" if a and b is not None else "—"

    def fmt(value, unit=""):
        return "—" if value is None else f"{value:.2f}{unit}" if unit == " s" else f"{value:.0f}"

    mo = old_best["members_per_minute"] if old_best else None
    mn = new_best["members_per_minute"] if new_best else None
    rows.append(
        (
            "members per minute within the limits (users of that step)",
            f"{fmt(mo)} ({old_best['users'] if old_best else '—'})",
            f"{fmt(mn)} ({new_best['users'] if new_best else '—'})",
            ratio(mo, mn),
            "≥ 2.0×",
        )
    )
    po = old25["page_p95_s"] if old25 else None
    pn = new_best["page_p95_s"] if new_best else None
    rows.append(
        (
            "pages p95: new at its within step, old at 25 users",
            fmt(po, " s"),
            fmt(pn, " s"),
            ratio(po, pn),
            "≤ 1.0×",
        )
    )
    rows.append(
        (
            "`POST /login` p95: new at its within step, old at 25 users",
            fmt(request_p95(old25, "POST /login"), " s"),
            fmt(request_p95(new_best, "POST /login"), " s"),
            ratio(request_p95(old25, "POST /login"), request_p95(new_best, "POST /login")),
            "new < 1 s",
        )
    )
    co, cn = cpu_per_member(cpu_old), cpu_per_member(cpu_new)
    rows.append(
        (
            f"CPU s per member's morning, the portal's processes ({same or '—'} users)",
            "—" if co is None else f"{co:.3f}",
            "—" if cn is None else f"{cn:.3f}",
            ratio(co, cn),
            "≤ 0.5×",
        )
    )
    lo, ln = old.get("login_path") or {}, new.get("login_path") or {}
    rows.append(
        (
            f"the login path alone: logins/s per core ({lo.get('clients', LOGIN_CLIENTS)} clients)",
            "—" if not lo.get("logins_per_s_per_core") else f"{lo['logins_per_s_per_core']:.1f}",
            "—" if not ln.get("logins_per_s_per_core") else f"{ln['logins_per_s_per_core']:.1f}",
            ratio(lo.get("logins_per_s_per_core"), ln.get("logins_per_s_per_core")),
            "",
        )
    )
    rows.append(
        (
            "the login path alone: logins/s, p95, refused",
            login_cell(lo),
            login_cell(ln),
            ratio(lo.get("logins_per_s"), ln.get("logins_per_s")),
            "",
        )
    )
    return rows


def login_cell(lp):
    if not lp:
        return "—"
    asked = lp.get("code_asked")
    lost = f" ({asked} asked for a code: a device token lost at a step's end)" if asked else ""
    return f"{lp['logins_per_s']:.1f}/s, p95 {seconds(lp['p95_s'])}, {lp['refused']} refused{lost}"


def ab_table(results):
    rows = ab_rows(results)
    if not rows:
        return ["(the A/B run did not complete: see the steps below)"]
    out = ["| measure | old | new | new ÷ old | target |", "|---|---|---|---|---|"]
    out += [f"| {' | '.join(row)} |" for row in rows]
    return out


def ab_text(results):
    """The A/B table for the terminal."""
    rows = ab_rows(results)
    width = max((len(r[0]) for r in rows), default=10)
    lines = [f"{'':{width}}  {'old':>30}  {'new':>30}  {'new/old':>8}  target"]
    lines += [f"{a:{width}}  {b:>30}  {c:>30}  {d:>8}  {e}" for a, b, c, d, e in rows]
    return "\n".join(lines)


def machine():
    cpu = "unknown CPU"
    for row in Path("/proc/cpuinfo").read_text().splitlines():
        if row.startswith("model name"):
            cpu = row.split(":", 1)[1].strip()
            break
    memory = psutil.virtual_memory().total / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB"


def main():
    started = time.monotonic()
    deadline = started + BUDGET
    today = CLOCK.today()
    with tempfile.TemporaryDirectory(prefix="capacity-") as tmp:
        try:
            results = ab_run(deadline, Path(tmp), today)
        except Exception as exc:  # noqa: BLE001  write down what could be measured
            print(f"  the A/B run failed: {exc!r}", flush=True)
            results = [
                {"kind": v, "steps": [], "skipped": [], "beyond": [], "error": repr(exc)}
                for v in VARIANTS
            ]
    run = {
        "results": results,
        "machine": machine(),
        "topology": TOPOLOGY,
        "total_s": time.monotonic() - started,
        "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(run, indent=2, default=str))
    write_document(run)
    print(ab_text(results), flush=True)


NOTES = "<!-- written by hand below this line; make capacity keeps it -->"


def write_document(run):
    text = document(run["results"], run["machine"], run["total_s"], run["finished"])
    old = DOC.read_text() if DOC.exists() else ""
    if NOTES in old:  # the hand-written notes (what the profiles chose to cut) stay
        text += "\n" + NOTES + old.split(NOTES, 1)[1]
    DOC.write_text(text)
    print(f"capacity: {run['total_s']:.0f} s; wrote {DOC.relative_to(PROJECT_ROOT)}", flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["--document"]:  # rewrite docs/capacity.md from the last run's figures
        write_document(json.loads(RESULTS.read_text()))
    else:
        main()
