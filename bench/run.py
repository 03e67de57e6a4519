"""`make bench`: the portal on the demo cooperative (plus a member with 100 000 movements over
ten years), measured in one run; prints a table and writes docs/benchmarks.md.

Load comes from wrk (a separate process, on loopback, bounded by count and time). Every figure
is the median of several runs; every ratio is computed within this run.
"""

import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

from bench import bulk_load, cpu_profile, payments
from bench.wrk import SECONDS, wrk
from scripts import timeline
from scripts.processes import Portal, free_port
from services.auth.demo import remember_devices_of_portal
from services.common.clock import CLOCK
from services.common.config import PROJECT_ROOT, amqp_uri
from services.common.demo import census

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
PROFILE_SECONDS = 8
PROFILED = ("gateway", "accounts", "credit", "deposit")
DEMO_MEMBERS = int(os.environ.get("DEMO_MEMBERS", "2000"))
POSITION_MEMBERS = 64  # the members whose positions the load at many clients asks, in turn
LONG = {
    "member": "109999",
    "account": "4109999001",
    "identification": "1716520000",
    "first": "Historia",
    "last": "Prueba",
    "email": "historia.larga@example.com",
}
ANA = {
    "member": "100781",
    "account": "4100781001",
    "identification": "0104567896",
    "first": "Ana",
    "last": "Torres",
    "email": "ana.torres@example.com",
}
PASSWORD = "Bench-Clave-2026"  # noqa: S105  the benchmark's own throwaway users


def machine():
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    rabbit = (
        subprocess.run(
            ["rabbitmqctl", "version"], capture_output=True, text=True, check=False
        ).stdout.strip()
        or "?"
    )
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem_kb // 1024 // 1024} GiB, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"RabbitMQ {rabbit}"
    )


NOT_FOUND = "/api/v1/bench-not-found"  # no such route: the gateway's own 404


def position_ratios(results):
    """The position's two targets (docs/benchmarks.md): throughput at 16 clients over the
    gateway's own 404 floor (same run), ≥ 0.20; one client's median over the raw AMQP round
    trip, ≤ 10×."""
    r = results
    if "http_floor_c16" in r and "position_c16" in r:
        r["position_c16_of_http_floor"] = r["position_c16"]["rps"] / r["http_floor_c16"]["rps"]
    if "amqp_floor" in r and "position_c1" in r:
        r["position_c1_over_amqp"] = r["position_c1"]["median_ms"] / r["amqp_floor"]["median_ms"]
    if "position_c16_one_by_one" in r and "position_c16" in r:
        together, alone = r["position_c16"]["rps"], r["position_c16_one_by_one"]["rps"]
        r["position_c16_together_over_one_by_one"] = together / alone


def median_of(runs):
    keys = runs[0].keys()
    return {k: statistics.median(r[k] for r in runs) for k in keys}


def timed(fn, count):
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return {"median_ms": statistics.median(samples), "p99_ms": max(samples), "count": count}


def post_script(path, body, token):
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(json.dumps(body))}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    )
    return str(script)


def portal_usernames(env):
    """The user names of a portal run with environment `env` (its auth database)."""
    url = env.get("AUTH_DATABASE_URL") or f"sqlite:///{env['PORTAL_VAR_DIR']}/auth.db"
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return set(connection.execute(text("SELECT username FROM users")).scalars())
    finally:
        engine.dispose()


