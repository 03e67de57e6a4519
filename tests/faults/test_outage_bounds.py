"""What docs/operations.md promises when the broker goes away, checked as deadlines on real
processes: `/health` answers 503 naming the broker within 2 s (the broker refusing, and the
broker hanging), a service told SIGTERM exits within 10 s whatever the broker does, and under
`make run`'s supervisor a service that dies is restarted, saying so, while the others keep
serving. The broker is cut by a TCP proxy in front of it (tests/faults/proxy.py), as in
test_broker_outage.py; the machine's broker stays up. Also here, because it needs the real
processes' logs: an expected 4xx is logged at INFO, without a traceback."""

import json
import signal
import subprocess
import threading
import time

import pytest
import requests

from scripts.processes import PROCESSES, Portal, Supervisor
from services.common.config import PROJECT_ROOT
from tests.e2e.conftest import make_vhost
from tests.faults.proxy import CuttableProxy
from tests.helpers import login_at

HEALTH_BOUND = 2.0  # seconds, docs/operations.md
SIGTERM_BOUND = 10.0


@pytest.fixture(scope="module")
def portal(tmp_path_factory, rabbit_manager, amqp_base):
    vhost, uri = make_vhost(rabbit_manager, amqp_base)
    proxy = CuttableProxy()
    instance = Portal(tmp_path_factory.mktemp("outage"), proxy.uri(uri))
    instance.proxy = proxy
    instance.setup()
    instance.start_all()
    yield instance
    proxy.restore()
    instance.stop_all()
    proxy.close()
    rabbit_manager.delete_vhost(vhost)


def log_entries(portal, name):
    entries = []
    for line in portal.log(name).splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            entries.append({"raw": line})
    return entries


def test_an_expected_4xx_is_logged_at_info_without_a_traceback(portal):
    answer = requests.post(portal.url("/api/v1/auth/login"), json={"username": "x"}, timeout=10)
    assert answer.status_code == 422
    not_found = requests.get(portal.url("/api/v1/loans/CR-000000-00"), timeout=10)
    assert not_found.status_code == 401
    expected = [
        e
        for name in ("gateway", "auth")
        for e in log_entries(portal, name)
        if "(expected)" in e.get("message", "")
    ]
    assert expected, "the refusals were logged"
    assert {e["level"] for e in expected} == {"INFO"}
    assert not [e for e in expected if "exception" in e]
    assert "Traceback" not in portal.log("gateway") + portal.log("auth")


def timed_health(portal):
    """/health under a client deadline of the promised bound: no answer in time fails."""
    started = time.monotonic()
    try:
        answer = portal.health_detail(timeout=HEALTH_BOUND)  # the operator's detail
    except requests.Timeout:
        pytest.fail(f"/health did not answer within {HEALTH_BOUND} s")
    return answer, time.monotonic() - started


def test_with_the_broker_down_health_answers_503_naming_it_within_2_s(portal):
    try:
        portal.proxy.cut()  # the broker refuses every connection
        answer, refused_in = timed_health(portal)
        assert answer.status_code == 503
        body = answer.json()
        assert body["services"]["broker"] == "unavailable"
        assert "broker" in body["unavailable"]
        portal.proxy.restore()
        portal.wait_healthy(timeout=60)  # everything reconnects by itself
        healthy = portal.health_detail().json()
        assert healthy["services"]["broker"] == "ok"
    finally:
        portal.proxy.restore()
    print(f"\n/health with the broker refusing: 503 in {refused_in:.2f} s")


def test_a_service_told_sigterm_exits_within_10_s_whatever_the_broker_does(portal):
    portal.proxy.stall()  # the broker hangs: connections stay open, nothing answers
    answer, stalled_in = timed_health(portal)
    assert answer.status_code == 503
    assert "broker" in answer.json()["unavailable"]
    times = {}
    for name in ("credit", "gateway"):
        proc = portal.procs.pop(name)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=SIGTERM_BOUND)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"{name} still running {SIGTERM_BOUND} s after SIGTERM")
        times[name] = time.monotonic() - started
    print(
        f"\nbroker hanging: /health 503 in {stalled_in:.2f} s; SIGTERM to exit: "
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in times.items())
    )


class Lines:
    """The supervisor's output, kept for the test to read."""

    def __init__(self):
        self.text = ""
        self.lock = threading.Lock()

    def write(self, text):
        with self.lock:
            self.text += text

    def flush(self):
        pass


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"not within {timeout} s: {what}")


@pytest.fixture
def supervised(tmp_path, rabbit_manager, amqp_base):
    vhost, uri = make_vhost(rabbit_manager, amqp_base)
    portal = Portal(tmp_path, uri)
    portal.setup()
    out = Lines()
    supervisor = Supervisor(PROJECT_ROOT / "Procfile", env=portal.env, out=out)
    supervisor.start_all()
    runner = threading.Thread(target=supervisor.run, daemon=True)
    runner.start()
    yield portal, supervisor, out
    supervisor.stopping = True
    runner.join(5)
    supervisor.stop()
    rabbit_manager.delete_vhost(vhost)


def health_status(portal):
    try:
        return requests.get(portal.url("/health"), timeout=5).status_code
    except requests.RequestException:
        return None


def test_make_run_restarts_a_service_that_dies_while_the_others_keep_serving(supervised):
    portal, supervisor, out = supervised
    assert set(supervisor.commands) == set(PROCESSES)
    wait_for(lambda: health_status(portal) == 200, 90, "the portal healthy")

    supervisor.procs["credit"].kill()
    wait_for(lambda: "credit exited with code -9; restarting" in out.text, 10, "the restart said")
    others = {n: p for n, p in supervisor.procs.items() if n != "credit"}
    assert all(proc.poll() is None for proc in others.values())
    login = login_at(portal.base_url, "maria", "Socia-2026!", timeout=10)
    assert login.status_code == 200  # the others keep serving meanwhile

    wait_for(lambda: "credit restarted (restart 1)" in out.text, 30, "credit restarted")
    wait_for(lambda: health_status(portal) == 200, 60, "the portal healthy again")
    assert all(proc.poll() is None for proc in others.values())
    assert supervisor.restarts == {name: int(name == "credit") for name in supervisor.commands}
