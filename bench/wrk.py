"""HTTP load with wrk: requests per second, median and p99 latency, errors. Shared by the
position benchmark (bench/run.py) and the CPU profile (bench/cpu_profile.py)."""

import os
import re
import subprocess

SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))


def ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url, connections, headers=(), script=None, seconds=SECONDS):
    cmd = [
        "wrk",
        f"-t{min(connections, 2)}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    for header in headers:
        cmd += ["-H", header]
    if script:
        cmd += ["-s", script]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    dist = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.M))
    if "99" not in dist:  # wrk leaves out lines it could not fill: fall back to the max
        dist["99"] = re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", out).group(1)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "median_ms": ms(dist["50"]),
        "p99_ms": ms(dist["99"]),
        "rps": rps,
        "errors": int(non2xx.group(1)) if non2xx else 0,
    }
