"""Container healthcheck: the service named by SERVICE_NAME answers `ping` over RPC in time."""

import os
import sys

from nameko.standalone.rpc import ClusterRpcProxy

from services.common.config import amqp_uri


def main():
    service = os.environ.get("SERVICE_NAME", "accounts")
    try:
        with ClusterRpcProxy({"AMQP_URI": amqp_uri()}, timeout=5) as rpc:
            ok = getattr(rpc, service).ping() == "pong"
    except Exception as exc:  # noqa: BLE001
        print(f"{service}: {type(exc).__name__}", file=sys.stderr)
        ok = False
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