def rotation_script(tokens):
    """wrk: each request with the next member's session; wrk's two threads start half the
    list apart, so that no member is asked by both at once."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(
        "local threads = 0\n"
        "function setup(thread)\n"
        '  thread:set("start", threads)\n'
        "  threads = threads + 1\n"
        "end\n"
        "local tokens = {" + ", ".join(json.dumps(t) for t in tokens) + "}\n"
        "local i = nil\n"
        "function request()\n"
        "  i = ((i or (start * math.floor(#tokens / 2))) % #tokens) + 1\n"
        '  return wrk.format(nil, nil, {["Authorization"] = "Bearer " .. tokens[i]})\n'
        "end\n"
    )
    return str(script)


class Bench:
    def __init__(self, portal):
        self.portal = portal
        self.base = portal.base_url
        self.results = {}
        self.devices = {}
        self.rotation = None

    def login(self, username, password):
        """From the user's remembered device (made once per user, replaced at each use): the
        figure is the password step, not an e-mailed code."""
        if username not in self.devices:
            self.devices.update(remember_devices_of_portal(self.portal.env, [username]))
        answer = requests.post(
            self.base + "/api/v1/auth/login",
            json={"username": username, "password": password},
            headers={"X-Device-Token": self.devices[username]},
            timeout=30,
        )
        answer.raise_for_status()
        self.devices[username] = answer.json()["device_token"]
        return answer.json()["token"]

    def register(self, who, username):
        requests.post(
            self.base + "/api/v1/auth/register",
            timeout=30,
            json={
                "username": username,
                "password": PASSWORD,
                "member_number": who["member"],
                "identification": who["identification"],
                "first_name": who["first"],
                "last_name": who["last"],
                "email": who["email"],
            },
        )
        return self.login(username, PASSWORD)

    def floor_and_rpc(self, rounds=None):
        uri = self.portal.env["AMQP_URI"]
        server = subprocess.Popen(
            [sys.executable, "-m", "bench.amqp_rpc", "serve", uri, "bench-floor"],
            stdout=subprocess.PIPE,
            text=True,
            cwd=PROJECT_ROOT,
        )
        server.stdout.readline()
        raw, rpc, standalone = [], [], []
        try:
            # interleaved rounds: a slow spell of the machine weighs on floor and RPC alike
            for _ in range(rounds or max(RUNS, 5)):
                raw.append(self._probe("raw", uri, "bench-floor", "2000"))
                rpc.append(self._probe("nameko", uri, "2000"))
                standalone.append(self._probe("standalone", uri, "2000"))
        finally:
            server.kill()
        self.results["amqp_floor"] = median_of(raw)
        self.results["nameko_rpc"] = median_of(rpc)
        self.results["nameko_standalone"] = median_of(standalone)

    def _probe(self, *args):
        out = subprocess.run(
            [sys.executable, "-m", "bench.amqp_rpc", *args],
            capture_output=True,
            text=True,
            check=True,
            cwd=PROJECT_ROOT,
        )
        return json.loads(out.stdout)

    def member_rotation(self, count=POSITION_MEMBERS):
        """A wrk script whose every request is the next of `count` members' sessions: the
        position's load at many clients is many members', as on the month-start morning (one
        member's positions asked at once go to the services as one ask: gateway/coalesce.py).
        The members are the demo's generated ones, registered through the portal."""
        if self.rotation is None:
            generated = [m for m in census(CLOCK.today(), DEMO_MEMBERS) if m.reference is None]
            # an earlier run on the same var/bench registered them already (a second
            # registration is refused, and counted against the address)
            registered = portal_usernames(self.portal.env)
            tokens = []
            for m in generated[:count]:
                username = f"pos{m.member_number}"
                if username in registered:
                    tokens.append(self.login(username, PASSWORD))
                    continue
                who = {
                    "member": m.member_number,
                    "identification": m.identification,
                    "first": m.given_names.split()[0],
                    "last": m.surnames.split()[0],
                    "email": m.email,
                }
                tokens.append(self.register(who, username))
            self.rotation = rotation_script(tokens)
        return self.rotation

    def position(self, token):
        """One member at one client (nothing to ask together); many members at 16 and 64
        clients, on this gateway (asks coalesced) and, interleaved, on a second one that asks
        one by one (`POSITION_BATCH=1`); the 404 floor interleaved with them."""
        auth = [f"Authorization: Bearer {token}"]
        rotation = self.member_rotation()
        one_by_one = self.second_gateway({"POSITION_BATCH": "1"})
        keys = ("c1", "c1_one_by_one", "c16", "c16_one_by_one", "c64")
        floor, runs = [], {key: [] for key in keys}
        try:
            for _ in range(RUNS):
                runs["c1"].append(wrk(self.base + "/api/v1/position", 1, auth))
                runs["c1_one_by_one"].append(wrk(one_by_one + "/api/v1/position", 1, auth))
                # the gateway's own HTTP floor: a 404 served by the same gateway (no session,
                # no RPC), same clients, same wrk
                floor.append(wrk(self.base + NOT_FOUND, 16))
                runs["c16"].append(wrk(self.base + "/api/v1/position", 16, script=rotation))
                runs["c16_one_by_one"].append(
                    wrk(one_by_one + "/api/v1/position", 16, script=rotation)
                )
                runs["c64"].append(wrk(self.base + "/api/v1/position", 64, script=rotation))
        finally:
            self.portal.stop("gateway-one-by-one")
        for key, measured in runs.items():
            self.results[f"position_{key}"] = median_of(measured)
            self.results[f"position_{key}_rps_runs"] = [run["rps"] for run in measured]
        self.results["http_floor_c16"] = median_of(floor)
        if "amqp_floor" not in self.results:  # `--only position`: the raw round trip too
            self.floor_and_rpc(rounds=3)
        position_ratios(self.results)

    def second_gateway(self, env):
        """Another gateway on the same services, with `env`; its base URL."""
        port = free_port()
        self.portal.start(
            "gateway",
            instance="gateway-one-by-one",
            env={**env, "GATEWAY_ADDRESS": f"127.0.0.1:{port}"},
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(base + "/health", timeout=5).status_code == 200:
                    return base
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the second gateway did not start")
            time.sleep(0.5)

    def _pids(self):
        pids = {name: proc.pid for name, proc in self.portal.procs.items()}
        if cpu_profile.rabbit_pid():
            pids["rabbit"] = cpu_profile.rabbit_pid()
        return pids

    def position_profile(self, token):
        """CPU per request of every process at 16 clients (many members), and py-spy's split
        at 1 client (maria)."""
        auth = [f"Authorization: Bearer {token}"]

        def load(clients):
            many = {"script": self.member_rotation()} if clients > 1 else {"headers": auth}
            return {
                **wrk(self.base + "/api/v1/position", clients, seconds=PROFILE_SECONDS, **many),
                "seconds": PROFILE_SECONDS,
            }

        _, cpu16 = cpu_profile.cpu_per_request(self._pids(), lambda: load(16))
        _, cpu1 = cpu_profile.cpu_per_request(self._pids(), lambda: load(1))
        python = {k: v for k, v in self._pids().items() if k in PROFILED}
        shares = cpu_profile.profile(python, lambda: load(1), PROFILE_SECONDS)
        self.results["position_cpu_c16"] = cpu16
        self.results["position_cpu_c1"] = cpu1
        self.results["position_profile_c1"] = shares

    def second_accounts(self, token):
        """The position at 16 clients with a second accounts instance (competing consumers)."""
        rotation = self.member_rotation()
        self.portal.start("accounts", instance="accounts-2")
        try:
            time.sleep(4)  # consuming once its container has started
            runs = [wrk(self.base + "/api/v1/position", 16, script=rotation) for _ in range(RUNS)]
            self.results["position_c16_two_accounts"] = median_of(runs)
            _, cpu = cpu_profile.cpu_per_request(
                self._pids(),
                lambda: {
                    **wrk(
                        self.base + "/api/v1/position",
                        16,
                        script=rotation,
                        seconds=PROFILE_SECONDS,
                    ),
                    "seconds": PROFILE_SECONDS,
                },
            )
            self.results["position_cpu_c16_two_accounts"] = cpu
        finally:
            self.portal.stop("accounts-2")

    def timeline(self, token):
        """The position's critical path at one client, step by step (scripts/timeline.py):
        the gateway and the three services restarted with the probes on."""
        traced = ("accounts", "credit", "deposit", "gateway")
        directory = Path(tempfile.mkdtemp(prefix="timeline-"))
        for name in traced:
            self.portal.stop(name)
            self.portal.start(name, env={"PORTAL_TIMELINE": str(directory)})
        try:
            self.portal.wait_healthy()
            time.sleep(2)
            auth = [f"Authorization: Bearer {token}"]
            result = wrk(self.base + "/api/v1/position", 1, auth)
        finally:
            for name in traced:  # stopping flushes each process's probes (atexit)
                self.portal.stop(name)
                self.portal.start(name)
            self.portal.wait_healthy()
        count, medians = timeline.report(directory)
        self.results["position_timeline_c1"] = {
            "requests": count,
            "median_ms": result["median_ms"],
            "steps": medians,
        }

    def statements(self, token_long, token_small):
        today = CLOCK.today()
        month = f"from={(today - timedelta(days=30)).isoformat()}&to={today.isoformat()}"
        year = f"from={(today - timedelta(days=365)).isoformat()}&to={today.isoformat()}"
        for name, token, account in (
            ("long", token_long, LONG["account"]),
            ("small", token_small, ANA["account"]),
        ):
            headers = {"Authorization": f"Bearer {token}"}
            url = f"{self.base}/api/v1/accounts/{account}/statement"
            first = requests.get(f"{url}?{year}&page_size=100", headers=headers, timeout=30).json()
            last_page = max(1, -(-first["total_movements"] // 100))
            auth = [f"Authorization: Bearer {token}"]
            self.results[f"statement_month_{name}"] = median_of(
                [wrk(f"{url}?{month}&page_size=100", 1, auth) for _ in range(RUNS)]
            )
            self.results[f"statement_lastpage_{name}"] = median_of(
                [wrk(f"{url}?{year}&page={last_page}&page_size=100", 1, auth) for _ in range(RUNS)]
            )
            self.results[f"statement_year_movements_{name}"] = {"count": first["total_movements"]}

    def simulation(self, token):
        body = {
            "product_code": "VIVIENDA",
            "amount": "50000.00",
            "term_months": 240,
            "system": "french",
            "frequency": "monthly",
        }
        script = post_script("/api/v1/credit/simulations", body, token)
        self.results["simulation_240"] = median_of(
            [wrk(self.base + "/api/v1/credit/simulations", 1, script=script) for _ in range(RUNS)]
        )

    def logins(self):
        self.results["login"] = timed(lambda: self.login("maria", "Socia-2026!"), 15)

    def pdfs(self, token):
        """Statement PDFs of about 60 and 2 000 movements of the long account (ranges that end
        today, so the closed-range cache does not answer)."""
        headers = {"Authorization": f"Bearer {token}"}
        url = f"{self.base}/api/v1/accounts/{LONG['account']}/statement"
        today = CLOCK.today()
        for target in (60, 2000):
            days = 1
            while True:
                frm = (today - timedelta(days=days)).isoformat()
                total = requests.get(
                    f"{url}?from={frm}&to={today.isoformat()}&page_size=1",
                    headers=headers,
                    timeout=30,
                ).json()["total_movements"]
                if total >= target or days > 365:
                    break
                days += max(1, int(days * (target - total) / max(total, 1) / 2))
            pdf_url = f"{url}.pdf?from={frm}&to={today.isoformat()}"

            def fetch(pdf_url=pdf_url):
                answer = requests.get(pdf_url, headers=headers, timeout=120)
                assert answer.headers["Content-Type"].startswith("application/pdf"), answer.text

            fetch()
            self.results[f"pdf_{target}"] = {**timed(fetch, max(RUNS, 3)), "movements": total}
        # a 240-installment amortization table (the credit simulation PDF: the loan table's
        # layout, one monospaced line per installment; target ≤ 1.5 s on a quiet machine)
        query = (
            "product_code=VIVIENDA&amount=50000.00&term_months=240&system=french&frequency=monthly"
        )
        table_url = f"{self.base}/api/v1/credit/simulations.pdf?{query}"

        def table_pdf():
            answer = requests.get(table_url, headers=headers, timeout=120)
            assert answer.headers["Content-Type"].startswith("application/pdf"), answer.text

        table_pdf()
        self.results["pdf_table_240"] = timed(table_pdf, max(RUNS, 3))

    def degraded_position(self, token):
        """Sequential requests: each waits for the deadline of the missing service."""
        self.portal.stop("deposit")
        headers = {"Authorization": f"Bearer {token}"}

        def fetch():
            answer = requests.get(self.base + "/api/v1/position", headers=headers, timeout=30)
            assert answer.status_code == 200 and answer.json()["unavailable"] == ["deposits"]

        try:
            result = timed(fetch, 5)
            self.results["position_deposit_down"] = {**result, "rps": 1000 / result["median_ms"]}
        finally:
            self.portal.start("deposit")
            self.portal.wait_healthy()

    def inbound(self):
        """Core movement_posted applied per second by one accounts process (its own vhost and
        database, bench/inbound.py), on SQLite and on PostgreSQL."""
        from bench import inbound

        count = int(os.environ.get("BENCH_INBOUND", "20000"))
        for backend in ("sqlite", "postgres"):
            self.results[f"inbound_{backend}"] = inbound.measure(backend, count)
        inbound_live(self.results)


def inbound_live(results):
    """The same while several connectors publish, measured from outside (bench/inbound.py,
    measure_live): BENCH_INBOUND_LIVE movements (default 10 000), BENCH_PUBLISHERS (4), each
    with BENCH_CONFIRM_WINDOW publishes awaiting their confirms together (100; 0: one by one)."""
    from bench import inbound

    count = int(os.environ.get("BENCH_INBOUND_LIVE", "10000"))
    publishers = int(os.environ.get("BENCH_PUBLISHERS", "4"))
    window = int(os.environ.get("BENCH_CONFIRM_WINDOW", "100"))
    for backend in ("sqlite", "postgres"):
        results[f"inbound_live_{backend}"] = inbound.measure_live(
            backend, count, publishers, window=window
        )


def table(results, description):
    r = results
    floor, rpc = r["amqp_floor"]["median_ms"], r["nameko_rpc"]["median_ms"]
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `make bench` on {CLOCK.today().isoformat()}: {description}. All services, "
        "the broker, the embedded SQLite databases and the load generator (wrk) "
        f"share the machine. Each figure is the median of {RUNS} runs of {SECONDS} s (wrk) or "
        "of the stated count of sequential calls; the floor and the two RPC rows are medians "
        f"of {max(RUNS, 5)} interleaved rounds of 2 000 calls each (floor, RPC, RPC, floor…).",
        "",
        "| measurement | median | p99 | req/s | target |",
        "|---|---|---|---|---|",
        f"| raw AMQP request/reply (py-amqp, floor) | {floor:.3f} ms | "
        f"{r['amqp_floor']['p99_ms']:.3f} ms | | |",
        f"| nameko RPC round trip, gateway-style (`ServiceRpc` → accounts.ping) | {rpc:.3f} ms | "
        f"{r['nameko_rpc']['p99_ms']:.3f} ms | | ≤ 2× floor: **{rpc / floor:.2f}×** |",
    ]
    if "nameko_standalone" in r:
        alone = r["nameko_standalone"]
        lines.append(
            f"| nameko RPC round trip, nameko's own ClusterRpcProxy (out of the box) | "
            f"{alone['median_ms']:.3f} ms | {alone['p99_ms']:.3f} ms | | "
            f"{alone['median_ms'] / floor:.2f}× floor (for comparison) |"
        )
    for key, who in (
        ("c1", "1 client (maria)"),
        ("c1_one_by_one", "1 client (maria), a gateway asking one by one"),
        ("c16", f"16 clients ({POSITION_MEMBERS} members in turn)"),
        ("c16_one_by_one", "16 clients, a gateway asking one by one (`POSITION_BATCH=1`)"),
        ("c64", f"64 clients ({POSITION_MEMBERS} members in turn)"),
    ):
        p = r[f"position_{key}"]
        target = {
            "c1": f"≤ 3× RPC: **{p['median_ms'] / rpc:.2f}×**",
            "c1_one_by_one": "",
            "c16": "≥ 300 req/s, p99 ≤ 100 ms",
            "c16_one_by_one": (
                f"the asks together: **{r['position_c16']['rps'] / p['rps']:.2f}×** "
                "the throughput of one by one"
            ),
            "c64": "",
        }[key]
        lines.append(
            f"| GET /api/v1/position, {who} | {p['median_ms']:.2f} ms | "
            f"{p['p99_ms']:.2f} ms | {p['rps']:.0f} | {target} |"
        )
    if "http_floor_c16" in r:
        f404 = r["http_floor_c16"]
        lines.append(
            f"| the gateway's own HTTP floor: a 404, 16 clients (interleaved with the position) | "
            f"{f404['median_ms']:.2f} ms | {f404['p99_ms']:.2f} ms | {f404['rps']:.0f} | |"
        )
        lines.append(
            "| the position against its floors (same run) | | | | "
            f"16 clients ÷ 404 floor ≥ 0.20: **{r['position_c16_of_http_floor']:.3f}**; "
            f"one client ÷ raw AMQP ≤ 10×: **{r['position_c1_over_amqp']:.1f}×** |"
        )
    if "position_c16_two_accounts" in r:
        two, one = r["position_c16_two_accounts"], r["position_c16"]
        lines.append(
            f"| GET /api/v1/position, 16 clients, two accounts instances | "
            f"{two['median_ms']:.2f} ms | {two['p99_ms']:.2f} ms | {two['rps']:.0f} | "
            f"{two['rps'] / one['rps']:.2f}× the throughput of one instance |"
        )
    if "position_deposit_down" in r:
        p = r["position_deposit_down"]
        lines.append(
            f"| position with deposit stopped, 1 client | {p['median_ms']:.2f} ms | "
            f"{p['p99_ms']:.2f} ms | {p['rps']:.0f} | bounded by the deadline |"
        )
    for kind, label in (("month", "one month, page 1"), ("lastpage", "last page of a year")):
        big, small = r[f"statement_{kind}_long"], r[f"statement_{kind}_small"]
        ratio = big["median_ms"] / small["median_ms"]
        # one month holds 100 rows of a page on the long account and 5 on the small one: not
        # the same page, so the history target is judged on the last page of a year
        target = (
            f"{ratio:.2f}× small (100 rows against 5)"
            if kind == "month"
            else f"≤ 2× small: **{ratio:.2f}×**"
        )
        lines.append(
            f"| statement {label}, 100 000-movement account | {big['median_ms']:.2f} ms "
            f"| {big['p99_ms']:.2f} ms | {big['rps']:.0f} | {target} |"
        )
        lines.append(
            f"| statement {label}, 120-movement account | {small['median_ms']:.2f} ms "
            f"| {small['p99_ms']:.2f} ms | {small['rps']:.0f} | |"
        )
    s = r["simulation_240"]
    lines.append(
        f"| POST /api/v1/credit/simulations, 240 monthly | {s['median_ms']:.2f} ms | "
        f"{s['p99_ms']:.2f} ms | {s['rps']:.0f} | |"
    )
    lg = r["login"]
    lines.append(
        f"| POST /api/v1/auth/login (Argon2id verify) | {lg['median_ms']:.1f} ms | "
        f"{lg['p99_ms']:.1f} ms (max) | | |"
    )
    for n, target in ((60, "≤ 0.5 s"), (2000, "≤ 3 s")):
        p = r[f"pdf_{n}"]
        lines.append(
            f"| statement PDF, {p['movements']} movements | {p['median_ms']:.0f} ms | "
            f"{p['p99_ms']:.0f} ms (max) | | {target} |"
        )
    for backend, target in (("sqlite", "≥ 1 500/s"), ("postgres", "")):
        if f"inbound_live_{backend}" in r:
            i = r[f"inbound_live_{backend}"]
            lines.append(
                f"| core `movement_posted` seen applied from outside, {i['publishers']} "
                f"publishers ({i.get('confirm_window', 0)} confirms in flight each), {backend} "
                f"({i['count']}; published in {i['publish_seconds']:.1f} s) "
                f"| {i['cpu_ms_per_movement']:.2f} ms CPU each | | {i['per_second']:.0f}/s "
                f"| {target} |"
            )
    for backend, target in (("sqlite", ""), ("postgres", "")):
        if f"inbound_{backend}" in r:
            i = r[f"inbound_{backend}"]
            lines.append(
                f"| core `movement_posted` applied, one accounts process, {backend} "
                f"({i['count']} ordered) | {i['cpu_ms_per_movement']:.2f} ms CPU each | | "
                f"{i['per_second']:.0f}/s | {target} |"
            )
            if "member_published_s" in i:  # member changes first (docs/integration.md)
                lines.append(
                    f"| core `member_upserted` (inactivo) during that burst, {backend}: applied, "
                    f"`accounts.member_updated` out ({i['movements_applied_at_member_change']} "
                    f"movements applied by then) | {i['member_applied_s'] * 1000:.0f} ms, "
                    f"{i['member_published_s'] * 1000:.0f} ms | | | ≤ 1 s |"
                )
    if "pdf_table_240" in r:
        p = r["pdf_table_240"]
        lines.append(
            f"| amortization table PDF, 240 installments | {p['median_ms']:.0f} ms | "
            f"{p['p99_ms']:.0f} ms (max) | | ≤ 1.5 s |"
        )
    if "position_cpu_c16" in r:
        lines += [
            "",
            "### Where the position's time goes",
            "",
            "CPU time of each process per `GET /api/v1/position` (from /proc, over a "
            f"{PROFILE_SECONDS} s wrk run at 16 clients), split by what the process was doing "
            "(py-spy samples at 1 client; bench/cpu_profile.py):",
            "",
            cpu_profile.table(r["position_cpu_c16"], r.get("position_profile_c1") or {}),
        ]
        if "position_cpu_c16_two_accounts" in r:
            two = r["position_cpu_c16_two_accounts"]
            lines += [
                "",
                "With a second accounts instance (16 clients): "
                + ", ".join(f"{k} {v:.2f} ms" for k, v in sorted(two.items(), key=lambda i: -i[1]))
                + f"; all {sum(two.values()):.2f} ms per request.",
            ]
    if "position_timeline_c1" in r:
        t = r["position_timeline_c1"]
        lines += [
            "",
            "### The position's critical path at one client",
            "",
            f"Median wall time of each step over {t['requests']} requests (wrk at one client, "
            f"median {t['median_ms']:.2f} ms with the probes on), from `PORTAL_TIMELINE` "
            "probes (scripts/timeline.py: one monotonic clock for every process, replies "
            "matched to services by correlation id). The three services work in parallel.",
            "",
            "| step | median |",
            "|---|---|",
            *(f"| {name} | {value:.3f} ms |" for name, value in t["steps"]),
        ]
    return "\n".join(lines) + "\n"


def parse_args(argv):
    """`--only position` (or `--only rpc,position`): just those steps, on a portal without the
    long-history member; prints the figures as JSON and leaves docs/benchmarks.md alone.
    `--only argon2` needs no portal: the CPU of one password hash (bench/argon2_cost.py)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", help="comma-separated steps: " + ", ".join(ONLY_STEPS))
    args = parser.parse_args(argv)
    only = [name for name in (args.only or "").split(",") if name]
    unknown = set(only) - set(ONLY_STEPS)
    if unknown:
        parser.error(f"unknown step(s): {', '.join(sorted(unknown))}")
    return only


# the steps `--only` can run alone (the ones that need neither the long history nor a restart);
# inbound, bulk_import and payments need no portal of the demo: each starts its own processes
ONLY_STEPS = ("rpc", "position", "argon2", "inbound", "bulk_import", "payments")
STANDALONE_STEPS = {"inbound", "bulk_import", "payments"}


def standalone(only):
    """`--only inbound,bulk_import,payments`: their figures as JSON, no demo portal set up."""
    results = {}
    if "inbound" in only:
        print("measuring inbound core movements (several publishers)…", flush=True)
        inbound_live(results)
    if "bulk_import" in only:
        print("measuring the bulk import (PostgreSQL)…", flush=True)
        results["bulk_import"] = bulk_load.run(backends=("postgres",))
    if "payments" in only:
        print("measuring transfers through the demo core…", flush=True)
        results["payments"] = payments.run()
    print(json.dumps(results, indent=2))
    if "bulk_import" in results:
        print(bulk_load.section(results["bulk_import"]))
    if "payments" in results:
        print(payments.section(results["payments"]))


def main(argv=None):
    only = parse_args(sys.argv[1:] if argv is None else argv)
    if "argon2" in only:
        # the cost of one password hash, old and new parameters (no portal needed)
        from bench import argon2_cost

        print("measuring Argon2id…", flush=True)
        print(json.dumps({"argon2": argon2_cost.run()}, indent=2, ensure_ascii=False))
        only = [name for name in only if name != "argon2"]
        if not only:
            return
    if only and set(only) <= STANDALONE_STEPS:
        standalone(only)
        return
    if not shutil.which("wrk"):
        if os.geteuid() == 0 and shutil.which("apt-get"):
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True
            )
        else:
            sys.exit("wrk is needed for the load: apt-get install wrk")
    workdir = Path(os.environ.get("BENCH_DIR", PROJECT_ROOT / "var" / "bench"))
    workdir.mkdir(parents=True, exist_ok=True)
    portal = Portal(
        workdir,
        amqp_uri(),
        extra_env={"DEMO_MEMBERS": str(DEMO_MEMBERS), "LOG_LEVEL": "WARNING"},
    )
    portal.env["GATEWAY_ADDRESS"] = f"127.0.0.1:{portal.port}"
    started = time.monotonic()
    print(
        "setting up the demo cooperative" + ("…" if only else " and the 100 000-movement member…"),
        flush=True,
    )
    setup = ["-m", "scripts.portal", "setup"] + ([] if only else ["--long-history"])
    result = portal.run(*setup, check=False)
    if result.returncode:
        sys.exit(result.stderr[-2000:])
    portal.start_all()
    if only:
        bench = Bench(portal)
        try:
            token_maria = bench.login("maria", "Socia-2026!")
            if "rpc" in only:
                print("measuring floor and RPC…", flush=True)
                bench.floor_and_rpc()
            if "position" in only:
                print("measuring position…", flush=True)
                bench.position(token_maria)
        finally:
            portal.stop_all()
        print(json.dumps(bench.results, indent=2))
        if set(only) & STANDALONE_STEPS:
            standalone(only)
        return
    try:
        bench = Bench(portal)
        token_maria = bench.login("maria", "Socia-2026!")
        token_long = bench.register(LONG, "historia")
        token_small = bench.register(ANA, "anabench")
        steps = [
            ("floor and RPC", bench.floor_and_rpc),
            ("position", lambda: bench.position(token_maria)),
            ("where the position's time goes", lambda: bench.position_profile(token_maria)),
            ("a second accounts instance", lambda: bench.second_accounts(token_maria)),
            ("statements", lambda: bench.statements(token_long, token_small)),
            ("simulation", lambda: bench.simulation(token_maria)),
            ("login", bench.logins),
            ("pdfs", lambda: bench.pdfs(token_long)),
            ("degraded position", lambda: bench.degraded_position(token_maria)),
            ("the position's critical path", lambda: bench.timeline(token_maria)),
            ("inbound core movements", bench.inbound),
        ]
        for name, step in steps:
            print(f"measuring {name}…", flush=True)
            try:
                step()
            except Exception as exc:  # noqa: BLE001  report what could be measured
                print(f"  {name} failed: {exc!r}", flush=True)
    finally:
        portal.stop_all()
    # the bulk load, on fresh databases and services of its own (bench/bulk_load.py)
    print("measuring the bulk import…", flush=True)
    try:
        bench.results["bulk_import"] = bulk_load.run()
    except Exception as exc:  # noqa: BLE001  report what could be measured
        print(f"  bulk import failed: {exc!r}", flush=True)
    # transfers through the demo core, on processes of their own (bench/payments.py)
    print("measuring transfers through the demo core…", flush=True)
    try:
        bench.results["payments"] = payments.run()
    except Exception as exc:  # noqa: BLE001  report what could be measured
        print(f"  transfers failed: {exc!r}", flush=True)
    (workdir / "results.json").write_text(json.dumps(bench.results, indent=2))
    try:
        text = table(bench.results, machine())
    except KeyError as missing:  # a step failed: still write down what was measured
        text = (
            f"# Benchmarks\n\nIncomplete run ({missing!r} not measured), {machine()}:\n\n"
            f"```\n{json.dumps(bench.results, indent=2)}\n```\n"
        )
    if "bulk_import" in bench.results:
        text += bulk_load.section(bench.results["bulk_import"])
    if "payments" in bench.results:
        text += payments.section(bench.results["payments"]) + "\n"
    text += f"\nWhole run: {time.monotonic() - started:.0f} s.\n"
    extra = PROJECT_ROOT / "docs" / "benchmarks-notes.md"
    if extra.exists():
        text += "\n" + extra.read_text()
    (PROJECT_ROOT / "docs" / "benchmarks.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
