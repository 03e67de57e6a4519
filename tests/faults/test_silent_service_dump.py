"""An operator who finds a service silent sends it SIGUSR1 and reads, in its log, what each of
its greenthreads is doing (scripts/run_service.py; docs/operations.md, "A service that seems
silent"); the service goes on working. A real service process on the real broker."""

import signal

import eventlet
import pytest

from tests.e2e.conftest import Portal, make_vhost


@pytest.fixture
def audit_process(tmp_path, rabbit_manager, amqp_base):
    vhost, uri = make_vhost(rabbit_manager, amqp_base)
    portal = Portal(tmp_path, uri, extra_env={"DEMO_MEMBERS": "0"})
    portal.setup()
    portal.start("audit")
    yield portal
    portal.stop_all()
    rabbit_manager.delete_vhost(vhost)


def wait_for_log(portal, text, timeout=60):
    with eventlet.Timeout(timeout, AssertionError(f"no {text!r} in the log")):
        while text not in portal.log("audit"):
            assert portal.procs["audit"].poll() is None, portal.log("audit")[-3000:]
            eventlet.sleep(0.2)


def test_sigusr1_writes_every_greenthread_of_a_service_into_its_log(audit_process):
    portal = audit_process
    wait_for_log(portal, "audit started")
    portal.procs["audit"].send_signal(signal.SIGUSR1)
    wait_for_log(portal, "greenthreads:")
    log = portal.log("audit")
    assert "in drain_events" in log  # the queue consumer, reading its connection
    assert "in _watch" in log  # its watchdog
    assert portal.procs["audit"].poll() is None  # still running
