"""Portal administration: `python -m scripts.portal {check,migrate,demo,setup,run}`.

- check:   the broker and every database answer (one clear line each when not)
- migrate: every service's alembic history up to head, on its own database
- import DIR: bulk load of the core's CSV files through the running services (docs/bulk-load.md)
- demo:    the demo cooperative written as such files (var/demo-core/) and imported (idempotent)
- setup:   check + migrate + migrate-queues + demo (DEMO=off: no demo data, empty databases)
- run:     setup, then every service and the gateway as their own processes, each restarted
           if it dies (scripts/processes.py, Supervisor)
- migrate-queues: the portal's queues redeclared as AMQP_QUEUE_TYPE says, messages kept
                  (scripts/queues.py; `setup`, so `run`, does it too, while no process
                  uses them)
- dead-letters: events parked after repeated handler failures (and --requeue QUEUE); the
                core's refused events one by one with their reason
- reconciliation [--date D] [--redo]: the differences the core's day_closed found, and the
                streams held behind a missing sequence; --redo compares the day again
- parked …: the core's refused events, listed (filters, pages), requeued, discarded
            (scripts/parked.py)
- held …:   the streams held behind a missing sequence, and a held event discarded
            (scripts/held.py)
- requests --pending | requests resolve ID completed|rejected [--operator NAME] | requests
           evidence ID: the requests to the core without answer, an operator's resolution of
           one, and the evidence of an order (docs/payments.md, docs/operations.md)
- audit-verify [--anchor]: the audit log checked against its key and anchor file, naming the
                           anchor (exit 1 when altered); --anchor anchors the head first
- broker-users: every process's broker user from `<NAME>_AMQP_PASSWORD` and the core's
                permissions (docker-compose, the Kubernetes migrate Job; docs/operations.md)
"""

from services.common.known_warnings import acknowledge

acknowledge()  # before anything imports eventlet

import argparse  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from scripts.preflight import broker_problem, database_problem  # noqa: E402
from services.common import config  # noqa: E402
from services.common.clock import CLOCK  # noqa: E402
from services.common.files import private_umask  # noqa: E402

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
    """The demo cooperative as the core's CSV files, loaded through the bulk import (the one way
    in for data). The services are not running yet, so each service's import functions run
    in-process on its own database; auth's portal users (not core data) keep their own seeding."""
    from scripts import bulk_import, demo_files
    from services.auth import demo as auth_demo

    today = today or CLOCK.today()
    urls = {service: config.database_url(service) for service in config.DB_SERVICES}
    directory = config.var_dir() / "demo-core"
    started = time.monotonic()
    written = demo_files.write(directory, today, urls)
    print(f"  demo files: {written['movements.csv']} movements in {directory}", flush=True)
    code, _ = bulk_import.run(
        directory, bulk_import.LocalTarget(urls), show_progress=sys.stderr.isatty()
    )
    if code:
        sys.exit(code)
    added = auth_demo.load(urls["auth"], today)
    print(f"  demo auth: {added} portal users added", flush=True)
    print(f"  demo loaded in {time.monotonic() - started:.1f} s", flush=True)
    if long_history:
        from services.accounts.demo import load_long_history

        load_long_history(config.database_url("accounts"), today)


def demo_wanted():
    """DEMO=off (a real deployment): setup and run load no demo cooperative; the databases stay
    empty until the core's bulk load (`import DIR`) fills them."""
    return config.env_bool("DEMO", True)


def setup(long_history=False):
    problems = check(broker=False)
    if problems:
        for line in problems:
            print(line, file=sys.stderr)
        sys.exit(2)
    print("Migrating databases…", flush=True)
    migrate()
    from scripts.queues import migrate as migrate_queues

    # queues an older portal declared with another type (a service would stop on
    # PRECONDITION_FAILED): before any process of this one starts (make run, benchmarks)
    problem = migrate_queues()
    if problem:
        print(problem, file=sys.stderr)
        sys.exit(2)
    if not demo_wanted():
        print("DEMO=off: no demo data loaded (load the core's files: import DIR).", flush=True)
        return
    print("Loading the demo cooperative (first time takes a minute)…", flush=True)
    demo(long_history=long_history)


def broker_setup():
    """The `portal.requests` exchange, and (AMQP_SERVICE_USERS, default on) every process's own
    broker user and the core's (scripts/broker_users.py); returns {process: its environment}."""
    from scripts import broker_users
    from services.common.amqp import safe

    broker_users.declare_requests(config.amqp_uri())
    if not broker_users.enabled():
        return {}
    try:
        uris = broker_users.ensure_all(config.amqp_uri())
    except Exception as exc:  # noqa: BLE001  one clear line instead of a traceback
        print(
            f"Could not create the broker users through the management API ({exc}); check "
            "RABBIT_API_URI (an administrator), or set AMQP_SERVICE_USERS=off "
            '(docs/operations.md, "Broker users and permissions").',
            file=sys.stderr,
        )
        sys.exit(2)
    print(
        f"  broker users: every process its own ({safe(config.amqp_uri())}); the core publishes "
        f"on core.events as '{config.core_amqp_user()}':\n    CORE_AMQP_URI={uris['core']}",
        flush=True,
    )
    return {name: {"AMQP_URI": uri} for name, uri in uris.items() if name != "core"}


