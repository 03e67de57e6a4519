"""`make test` / `make test-fast`: the suite as pytest commands run two at a time.

    python -m scripts.run_tests          # everything: SQLite, then what can differ on PostgreSQL
    python -m scripts.run_tests --fast   # unit tests and the quick service tests (< 2 minutes)

Why plain pytest processes side by side and not pytest-xdist: the tests run under eventlet's
monkey-patching (nameko needs it), and xdist's execnet workers hang once their threads are green.
Two workers take the commands in turn and share the machine's two cores (most of a test's time is
waiting for the broker, the database or a process). Each test file runs in exactly one command: the
PostgreSQL command runs only the tests marked `pg` (their outcome can differ on PostgreSQL), every
other test runs once, on SQLite.

Each command's output goes to var/test-logs/run-<n>.log; this prints one line per command with its
time and result, then the summary of every command that failed, then the state of what the tests
stand on (the broker's alarms, free disk) when anything failed. A command that runs past
COMMAND_DEADLINE is stopped with everything it started (its process group) and counts as failed:
a hang costs one command, never the whole CI budget, and its log keeps the stacks pytest's
faulthandler_timeout dumped (pyproject.toml).
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from urllib.parse import quote

from services.common.config import PROJECT_ROOT

PYTEST = [sys.executable, "-m", "pytest", "-q", "--durations=15"]

# Every test file runs in exactly one command of `make test` (the pg command runs again only the
# tests marked pg, on PostgreSQL). Two workers take the commands in this order, the longest
# first, so the lanes even out by themselves.
FULL = [
    ["tests/e2e/test_journeys.py"],  # the browser journeys: about half of tests/e2e
    ["tests/service"],
    ["tests/e2e", "--ignore=tests/e2e/test_journeys.py"],
    ["tests/service", "-m", "pg", "--db-backend", "postgres"],
    ["tests/faults", "--ignore=tests/faults/test_rabbit_cluster.py"],
    ["tests/unit"],
]
# Run alone once the others are done: the loss of a broker node with the machine's two cores
# saturated by other pytest commands has left a consumer stuck (docs/operations.md, "A RabbitMQ
# cluster"); alone, it measures the portal and not the machine's contention.
ALONE = [["tests/faults/test_rabbit_cluster.py"]]
# make test-fast: the pure rules, and the service tests of one service each on the real broker
# (no gateway stack, no PDFs, no real processes), stopping at the first failure.
QUICK_SERVICE = [
    f"tests/service/test_{name}.py"
    for name in (
        "accounts_service",
        "audit_service",
        "notifications_service",
        "auth_service",
        "credit_service",
        "deposit_service",
        "migrations",
        "inbox_rollback",
        "poison_messages",
        "rpc_wire",
        "auth_events_amqp",
    )
]
FAST = [
    ["-x", *QUICK_SERVICE[:3], *QUICK_SERVICE[5:]],
    ["-x", "tests/unit", *QUICK_SERVICE[3:5]],
]
WORKERS = 2
# the longest command takes about 10 minutes on a quiet machine; three times that is a hang
COMMAND_DEADLINE = 30 * 60


def run_commands(queue, logs, results, lock):
    while True:
        with lock:
            if not queue:
                return
            n, args = queue.pop(0)
        log = logs / f"run-{n}.log"
        started = time.monotonic()
        with log.open("w") as out:
            code = run_pytest(args, out)
        seconds = time.monotonic() - started
        with lock:
            results.append((n, args, code, seconds, log))
            print(f"pytest {' '.join(args)}: {_last_line(log)} ({seconds:.0f} s)", flush=True)


def run_pytest(args, out):
    """pytest's exit code; past COMMAND_DEADLINE its whole process group (the portal processes
    it started too) is stopped and the code is 124, as timeout(1) says."""
    proc = subprocess.Popen(
        PYTEST + args, cwd=PROJECT_ROOT, stdout=out, stderr=out, start_new_session=True
    )
    try:
        return proc.wait(COMMAND_DEADLINE)
    except subprocess.TimeoutExpired:
        out.write(f"\n=== stopped after {COMMAND_DEADLINE} s (scripts/run_tests.py) ===\n")
        out.flush()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(20)
                break
            except subprocess.TimeoutExpired:
                continue
        return 124


def ground_report():
    """Lines on what every test stands on: the broker's alarms (a disk or memory alarm blocks
    every publisher, so tests hang or fail far from the cause) and the free disk."""
    lines = []
    free = shutil.disk_usage(PROJECT_ROOT).free
    lines.append(f"free disk where the project is: {free / 2**30:.1f} GiB")
    try:
        from scripts import rabbit_api

        alarms = rabbit_api.get("/api/nodes")
        for node in alarms:
            raised = [
                name
                for name, key in (("memory", "mem_alarm"), ("disk", "disk_free_alarm"))
                if node.get(key)
            ]
            lines.append(
                f"broker node {node.get('name')}: alarms {', '.join(raised) or 'none'}; "
                f"file descriptors {node.get('fd_used')}/{node.get('fd_total')}; "
                f"disk free {int(node.get('disk_free', 0)) / 2**30:.1f} GiB"
            )
    except Exception as exc:  # noqa: BLE001  a report: say what could not be read
        lines.append(f"broker's management API did not answer: {type(exc).__name__}: {exc}")
    lines.append(f"broker's at-least-once dead-lettering: {dead_lettering_state()}")
    return lines


def dead_lettering_state():
    """RabbitMQ 3.10 stops it for the whole node after two of its workers die within 5 s
    (docs/operations.md, "Quorum dead-lettering stopped"): every quorum queue of the portal
    then fails to start, far from the cause."""
    try:
        answer = subprocess.run(
            ["rabbitmqctl", "eval", "whereis(rabbit_fifo_dlx_sup)."],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"not read ({type(exc).__name__})"
    if answer == "undefined":
        return "STOPPED (make services starts it again)"
    return "running" if answer.startswith("<") else f"not read ({answer[:80]!r})"


# the vhosts the tests make (nameko's rabbit_config fixture, tests/e2e/conftest.py's make_vhost)
TEST_VHOST = re.compile(r"^(nameko_test_|portal_e2e_)")


def clear_leftover_vhosts():
    """Deletes the vhosts that earlier test runs left behind (a run stopped before its teardown
    leaves its vhost and its quorum queues, which a broker restart recovers one by one and keeps
    open: hundreds of them slow every test after). Only when no connection is open to any test
    vhost, so a suite running beside this one is never touched. Returns a line to print."""
    try:
        from scripts import rabbit_api

        names = [v["name"] for v in rabbit_api.get("/api/vhosts") if TEST_VHOST.match(v["name"])]
        if not names:
            return None
        busy = {c.get("vhost") for c in rabbit_api.get("/api/connections")}
        if busy & set(names):
            return f"{len(names)} test vhosts left as they are: another test run is using some"
        for name in names:
            rabbit_api.call("DELETE", f"/api/vhosts/{quote(name, safe='')}")
        return f"deleted {len(names)} test vhosts that earlier runs left behind"
    except Exception as exc:  # noqa: BLE001  housekeeping: the tests say the rest
        return f"test vhosts not cleared: {type(exc).__name__}: {exc}"


def _last_line(log):
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip("= ") if lines else "no output"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true", help="unit + quick service tests")
    options = parser.parse_args(argv)
    commands = FAST if options.fast else FULL
    cleared = clear_leftover_vhosts()
    if cleared:
        print(cleared, flush=True)
    logs = PROJECT_ROOT / "var" / "test-logs"
    logs.mkdir(parents=True, exist_ok=True)
    queue, results, lock = list(enumerate(commands, 1)), [], threading.Lock()
    started = time.monotonic()
    threads = [
        threading.Thread(target=run_commands, args=(queue, logs, results, lock))
        for _ in range(WORKERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if not options.fast:
        queue.extend(enumerate(ALONE, len(commands) + 1))
        run_commands(queue, logs, results, lock)
    failed = [r for r in results if r[2] != 0]
    for _n, args, _code, _seconds, log in failed:
        text = log.read_text(errors="replace")
        at = text.find("short test summary info")
        print(f"\n--- pytest {' '.join(args)} failed; full output: {log}")
        print(text[text.rfind("\n", 0, at) :] if at >= 0 else text[-4000:])
    if failed:
        print("\nwhat the tests stand on, now:")
        for line in ground_report():
            print(f"  {line}")
    total = time.monotonic() - started
    print(f"\n{'FAILED' if failed else 'passed'}: {len(results)} pytest runs in {total:.0f} s")
    # the counts of every run in pytest's own words, one line (what CI reads)
    counts = {"passed": 0, "failed": 0}
    for *_, log in results:
        for word in counts:
            counts[word] += _count(_last_line(log), word)
    errors = sum(_count(_last_line(log), "error") for *_, log in results)
    counts["failed"] += errors
    print(f"total: {counts['passed']} passed, {counts['failed']} failed")
    return 1 if failed else 0


def _count(line, word):
    """3 from '3 passed, 1 failed in 2.0s' for 'passed' (errors: 'error' or 'errors')."""
    match = re.search(rf"(\d+) {word}s?\b", line)
    return int(match.group(1)) if match else 0


if __name__ == "__main__":
    sys.exit(main())
