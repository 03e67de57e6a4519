"""The gateway's contract for every request: error shape, limits, health, OpenAPI, headers."""

import pytest
import requests

from gateway.service import GatewayService
from services.accounts.service import AccountsService
from services.audit.service import AuditService
from services.auth.service import AuthService
from services.credit.service import CreditService
from services.deposit.service import DepositService
from services.notifications.service import NotificationsService
from services.payments.service import PaymentsService
from services.reports.service import ReportsService
from tests.conftest import _free_port
from tests.service.event_tools import wait_until


@pytest.fixture
def gateway(service_config, container_factory):
    container = container_factory(GatewayService, service_config)
    container.start()
    return container


def test_unknown_path_is_json_404(gateway, http_session):
    answer = http_session.get("/api/v1/nothing/here")
    assert answer.status_code == 404
    assert answer.json() == {
        "error": {"code": "not_found", "message": "La dirección solicitada no existe."}
    }


def test_unknown_web_path_is_a_spanish_page(gateway, http_session):
    answer = http_session.get("/no-existe")
    assert answer.status_code == 404
    assert "text/html" in answer.headers["Content-Type"]
    assert "La dirección solicitada no existe." in answer.text


def test_body_over_64_kib_is_413(gateway, http_session):
    answer = http_session.post(
        "/api/v1/auth/login",
        data=b"x" * (64 * 1024 + 1),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "payload_too_large"


def test_wrong_method_is_json_405(gateway, http_session):
    answer = http_session.delete("/health")
    assert answer.status_code == 405
    assert answer.json()["error"]["code"] == "method_not_allowed"


OPS = {"Authorization": "Bearer metrics-token-for-tests"}


@pytest.fixture
def metrics_token(monkeypatch):
    monkeypatch.setenv("METRICS_TOKEN", OPS["Authorization"].split()[1])


def test_health_names_the_services_that_do_not_answer(
    gateway, service_config, container_factory, http_session, metrics_token
):
    for cls in (AccountsService, ReportsService):
        container_factory(cls, service_config).start()
    # the public learns only that something is down (issue 28: no service names, no broker)
    public = http_session.get("/health")
    assert public.status_code == 503
    assert public.json() == {"status": "not ok"}

    # the operator (METRICS_TOKEN, as for /metrics) learns which (once the two running services'
    # first replies came: on a busy machine the first may miss the 1.8 s check)
    def both_running_answer():
        answer = http_session.get("/health", headers=OPS)
        services = answer.json()["services"]
        # a list: a 503 Response is falsy itself
        return [answer] if services["accounts"] == services["reports"] == "ok" else None

    [answer] = wait_until(both_running_answer, message="accounts and reports answering")
    assert answer.status_code == 503
    body = answer.json()
    assert set(body["unavailable"]) == {
        "auth",
        "credit",
        "deposit",
        "payments",
        "notifications",
        "audit",
    }
    wrong = http_session.get("/health", headers={"Authorization": "Bearer adivinanza"})
    assert wrong.json() == {"status": "not ok"}


ALL_SERVICES = (
    AccountsService,
    AuditService,
    AuthService,
    CreditService,
    DepositService,
    NotificationsService,
    PaymentsService,
    ReportsService,
)


@pytest.fixture
def operations_address(monkeypatch):
    address = f"127.0.0.1:{_free_port()}"
    monkeypatch.setenv("METRICS_ADDRESS", address)
    return address


def test_health_is_ok_and_nothing_more_and_the_detail_is_on_the_operations_address(
    service_config, container_factory, http_session, operations_address
):
    for cls in ALL_SERVICES:
        container_factory(cls, service_config).start()
    container_factory(GatewayService, service_config).start()
    ops = f"http://{operations_address}/health"
    # as an orchestrator's readiness probe does: the first answers after a start may come late
    # on a busy machine (each service's first reply sets up its queues); a service that never
    # answers keeps it 503 and fails here
    answer = wait_until(
        lambda: (a := http_session.get("/health")).status_code == 200 and a,
        message="/health ok after every service started",
    )
    assert answer.json() == {"status": "ok"}
    detail = requests.get(ops, timeout=15)
    assert detail.status_code == 200
    body = detail.json()
    assert body["status"] == "ok" and body["checked_at"].endswith("Z")
    assert body["services"] == dict.fromkeys(
        ["auth", "accounts", "credit", "deposit", "payments", "reports", "notifications", "audit"]
        + ["broker", "gateway"],
        "ok",
    )
    scraped = requests.get(f"http://{operations_address}/metrics", timeout=15).text
    assert 'portal_health_check_up{check="broker"} 1.0' in scraped


def test_metrics_are_prometheus_text(gateway, http_session, metrics_token):
    http_session.get("/health")
    answer = http_session.get("/metrics", headers=OPS)
    assert answer.status_code == 200
    assert "portal_http_requests_total" in answer.text
    assert 'route="/health"' in answer.text


def test_openapi_lists_operations_and_error_schema(gateway, http_session):
    spec = http_session.get("/api/v1/openapi.json").json()
    assert spec["openapi"] == "3.0.3"
    assert "Error" in spec["components"]["schemas"]


def test_static_files_and_no_path_escape(gateway, http_session):
    assert http_session.get("/static/portal.css").status_code == 200
    assert http_session.get("/static/../service.py").status_code == 404


def test_every_response_has_security_headers(gateway, http_session):
    for path in ("/health", "/api/v1/none", "/static/portal.css"):
        headers = http_session.get(path).headers
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert headers["Referrer-Policy"] == "same-origin"


def test_rpc_failures_are_counted_per_service(gateway, http_session, metrics_token):
    def credit_errors():
        lines = http_session.get("/metrics", headers=OPS).text.splitlines()
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in lines
            if line.startswith("portal_rpc_errors_total{") and 'service="credit"' in line
        )

    before = credit_errors()
    http_session.get("/health")  # nothing but the gateway runs: no ping is answered
    assert credit_errors() == before + 1
