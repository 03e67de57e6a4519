"""Where one consolidated position spends its wall time, across processes.

Started with `PORTAL_TIMELINE=DIR`, every process of the portal (scripts/run_service.py) writes
a line per step to `DIR/<service>.log`: the gateway when a request enters and leaves the WSGI
app, when each RPC request is queued and when each reply arrives; each service when a request
reaches its entrypoint and when it starts publishing the reply. Timestamps come from
`time.perf_counter()` (CLOCK_MONOTONIC, one clock for every process on the machine) and the
RPC correlation id links a reply to the service that produced it.

    PORTAL_TIMELINE=/tmp/tl python -m scripts.portal run     # then load it (wrk -c1 …)
    python -m scripts.timeline /tmp/tl                       # medians of each step

Probes cost a few microseconds each; they are off unless the variable is set.
"""

import atexit
import collections
import signal
import statistics
import sys
from pathlib import Path
from time import perf_counter


def install(directory, service):
    """Wrap the steps above with probes writing to DIR/<service>.log."""
    from nameko.rpc import RpcConsumer

    from services.common import entrypoints, messaging, rpc

    Path(directory).mkdir(parents=True, exist_ok=True)
    out = open(Path(directory) / f"{service}.log", "w", buffering=1 << 16)  # noqa: SIM115
    atexit.register(out.flush)
    signal.signal(signal.SIGUSR1, lambda *_: out.flush())

    def probe(step, key=""):
        out.write(f"{perf_counter():.7f} {step} {key}\n")

    def around(cls, name, before=None, after=None, key=lambda *a: ""):
        original = getattr(cls, name)

        def wrapped(*args, **kwargs):
            if before:
                probe(before, key(*args))
            result = original(*args, **kwargs)
            if after:
                probe(after, key(*args))
            return result

        setattr(cls, name, wrapped)

    def correlation_of(message):
        return message.properties.get("correlation_id")

    around(
        messaging.FastReplyListener,
        "_on_reply",
        before="reply_arrived",
        key=lambda self, m: correlation_of(m),
    )
    around(rpc._FastMethodProxy, "call_async", before="request_queued")
    around(
        RpcConsumer,
        "handle_message",
        before="request_received",
        key=lambda self, body, m: correlation_of(m),
    )
    around(
        entrypoints.FastRpcConsumer,
        "handle_result",
        before="reply_publishing",
        key=lambda self, m, *a: correlation_of(m),
    )
    if service == "gateway":
        from gateway import http

        around(http.PortalWsgiApp, "__call__", before="http_in", after="http_out")


def read(path):
    for line in Path(path).read_text().splitlines():
        stamp, step, *key = line.split()
        yield float(stamp), step, key[0] if key else ""


def report(directory, skip=200):
    """(requests, [(step, median ms)]) over the requests that got their replies (the first
    `skip` are warm-up)."""
    directory = Path(directory)
    served = {}
    for log in directory.glob("*.log"):
        if log.stem == "gateway":
            continue
        for stamp, step, key in read(log):
            served.setdefault(key, {"service": log.stem})[step] = stamp
    requests, current = [], None
    for stamp, step, key in read(directory / "gateway.log"):
        if step == "http_in":
            current = {"in": stamp, "queued": [], "replies": []}
        elif current is None:
            continue
        elif step == "request_queued":
            current["queued"].append(stamp)
        elif step == "reply_arrived":
            current["replies"].append((key, stamp))
        elif step == "http_out":
            current["out"] = stamp
            if current["queued"] and current["replies"]:
                requests.append(current)
            current = None
    steps = collections.defaultdict(list)
    for request in requests[skip:]:
        start, first = request["in"], request["queued"][0]
        steps["gateway: request in → first RPC queued"].append(first - start)
        for key, arrived in request["replies"]:
            seen = served.get(key)
            if not seen or "request_received" not in seen:
                continue
            name = seen["service"]
            steps[f"{name}: first RPC queued → request received"].append(
                seen["request_received"] - first
            )
            steps[f"{name}: request received → reply publishing"].append(
                seen["reply_publishing"] - seen["request_received"]
            )
            # from the start of the publish: the caller can have the reply before the
            # service's send call returns (it is woken first on a busy machine)
            steps[f"{name}: reply publishing → arrived at the gateway"].append(
                arrived - seen["reply_publishing"]
            )
        last = max(stamp for _, stamp in request["replies"])
        steps["gateway: last reply → response written"].append(request["out"] - last)
        steps["gateway: request in → response written"].append(request["out"] - start)
    medians = [(name, 1000 * statistics.median(values)) for name, values in steps.items()]
    return max(len(requests) - skip, 0), sorted(medians)


if __name__ == "__main__":
    count, medians = report(sys.argv[1])
    print(f"{count} requests")
    for name, value in medians:
        print(f"{name:58s} median {value:6.3f} ms")
