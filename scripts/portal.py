"""Portal administration: `python -m scripts.portal {check,migrate,demo,setup,run}`.

- check:   the broker and every database answer (one clear line each when not)
- migrate: every service's alembic history up to head, on its own database
- demo:    every service loads its own part of the demo cooperative (idempotent)
- setup:   check + migrate + demo
- run:     setup, then every service and the gateway as their own processes (honcho)
- dead-letters: events parked after repeated handler failures (and --requeue QUEUE)
"""

import argparse
import importlib
import logging
import os
import sys
import time

from scripts.preflight import broker_problem, database_problem
from services.common import config
from services.common.clock import CLOCK

log = logging.getLogger("portal")


def check(broker=True):
    problems = []
    if broker:
        problem = broker_problem(config.amqp_uri())
        if problem:
            problems.append(problem)
    for service in config.DB_SERVICES:
        problem = database_problem(service, config.database_url(service))
        if problem:
            problems.append(problem)
    return problems


def migrate():
    from services.common.migrate import upgrade

    for service in config.DB_SERVICES:
        if (config.PROJECT_ROOT / "services" / service / "migrations" / "env.py").exists():
            upgrade(service)


def demo(today=None, long_history=False):
    today = today or CLOCK.today()
    for service in config.DB_SERVICES:
        try:
            module = importlib.import_module(f"services.{service}.demo")
        except ModuleNotFoundError:
            continue
        started = time.monotonic()
        added = module.load(config.database_url(service), today)
        print(f"  demo {service}: {added} added in {time.monotonic() - started:.1f} s", flush=True)
    if long_history:
        from services.accounts.demo import load_long_history

        load_long_history(config.database_url("accounts"), today)


def setup(long_history=False):
    problems = check(broker=False)
    if problems:
        for line in problems:
            print(line, file=sys.stderr)
        sys.exit(2)
    print("Migrating databases…", flush=True)
    migrate()
    print("Loading the demo cooperative (first time takes a minute)…", flush=True)
    demo(long_history=long_history)


def run():
    problem = broker_problem(config.amqp_uri())
    if problem:
        print(problem, file=sys.stderr)
        sys.exit(2)
    setup()
    address = config.env("GATEWAY_ADDRESS", "127.0.0.1:8000")
    print(
        f"\nPortal en línea: http://{address}/   (demo: maria / Socia-2026!)   Ctrl-C stops it.\n",
        flush=True,
    )
    # replace this process with honcho so Ctrl-C reaches every service
    os.execvp(  # noqa: S606
        sys.executable,
        [sys.executable, "-m", "honcho", "-f", str(config.PROJECT_ROOT / "Procfile"), "start"],
    )


def main(argv=None):
    parser = argparse.ArgumentParser(prog="portal")
    parser.add_argument(
        "command", choices=["check", "migrate", "demo", "setup", "run", "dead-letters"]
    )
    parser.add_argument(
        "--requeue",
        metavar="QUEUE",
        help="dead-letters: move QUEUE's parked events back to their handler",
    )
    parser.add_argument(
        "--long-history",
        action="store_true",
        help="also load the 100 000-movement member used by the benchmarks",
    )
    args = parser.parse_args(argv)
    if args.command == "check":
        problems = check()
        for line in problems:
            print(line, file=sys.stderr)
        sys.exit(2 if problems else 0)
    elif args.command == "migrate":
        migrate()
    elif args.command == "demo":
        demo(long_history=args.long_history)
    elif args.command == "dead-letters":
        from scripts.dead_letters import main as dead_letters

        dead_letters(args.requeue)
    elif args.command == "setup":
        setup(long_history=args.long_history)
    else:
        run()


if __name__ == "__main__":
    main()
