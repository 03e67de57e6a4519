"""Run one service (or the gateway) as its own process: `python -m scripts.run_service accounts`."""

from services.common.known_warnings import acknowledge

acknowledge()  # before eventlet is imported

import eventlet  # noqa: E402

eventlet.monkey_patch()  # noqa: E402  must precede every other import

import importlib  # noqa: E402
import logging.config  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from nameko.runners import ServiceRunner  # noqa: E402

from scripts.preflight import broker_problem  # noqa: E402
from services.common import config  # noqa: E402
from services.common.files import private_umask  # noqa: E402

SERVICE_CLASSES = {
    "gateway": "gateway.service:GatewayService",
    "auth": "services.auth.service:AuthService",
    "accounts": "services.accounts.service:AccountsService",
    "credit": "services.credit.service:CreditService",
    "deposit": "services.deposit.service:DepositService",
    "payments": "services.payments.service:PaymentsService",
    "reports": "services.reports.service:ReportsService",
    "notifications": "services.notifications.service:NotificationsService",
    "audit": "services.audit.service:AuditService",
}


def service_class(name):
    module, cls = SERVICE_CLASSES[name].split(":")
    return getattr(importlib.import_module(module), cls)


def log_greenthreads():
    """SIGUSR1: every greenthread's stack into the log, for an operator who finds a service
    silent (docs/operations.md); eventlet's threads are invisible to an outside profiler."""
    import gc
    import traceback

    import greenlet

    stacks = [
        "".join(traceback.format_stack(thread.gr_frame))
        for thread in gc.get_objects()
        if isinstance(thread, greenlet.greenlet) and thread.gr_frame is not None
    ]
    logging.getLogger("portal").warning("%d greenthreads:\n%s", len(stacks), "\n---\n".join(stacks))


def main(name):
    private_umask()  # what it writes under var/ is the portal's account's only
    cfg = config.nameko_config(name)
    logging.config.dictConfig(cfg["LOGGING"])
    problem = broker_problem(cfg["AMQP_URI"])
    if problem:
        print(problem, file=sys.stderr)
        sys.exit(2)
    if os.environ.get("PORTAL_TIMELINE"):  # probes for scripts/timeline.py
        from scripts import timeline

        timeline.install(os.environ["PORTAL_TIMELINE"], name)
    runner = ServiceRunner(cfg)
    runner.add_service(service_class(name))

    stop_timeout = config.env_float("STOP_TIMEOUT", 8.0)

    def give_up(signum, frame):
        # nameko's stop waits for its consumers, which wait for a broker that may never answer
        logging.getLogger("portal").warning(
            "%s did not stop within %.0f s; exiting now", name, stop_timeout
        )
        logging.shutdown()
        os._exit(1)

    def shutdown(signum, frame):
        # a real OS timer: it fires even if the stop blocks the event loop
        if signal.getitimer(signal.ITIMER_REAL)[0]:
            return  # already stopping: a second signal does not move the deadline
        signal.signal(signal.SIGALRM, give_up)
        signal.setitimer(signal.ITIMER_REAL, stop_timeout)
        logging.getLogger("portal").info("%s stopping (signal %s)", name, signum)
        eventlet.spawn_n(runner.stop)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    # in a greenthread of its own: a handler runs inside the hub, where logging may not block
    signal.signal(signal.SIGUSR1, lambda *_: eventlet.spawn_n(log_greenthreads))
    runner.start()
    logging.getLogger("portal").info("%s started", name, extra={"service": name})
    try:
        runner.wait()
    except KeyboardInterrupt:
        runner.stop()


if __name__ == "__main__":
    main(sys.argv[1])
