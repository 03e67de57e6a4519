"""Where a consolidated-position request spends its time: CPU per request of every process
(from /proc, exact) split by what each process was doing (py-spy samples, statistical).

Used by `make bench` (bench/run.py); alone, against a running portal:

    python -m bench.cpu_profile http://127.0.0.1:8000 TOKEN gateway=PID accounts=PID ...

py-spy samples each process's Python stacks while wrk drives the position; a sample whose stack
sits in the event loop's poll is idle and dropped. Each busy sample is charged to the first
category (in the order of CATEGORIES) whose marker appears in its stack, and a process's CPU
time per request is shared out by those proportions.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

# (category, markers): the first category with a marker in a sample's stack takes the sample
CATEGORIES = (
    ("session check (cache, else auth RPC)", ("require_member",)),
    ("publishing RPC requests", ("_FastMethodProxy.call_async",)),
    ("consolidation and JSON answer", ("build_position", "json_response", "finish_response")),
    ("HTTP parse/write (eventlet wsgi, werkzeug)", ("eventlet/wsgi.py", "werkzeug/")),
    ("receiving RPC replies", ("FastReplyListener",)),
    ("SQL (SQLAlchemy, SQLite)", ("sqlalchemy/",)),
    ("marshmallow dump", ("marshmallow/",)),
    ("publishing the reply", ("FastRpcConsumer.handle_result",)),
    ("commit before reply", ("finish_transactions",)),
    ("service handler (own code)", ("services/accounts/", "services/credit/", "services/deposit/")),
    ("receiving requests (kombu, py-amqp)", ("QueueConsumer", "drain_events")),
    ("nameko worker lifecycle", ("nameko/",)),
    ("other", ("",)),
)
IDLE = re.compile(r"(epoll|poll|select)\b.*\((eventlet/hubs|selectors)")


def cpu_ticks(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def rabbit_pid():
    out = subprocess.run(["pgrep", "-f", "beam.smp"], capture_output=True, text=True).stdout
    return int(out.split()[0]) if out.split() else None


def cpu_per_request(pids, run_load):
    """{process: ms of CPU per request} over one load run; `run_load()` returns wrk's dict."""
    tick = os.sysconf("SC_CLK_TCK")
    before = {name: cpu_ticks(pid) for name, pid in pids.items()}
    load = run_load()
    after = {name: cpu_ticks(pid) for name, pid in pids.items()}
    requests = load["rps"] * load["seconds"]
    per = {name: (after[name] - before[name]) * 1000 / tick / max(requests, 1) for name in pids}
    return load, {name: value for name, value in per.items() if value >= 0.005}


def categorise(raw_file):
    counts, busy = Counter(), 0
    for line in Path(raw_file).read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        frames = stack.split(";")
        if IDLE.search(frames[-1]):
            continue
        busy += int(n)
        for name, markers in CATEGORIES:
            if any(marker in stack for marker in markers):
                counts[name] += int(n)
                break
    return busy, counts


def profile(pids, run_load, seconds):
    """Sample the processes with py-spy during one load run; {process: {category: share}}."""
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(pyspy).exists():
        return {"error": "py-spy is not installed"}
    outdir = Path(tempfile.mkdtemp(prefix="portal-profile-"))
    samplers = {
        name: subprocess.Popen(
            [pyspy, "record", "-p", str(pid), "-d", str(seconds + 1), "-r", "200", "-f", "raw"]
            + ["-o", str(outdir / f"{name}.txt"), "--idle", "--nonblocking"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for name, pid in pids.items()
    }
    time.sleep(0.5)
    run_load()
    shares = {}
    for name, sampler in samplers.items():
        _, err = sampler.communicate(timeout=seconds + 30)
        target = outdir / f"{name}.txt"
        if sampler.returncode or not target.exists():
            shares[name] = {"error": (err or b"").decode()[-300:]}
            continue
        busy, counts = categorise(target)
        shares[name] = {k: v / busy for k, v in counts.most_common()} if busy else {}
    shutil.rmtree(outdir, ignore_errors=True)
    return shares


def table(cpu, shares):
    """Markdown: per process, CPU ms per request and its split."""
    lines = [
        "| process | CPU per request | where (share of the process's busy samples) |",
        "|---|---|---|",
    ]
    total = sum(cpu.values())
    for name, ms in sorted(cpu.items(), key=lambda item: -item[1]):
        split = shares.get(name) or {}
        if "error" in split:
            detail = f"(py-spy: {split['error'].strip()[:80]})"
        else:
            detail = "; ".join(
                f"{category} {share * ms:.2f} ms"
                for category, share in split.items()
                if share >= 0.04
            )
        if name == "rabbit":
            detail = "RabbitMQ (Erlang): routing, queueing, delivering and acks"
        lines.append(f"| {name} | {ms:.2f} ms | {detail} |")
    ceiling = 2000 / total if total else 0
    lines.append(f"| **all** | **{total:.2f} ms** | two cores give at most {ceiling:.0f} req/s |")
    return "\n".join(lines)


if __name__ == "__main__":
    from bench.wrk import wrk

    base, token, *named = sys.argv[1:]
    pids = {k: int(v) for k, v in (item.split("=") for item in named)}
    if rabbit_pid():
        pids["rabbit"] = rabbit_pid()
    auth = [f"Authorization: Bearer {token}"]

    def load():
        return {**wrk(base + "/api/v1/position", 1, auth, seconds=8), "seconds": 8}

    _, cpu = cpu_per_request(pids, load)
    shares = profile({k: v for k, v in pids.items() if k != "rabbit"}, load, 8)
    print(table(cpu, shares))
    print(json.dumps({"cpu": cpu, "shares": shares}, indent=2))
