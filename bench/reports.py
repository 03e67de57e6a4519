"""Benchmark of "Estado de cuenta": statement PDFs, the consolidated position, one RPC round trip.

    .venv/bin/python -m bench.reports [--write docs/benchmarks.md]

Starts the portal's real processes on a fresh vhost of the local RabbitMQ (management API on
127.0.0.1:15672, guest/guest), loads the demo data, measures, stops everything. Each measurement
is bounded to a few seconds. Services whose code is not on this branch yet (auth, credit,
deposit) are stood in for by the throwaway test services of tests/service/statement_fakes.py,
run inside this process; the report says which.
"""

import eventlet

eventlet.monkey_patch()  # noqa: E402

import argparse  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import requests  # noqa: E402
from nameko.standalone.rpc import ClusterRpcProxy  # noqa: E402

from scripts.processes import Portal  # noqa: E402
from services.auth.demo import remember_devices_of_portal  # noqa: E402
from services.common.amqp import with_vhost  # noqa: E402
from services.common.config import amqp_uri  # noqa: E402
from tests.report_samples import synthetic_loan, synthetic_statement  # noqa: E402

MANAGEMENT = os.environ.get("RABBIT_MANAGEMENT_URL", "http://guest:guest@127.0.0.1:15672")
POSITION_TIMEOUT = float(os.environ.get("POSITION_TIMEOUT", "2"))
MARKER = "<!-- bench_reports -->"


def percentile(values, fraction):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


class Vhost:
    def __init__(self):
        self.name = f"portal_bench_{uuid.uuid4().hex[:8]}"

    def __enter__(self):
        requests.put(f"{MANAGEMENT}/api/vhosts/{self.name}", timeout=10).raise_for_status()
        requests.put(
            f"{MANAGEMENT}/api/permissions/{self.name}/guest",
            json={"configure": ".*", "write": ".*", "read": ".*"},
            timeout=10,
        ).raise_for_status()
        return with_vhost(amqp_uri(), self.name)

    def __exit__(self, *exc):
        requests.delete(f"{MANAGEMENT}/api/vhosts/{self.name}", timeout=10)


NEEDED_RPC = {"auth": "authenticate", "credit": "loans_summary", "deposit": "deposits_summary"}


def available(name):
    """Is the real service (not the platform's ping-only placeholder) on this branch?"""
    from scripts.run_service import service_class

    return hasattr(service_class(name), NEEDED_RPC[name])


def start_fakes(uri, names):
    """The throwaway auth/credit/deposit services, in this process, for those not on the branch."""
    from nameko.runners import ServiceRunner

    from tests.service import statement_fakes

    classes = {
        "auth": statement_fakes.FakeAuth,
        "credit": statement_fakes.FakeCredit,
        "deposit": statement_fakes.FakeDeposit,
    }
    runner = ServiceRunner({"AMQP_URI": uri, "serializer": "json"})
    for name in names:
        runner.add_service(classes[name])
    runner.start()
    return runner


def token(portal, faked):
    if "auth" in faked:
        return "tok-maria"
    # from a remembered device of maria's: no e-mailed code to wait for
    (device,) = remember_devices_of_portal(portal.env, ["maria"]).values()
    answer = requests.post(
        portal.url("/api/v1/auth/login"),
        json={"username": "maria", "password": "Socia-2026!"},
        headers={"X-Device-Token": device},
        timeout=30,
    )
    answer.raise_for_status()
    return answer.json()["token"]


def time_calls(call, count):
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return timings


def load(url, headers, clients, seconds):
    """`clients` concurrent clients hammering `url` for `seconds`: latencies and throughput."""
    latencies, errors = [], []
    stop_at = time.monotonic() + seconds

    def client():
        with requests.Session() as session:
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                answer = session.get(url, headers=headers, timeout=30)
                latencies.append(time.perf_counter() - started)
                if answer.status_code != 200:
                    errors.append(answer.status_code)

    started = time.monotonic()
    pool = eventlet.GreenPool(clients)
    for _ in range(clients):
        pool.spawn(client)
    pool.waitall()
    elapsed = time.monotonic() - started
    return {
        "clients": clients,
        "requests": len(latencies),
        "median": statistics.median(latencies),
        "p99": percentile(latencies, 0.99),
        "rps": len(latencies) / elapsed,
        "errors": len(errors),
    }