def delivery_notes():
    """Where a member's e-mails (the second factor's codes among them) and SMS go, said at start:
    a new browser's login asks for a code sent by e-mail."""
    label = "  E-mails (códigos de ingreso incluidos):"
    if config.env("SMTP_HOST"):
        mail = f"{label} SMTP {config.env('SMTP_HOST')}"
    else:
        mail = f"{label} archivos .eml en {config.var_dir() / 'mail'}"
    backend = (config.env("SMS_BACKEND") or "file").lower()
    if backend == "file":
        sms = f"  SMS de alertas: archivos en {config.var_dir() / 'sms'}"
    else:
        sms = f"  SMS de alertas: SMS_BACKEND={backend}"
    return f"{mail}\n{sms}\n"


def run():
    problem = broker_problem(config.amqp_uri())
    if problem:
        print(problem, file=sys.stderr)
        sys.exit(2)
    setup()
    envs = broker_setup()
    address = config.env("GATEWAY_ADDRESS", "127.0.0.1:8000")
    who = "   (demo: maria / Socia-2026!)" if demo_wanted() else ""
    print(f"\nPortal en línea: http://{address}/{who}   Ctrl-C stops it.\n", flush=True)
    print(delivery_notes(), flush=True)
    # every service its own process; one that dies is restarted while the others keep serving
    from scripts.processes import Supervisor

    supervisor = Supervisor(config.PROJECT_ROOT / "Procfile", envs=envs)
    if config.env_bool("DEMO_CORE", True):
        # the demo cooperative's core answers the portal's requests (docs/payments.md)
        supervisor.add("demo-core", [sys.executable, "-m", "scripts.demo_core"])

    def stop(signum, frame):
        supervisor.stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    supervisor.start_all()
    supervisor.run()
    supervisor.stop()


# commands with their own options and actions (scripts/<module>.py, main(argv))
SUBTOOLS = {
    "parked": "scripts.parked",
    "held": "scripts.held",
    "requests": "scripts.core_requests",  # docs/payments.md
}


def main(argv=None):
    private_umask()  # databases, demo files, keys under var/: the portal's account's only
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in SUBTOOLS:
        import importlib

        sys.exit(importlib.import_module(SUBTOOLS[argv[0]]).main(argv[1:]))
    parser = argparse.ArgumentParser(prog="portal")
    parser.add_argument(
        "command",
        choices=[
            "check",
            "migrate",
            "import",
            "demo",
            "setup",
            "run",
            "dead-letters",
            "migrate-queues",
            "reconciliation",
            "audit-verify",
            "broker-users",
        ],
    )
    parser.add_argument(
        "--date", metavar="YYYY-MM-DD", help="reconciliation: the business day (default: last)"
    )
    parser.add_argument("directory", nargs="?", help="import: the directory of CSV files")
    parser.add_argument(
        "--requeue",
        metavar="QUEUE",
        help="dead-letters: move QUEUE's parked events back to their handler",
    )
    parser.add_argument(
        "--anchor", action="store_true", help="audit-verify: anchor the chain head first"
    )
    parser.add_argument(
        "--redo", action="store_true", help="reconciliation: compare the day (--date) again"
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
    elif args.command == "import":
        if not args.directory:
            parser.error("import: falta el directorio de archivos CSV")
        from scripts.bulk_import import main as bulk_import

        bulk_import(args.directory)
    elif args.command == "demo":
        demo(long_history=args.long_history)
    elif args.command == "dead-letters":
        from scripts.dead_letters import main as dead_letters

        dead_letters(args.requeue)
    elif args.command == "migrate-queues":
        from scripts.queues import main as migrate_queues

        migrate_queues()
    elif args.command == "reconciliation":
        from scripts.reconciliation import main as reconciliation

        sys.exit(reconciliation(args.date, args.redo))
    elif args.command == "audit-verify":
        from scripts.audit_chain import main as audit_verify

        sys.exit(audit_verify(args.anchor))
    elif args.command == "broker-users":
        from scripts.broker_users import deploy

        sys.exit(deploy(config.amqp_uri()))
    elif args.command == "setup":
        setup(long_history=args.long_history)
    else:
        run()


if __name__ == "__main__":
    main()
