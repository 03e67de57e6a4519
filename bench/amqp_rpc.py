"""Round-trip probes used by `make bench`, each run in its own process.

python -m bench.amqp_rpc serve URI QUEUE       raw AMQP responder (py-amqp, no nameko)
python -m bench.amqp_rpc raw URI QUEUE N       raw AMQP request/reply client → JSON
python -m bench.amqp_rpc nameko URI N          gateway-style RPC accounts.ping → JSON
python -m bench.amqp_rpc standalone URI N      nameko's own ClusterRpcProxy, out of the box

"Gateway-style" is the call the gateway makes: `ServiceRpc` (services/common/rpc.py) from inside
a nameko container, measured around each call in one worker.
"""

import json
import statistics
import sys
import time
import uuid
from urllib.parse import urlparse


def _connect(uri):
    import amqp

    parts = urlparse(uri.replace("pyamqp://", "amqp://"))
    conn = amqp.Connection(
        host=f"{parts.hostname or 'localhost'}:{parts.port or 5672}",
        userid=parts.username or "guest",
        password=parts.password or "guest",
        virtual_host=(parts.path[1:] or "/") if parts.path else "/",
    )
    conn.connect()
    return conn


def serve(uri, queue):
    import amqp

    conn = _connect(uri)
    channel = conn.channel()
    channel.queue_declare(queue, auto_delete=True)

    def on_request(message):
        reply = amqp.Message(message.body, correlation_id=message.properties["correlation_id"])
        channel.basic_publish(reply, exchange="", routing_key=message.properties["reply_to"])

    channel.basic_consume(queue, callback=on_request, no_ack=True)
    print("ready", flush=True)
    while True:
        conn.drain_events()


def raw(uri, queue, count):
    import amqp

    conn = _connect(uri)
    channel = conn.channel()
    reply_queue, _, _ = channel.queue_declare("", exclusive=True)
    answers = {}
    channel.basic_consume(
        reply_queue,
        no_ack=True,
        callback=lambda m: answers.__setitem__(m.properties["correlation_id"], m.body),
    )
    samples = []
    for _ in range(count):
        cid = uuid.uuid4().hex
        started = time.perf_counter()
        channel.basic_publish(
            amqp.Message("ping", correlation_id=cid, reply_to=reply_queue),
            exchange="",
            routing_key=queue,
        )
        while cid not in answers:
            conn.drain_events(timeout=5)
        samples.append(time.perf_counter() - started)
        answers.pop(cid)
    return samples


def nameko(uri, count):
    import eventlet

    eventlet.monkey_patch()
    from nameko.containers import ServiceContainer
    from nameko.testing.services import dummy, entrypoint_hook

    from services.common.rpc import ServiceRpc

    class BenchCaller:
        name = "bench_caller"
        accounts = ServiceRpc("accounts", timeout=10)

        @dummy
        def run(self, count):
            for _ in range(50):
                self.accounts.ping()
            samples = []
            for _ in range(count):
                started = time.perf_counter()
                self.accounts.ping()
                samples.append(time.perf_counter() - started)
            return samples

    container = ServiceContainer(BenchCaller, {"AMQP_URI": uri})
    container.start()
    try:
        with entrypoint_hook(container, "run") as run:
            return run(count)
    finally:
        container.stop()


def standalone(uri, count):
    import eventlet

    eventlet.monkey_patch()
    from nameko.standalone.rpc import ClusterRpcProxy

    samples = []
    with ClusterRpcProxy({"AMQP_URI": uri}, timeout=10) as rpc:
        for _ in range(50):
            rpc.accounts.ping()
        for _ in range(count):
            started = time.perf_counter()
            rpc.accounts.ping()
            samples.append(time.perf_counter() - started)
    return samples


def summary(samples):
    ordered = sorted(samples)
    return {
        "median_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000,
        "count": len(ordered),
    }


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "serve":
        serve(sys.argv[2], sys.argv[3])
    elif mode == "raw":
        print(json.dumps(summary(raw(sys.argv[2], sys.argv[3], int(sys.argv[4])))))
    elif mode == "standalone":
        print(json.dumps(summary(standalone(sys.argv[2], int(sys.argv[3])))))
    else:
        print(json.dumps(summary(nameko(sys.argv[2], int(sys.argv[3])))))