def run(args):
    results = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_before": os.getloadavg()[0],
    }
    with Vhost() as uri, tempfile.TemporaryDirectory() as workdir:
        portal = Portal(workdir, uri, extra_env={"POSITION_TIMEOUT": str(POSITION_TIMEOUT)})
        portal.setup()
        faked = [name for name in ("auth", "credit", "deposit") if not available(name)]
        runner = start_fakes(uri, faked) if faked else None
        results["faked"] = faked
        try:
            for name in (
                "accounts",
                "reports",
                "gateway",
                *[n for n in ("auth", "credit", "deposit") if n not in faked],
            ):
                portal.start(name)
            wait_ready(portal)
            with ClusterRpcProxy({"AMQP_URI": uri, "serializer": "json"}, timeout=60) as rpc:
                measure_reports(rpc, results, args)
                measure_loan_table(rpc.reports.render, results)
                measure_rpc(rpc, results)
            headers = {"Authorization": f"Bearer {token(portal, faked)}"}
            measure_position(portal, headers, results, faked, runner)
            results["load_after"] = os.getloadavg()[0]
        finally:
            portal.stop_all()
            if runner is not None:
                runner.stop()
    return results


def wait_ready(portal, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            answer = requests.get(portal.url("/health"), timeout=5)
            services = answer.json().get("services", {})
            if all(services.get(n) == "ok" for n in ("accounts", "reports")):
                return
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.5)
    raise RuntimeError("portal not ready: " + portal.log("gateway")[-2000:])


def measure_reports(rpc, results, args):
    rpc.reports.render("statement", synthetic_statement(10))  # workers warm
    for count, runs in ((60, args.runs_small), (2000, args.runs_large)):
        data = synthetic_statement(count)
        timings = time_calls(lambda data=data: rpc.reports.render("statement", data), runs)
        results[f"statement_{count}"] = {
            "runs": runs,
            "median": statistics.median(timings),
            "max": max(timings),
        }
    data = synthetic_statement(2000)
    rpc.reports.render("statement", data, cacheable=True)
    timings = time_calls(lambda: rpc.reports.render("statement", data, cacheable=True), 5)
    results["statement_2000_cached"] = {"runs": 5, "median": statistics.median(timings)}


def measure_loan_table(render, results, runs=5):
    """The 240-installment loan table PDF (target ≤ 1.5 s on a quiet machine)."""
    data = synthetic_loan(240)
    render("loan_schedule", synthetic_loan(12))  # workers warm
    timings = time_calls(lambda: render("loan_schedule", data), runs)
    results["loan_table_240"] = {"runs": runs, "median": statistics.median(timings)}


def loan_table_only(runs):
    """`--only loan-table`: the loan table through the reports service's renderer and its worker
    pool, in this process (no broker, no other service)."""
    from services.reports.pool import RenderPool
    from services.reports.renderer import Renderer

    pool = RenderPool()
    pool.start()
    results = {"load_before": os.getloadavg()[0]}
    try:
        renderer = Renderer(pool)
        measure_loan_table(lambda doc, data: renderer.render(doc, data), results, runs)
    finally:
        pool.close()
    results["load_after"] = os.getloadavg()[0]
    m = results["loan_table_240"]
    return (
        f"loan table PDF, 240 installments (median of {m['runs']}): {ms(m['median'])} "
        f"(load average {results['load_before']:.1f} before, {results['load_after']:.1f} after)"
    )


def measure_rpc(rpc, results):
    rpc.accounts.list_accounts("100234")
    for name, call in (
        ("rpc_ping", lambda: rpc.accounts.ping()),
        ("rpc_list_accounts", lambda: rpc.accounts.list_accounts("100234")),
    ):
        timings = time_calls(call, 200)
        results[name] = {
            "runs": 200,
            "median": statistics.median(timings),
            "p99": percentile(timings, 0.99),
        }


def measure_position(portal, headers, results, faked, runner):
    url = portal.url("/api/v1/position")
    body = requests.get(url, headers=headers, timeout=30).json()
    results["position_unavailable_all_up"] = body["unavailable"]
    timings = time_calls(lambda: requests.get(url, headers=headers, timeout=30), 100)
    results["position_1"] = {
        "clients": 1,
        "requests": 100,
        "median": statistics.median(timings),
        "p99": percentile(timings, 0.99),
        "rps": len(timings) / sum(timings),
    }
    results["position_16"] = load(url, headers, 16, 4.0)
    # one of the three services stopped: deposit
    if "deposit" in faked:
        for container in runner.containers:
            if container.service_name == "deposit":
                container.stop()
    else:
        portal.stop("deposit")
    answers = []

    def one():
        answers.append(requests.get(url, headers=headers, timeout=30))

    timings = time_calls(one, 10)
    results["position_deposit_down"] = {
        "requests": 10,
        "median": statistics.median(timings),
        "max": max(timings),
        "unavailable": answers[-1].json()["unavailable"],
        "statuses": sorted({a.status_code for a in answers}),
    }


