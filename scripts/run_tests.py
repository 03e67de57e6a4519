"""`make test` / `make test-fast`: the suite in two lanes that run side by side.

    python -m scripts.run_tests          # everything: SQLite, then what can differ on PostgreSQL
    python -m scripts.run_tests --fast   # unit tests and the quick service tests (< 2 minutes)

Why two lanes of plain pytest processes and not pytest-xdist: the tests run under eventlet's
monkey-patching (nameko needs it), and xdist's execnet workers hang once their threads are green.
A lane is a list of pytest commands run one after the other; the two lanes share the machine's
two cores (most of a test's time is waiting for the broker, the database or a process). Each test
file runs in exactly one command: the PostgreSQL command runs only the tests marked `pg` (their
outcome can differ on PostgreSQL), every other test runs once, on SQLite.

Each command's output goes to var/test-logs/<lane>-<n>.log; this prints one line per command with
its time and result, then the summary of every command that failed.
"""

import argparse
import subprocess
import sys
import threading
import time

from services.common.config import PROJECT_ROOT

PYTEST = [sys.executable, "-m", "pytest", "-q", "--durations=15"]

# Balanced by measured time (see docs/testing.md): real processes and browsers in one lane,
# nameko containers in the other, PostgreSQL after SQLite in the lighter one.
LANES = {
    "processes": [["tests/e2e", "tests/faults"]],
    "containers": [
        ["tests/unit", "tests/service"],
        ["tests/service", "-m", "pg", "--db-backend", "postgres"],
    ],
}
# make test-fast: pure rules, and the service tests that need no portal processes, no browser,
# no subprocess and no retry timers (everything under tests/service except what is deselected).
FAST = {
    "unit": [["tests/unit"]],
    "service": [["tests/service", "-m", "not slow", "-x"]],
}


def run_lane(name, commands, logs, results):
    for n, args in enumerate(commands, 1):
        log = logs / f"{name}-{n}.log"
        started = time.monotonic()
        with log.open("w") as out:
            code = subprocess.call(PYTEST + args, cwd=PROJECT_ROOT, stdout=out, stderr=out)
        seconds = time.monotonic() - started
        summary = _last_line(log)
        results.append((name, args, code, seconds, log))
        print(f"[{name}] pytest {' '.join(args)}: {summary} ({seconds:.0f} s)", flush=True)


def _last_line(log):
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip("= ") if lines else "no output"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true", help="unit + quick service tests")
    options = parser.parse_args(argv)
    lanes = FAST if options.fast else LANES
    logs = PROJECT_ROOT / "var" / "test-logs"
    logs.mkdir(parents=True, exist_ok=True)
    results = []
    started = time.monotonic()
    threads = [
        threading.Thread(target=run_lane, args=(name, commands, logs, results))
        for name, commands in lanes.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = [r for r in results if r[2] != 0]
    for name, args, _code, _seconds, log in failed:
        text = log.read_text(errors="replace")
        at = text.find("short test summary info")
        print(f"\n--- [{name}] pytest {' '.join(args)} failed; full output: {log}")
        print(text[text.rfind("\n", 0, at) :] if at >= 0 else text[-4000:])
    total = time.monotonic() - started
    print(f"\n{'FAILED' if failed else 'passed'}: {len(results)} pytest runs in {total:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
