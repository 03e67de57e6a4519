"""Container healthcheck: the service named by SERVICE_NAME answers `ping` over RPC in time.

`--database` also opens the service's own database and runs `SELECT 1` (the readiness probe of a
service with a database: ready means it can take work from the broker *and* store its effect).
"""

import argparse
import os
import sys

from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import create_engine, text

from services.common.config import amqp_uri, database_url
from services.common.db import normalize_url


def broker_problem(service):
    try:
        with ClusterRpcProxy({"AMQP_URI": amqp_uri()}, timeout=5) as rpc:
            if getattr(rpc, service).ping() != "pong":
                return "unexpected answer to ping"
    except Exception as exc:  # noqa: BLE001  any failure is "not healthy", named
        return type(exc).__name__
    return None


def database_problem(service):
    engine = create_engine(normalize_url(database_url(service)))
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001
        return type(exc).__name__
    finally:
        engine.dispose()
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", action="store_true", help="also check the database")
    args = parser.parse_args(argv)
    service = os.environ.get("SERVICE_NAME", "accounts")
    problems = [broker_problem(service)]
    if args.database:
        problems.append(database_problem(service))
    problems = [p for p in problems if p]
    for problem in problems:
        print(f"{service}: {problem}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