def _latency(m):
    return f"median {ms(m['median'])}, p99 {ms(m['p99'])}, {m['rps']:.0f} req/s"


def report(results):
    r = results
    ratio = r["position_1"]["median"] / r["rpc_list_accounts"]["median"]
    real = ["accounts", "reports", "gateway"]
    real += [n for n in ("auth", "credit", "deposit") if n not in r["faked"]]
    setup = (
        f"Run {r['when']} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; real processes: {', '.join(real)}"
    )
    if r["faked"]:
        setup += f"; stand-ins for {', '.join(r['faked'])} (not on this branch yet)"
    setup += f"; POSITION_TIMEOUT={POSITION_TIMEOUT:g} s; REPORTS_WORKERS=2 (default)"
    setup += (
        f"; load average {r['load_before']:.2f} before, {r['load_after']:.2f} after "
        "(the machine is shared: other processes' load slows every figure)."
    )
    s60, s2k, cached = r["statement_60"], r["statement_2000"], r["statement_2000_cached"]
    ping, rpc = r["rpc_ping"], r["rpc_list_accounts"]
    p1, p16, down = r["position_1"], r["position_16"], r["position_deposit_down"]
    rows = [
        (
            f"statement PDF, 60 movements (median of {s60['runs']})",
            f"{ms(s60['median'])} (max {ms(s60['max'])})",
            "≤ 500 ms",
        ),
        (
            f"statement PDF, 2 000 movements (median of {s2k['runs']})",
            f"{ms(s2k['median'])} (max {ms(s2k['max'])})",
            "≤ 3 000 ms",
        ),
        ("statement PDF, 2 000 movements, closed period (cache)", ms(cached["median"]), "–"),
        (
            f"loan table PDF, 240 installments (median of {r['loan_table_240']['runs']})",
            ms(r["loan_table_240"]["median"]),
            "≤ 1 500 ms",
        ),
        (
            "nameko RPC round trip `accounts.ping` (median of 200)",
            f"{ms(ping['median'])} (p99 {ms(ping['p99'])})",
            "–",
        ),
        (
            "nameko RPC round trip `accounts.list_accounts` (median of 200)",
            f"{ms(rpc['median'])} (p99 {ms(rpc['p99'])})",
            "–",
        ),
        (
            f"`GET /api/v1/position`, 1 client ({p1['requests']} requests)",
            _latency(p1),
            "median < 3 × RPC",
        ),
        (
            f"`GET /api/v1/position`, 16 clients ({p16['requests']} requests in 4 s)",
            f"{_latency(p16)}, {p16['errors']} errors",
            "–",
        ),
        (
            "`GET /api/v1/position`, deposit stopped (10 requests)",
            f"median {ms(down['median'])}, max {ms(down['max'])}; "
            f"status {down['statuses']}, unavailable {down['unavailable']}",
            f"≤ deadline ({POSITION_TIMEOUT:g} s) + ε",
        ),
    ]
    lines = [
        MARKER,
        "## Estado de cuenta (bench/reports.py)",
        "",
        setup,
        "",
        "| measurement | result | target |",
        "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows],
        "",
        f"Position median / `list_accounts` round trip = **{ratio:.2f}×**. The position is the "
        "session check (cached briefly by the gateway), then four calls in parallel "
        "(`accounts.get_member`, `accounts.list_accounts`, `credit.loans_summary`, "
        "`deposit.deposits_summary`), plus HTTP and JSON.",
        f"Sections unavailable with every service up: {r['position_unavailable_all_up'] or 'none'}",
        "",
    ]
    return "\n".join(lines)


def write(path, text):
    path = Path(path)
    current = path.read_text() if path.exists() else "# Benchmarks\n\n"
    if MARKER in current:
        head, _, tail = current.partition(MARKER)
        # our section runs from the marker to the next "## " heading after its own
        own_heading_end = tail.find("\n## ") + 1
        following = tail.find("\n## ", own_heading_end + 1) if own_heading_end else -1
        after = tail[following:] if following >= 0 else ""
        current = head.rstrip() + "\n\n" + text + after
    else:
        current = current.rstrip() + "\n\n" + text
    path.write_text(current)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", help="append/replace the section in this markdown file")
    parser.add_argument("--runs-small", type=int, default=9)
    parser.add_argument("--runs-large", type=int, default=5)
    parser.add_argument("--only", choices=["loan-table"], help="measure only this, in-process")
    args = parser.parse_args()
    if args.only == "loan-table":
        print(loan_table_only(args.runs_large))
        return 0
    text = report(run(args))
    print(text)
    if args.write:
        write(args.write, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
