"""The CPU one password hash costs with auth's Argon2id parameters and with those it replaced,
measured in one run on this machine (`python -m bench --only argon2`, or this module
alone). CPU seconds (every thread of the process: the old setting has four lanes) rather than
wall time, which other work on the machine would inflate; medians of several hashes; ratios
computed within the run."""

import json
import os
import statistics
import time

from services.common.known_warnings import acknowledge

acknowledge()  # before eventlet is imported (through services.auth.passwords)

import argon2  # noqa: E402

from services.auth import passwords  # noqa: E402

HASHES = int(os.environ.get("BENCH_ARGON2_HASHES", "15"))
SECRET = "Socia-2026!"  # noqa: S105  a sample, as a member would type it

SETTINGS = (
    ("before (RFC 9106 low-memory: m=64 MiB, t=3, p=4)", passwords.LEGACY),
    (
        "now (OWASP: m=19 MiB, t=2, p=1)",
        argon2.Parameters(
            type=argon2.Type.ID,
            version=19,
            salt_len=passwords.LEGACY.salt_len,
            hash_len=passwords.LEGACY.hash_len,
            time_cost=passwords.TIME_COST,
            memory_cost=passwords.MEMORY_KIB,
            parallelism=passwords.PARALLELISM,
        ),
    ),
)


def _cost(parameters):
    hasher = argon2.PasswordHasher.from_parameters(parameters)
    stored = hasher.hash(SECRET)  # warm: the first allocation of the memory
    cpu, wall = [], []
    for _ in range(HASHES):
        c0, w0 = time.process_time(), time.perf_counter()
        hasher.verify(stored, SECRET)  # what a login costs (a hash costs the same)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return {
        "memory_kib": parameters.memory_cost,
        "time_cost": parameters.time_cost,
        "parallelism": parameters.parallelism,
        "cpu_ms": round(statistics.median(cpu) * 1000, 1),
        "wall_ms": round(statistics.median(wall) * 1000, 1),
    }


def _through_the_pool():
    """What a check costs the auth process itself when a hashing worker does it: the CPU of
    the service's process (the frames on the pipes) and the wall time of the round trip."""
    pool = passwords.HashingPool(1, wait=60, queue=None, retry_after=5, nice=0)
    pool.start()
    try:
        stored = passwords.hash_now(SECRET)
        pool.call({"op": "check", "stored": stored, "secret": SECRET})  # the worker is up
        cpu, wall = [], []
        for _ in range(HASHES):
            c0, w0 = time.process_time(), time.perf_counter()
            pool.call({"op": "check", "stored": stored, "secret": SECRET})
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
    finally:
        pool.close()
    return {
        "service_cpu_ms": round(statistics.median(cpu) * 1000, 2),
        "wall_ms": round(statistics.median(wall) * 1000, 1),
    }


def run():
    results = {name: _cost(parameters) for name, parameters in SETTINGS}
    before, now = (results[name] for name, _ in SETTINGS)
    return {
        "hashes_per_setting": HASHES,
        "cpu_count": os.cpu_count(),
        "settings": results,
        "now_through_a_hashing_worker": _through_the_pool(),
        "cpu_ratio_now_to_before": round(now["cpu_ms"] / before["cpu_ms"], 3),
        "wall_ratio_now_to_before": round(now["wall_ms"] / before["wall_ms"], 3),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, ensure_ascii=False))
