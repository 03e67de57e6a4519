"""Prometheus metrics of the gateway: requests and latency per route, RPC errors per service;
and the detail of the health checks.

They are for operators, never for the public (docs/operations.md, "Metrics"): served on an
operations address of their own (`METRICS_ADDRESS`, e.g. `127.0.0.1:9100`, where Prometheus
scrapes), and on the public address only to a request with `Authorization: Bearer
<METRICS_TOKEN>`; without either, `/metrics` on the public address is a 404 like any unknown path.
The same goes for the health detail (which service, the broker): `/health` on the operations
address, or `/health` with the token; the public `/health` only says ok or not ok.
"""

import hmac
import json
import logging
import socketserver
import threading
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from nameko.extensions import DependencyProvider
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    make_wsgi_app,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from services.common.config import env

log = logging.getLogger("gateway.metrics")

REGISTRY = CollectorRegistry()

REQUESTS = Counter(
    "portal_http_requests_total",
    "HTTP requests by route and status",
    ["method", "route", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "portal_http_request_duration_seconds",
    "HTTP request latency by route",
    ["method", "route"],
    registry=REGISTRY,
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RPC_ERRORS = Counter(
    "portal_rpc_errors_total",
    "RPC calls from the gateway that failed, by service and kind",
    ["service", "kind"],
    registry=REGISTRY,
)


# (method, route, status) -> (counter, histogram): `labels()` once per series
_SERIES: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def observe_request(method, route, status, seconds):
    series = _SERIES.get((method, route, status))
    if series is None:
        series = (REQUESTS.labels(method, route, str(status)), LATENCY.labels(method, route))
        _SERIES[(method, route, status)] = series
    series[0].inc()
    series[1].observe(seconds)


def rpc_error(service, kind):
    RPC_ERRORS.labels(service, kind).inc()


def exposition():
    return CONTENT_TYPE_LATEST, generate_latest(REGISTRY)


class InboundSnapshot:
    """The core's inbound events as last read from each service's `inbound_status()`
    ({service: status dict, or None when it did not answer in time}), as Prometheus families.
    Refreshed by the gateway (on each scrape of /metrics and on a timer), so the operations
    address, which has no RPC of its own, serves the same figures."""

    def __init__(self):
        self.statuses = {}

    def collect(self):
        refusals = CounterMetricFamily(
            "portal_core_refusals",
            "Core events refused and parked in core.<service>.dead, by service and kind of reason",
            labels=["service", "kind"],
        )
        held = GaugeMetricFamily(
            "portal_core_held_events",
            "Core events held until their predecessor arrives, by service",
            labels=["service"],
        )
        up = GaugeMetricFamily(
            "portal_core_inbound_status_up",
            "1 when the service answered its inbound status within the deadline",
            labels=["service"],
        )
        for service, status in sorted(self.statuses.items()):
            up.add_metric([service], 0 if status is None else 1)
            if status is None:
                continue
            held.add_metric([service], status.get("held", 0))
            for row in status.get("refusals", []):
                refusals.add_metric([service, row["kind"]], row["count"])
        return [refusals, held, up]


INBOUND = InboundSnapshot()
REGISTRY.register(INBOUND)


def record_inbound(statuses):
    INBOUND.statuses = dict(statuses)


class HealthSnapshot:
    """The last health check's detail ({check: "ok" | "unavailable"}, when), kept for the
    operations address (it has no RPC of its own: the gateway refreshes it on a timer and at
    every /health) and as the gauge `portal_health_check_up`."""

    def __init__(self):
        self.services = {}
        self.checked_at = None

    def record(self, services, checked_at):
        self.services, self.checked_at = dict(services), checked_at

    def detail(self):
        """(status code, body) of the detail: 503 until a first check ran."""
        if self.checked_at is None:
            return 503, {"status": "unknown", "services": {}, "unavailable": [], "checked_at": None}
        body = detail_body(self.services)
        body["checked_at"] = self.checked_at
        return (200 if body["status"] == "ok" else 503), body

    def collect(self):
        up = GaugeMetricFamily(
            "portal_health_check_up",
            "1 when the check (a service's ping, the broker) passed at the last /health",
            labels=["check"],
        )
        for check, state in sorted(self.services.items()):
            up.add_metric([check], 1 if state == "ok" else 0)
        return [up]


def detail_body(services):
    """{"status": "ok" | "degraded", "services": {...}, "unavailable": [...]}"""
    failed = sorted(name for name, state in services.items() if state != "ok")
    body: dict[str, Any] = {"status": "degraded" if failed else "ok", "services": dict(services)}
    if failed:
        body["unavailable"] = failed
    return body


HEALTH = HealthSnapshot()
REGISTRY.register(HEALTH)


class GuessingSnapshot:
    """Guessing of passwords spread over many addresses, as last read from auth's
    `guessing_status()` (docs/identity.md, "Guessing from many addresses"). No user name in a
    label: two series whatever the number of members, so operators alert on a rise of the
    counter or a gauge above a few without a series per account."""

    def __init__(self):
        self.status = None

    def collect(self):
        episodes = CounterMetricFamily(
            "portal_auth_guessing_episodes",
            "Episodes of a user name guessed from many addresses (each e-mails the member once)",
        )
        throttled = GaugeMetricFamily(
            "portal_auth_accounts_throttled",
            "User names whose logins from unfamiliar addresses must wait now",
        )
        up = GaugeMetricFamily(
            "portal_auth_guessing_status_up",
            "1 when auth answered its guessing status within the deadline",
        )
        up.add_metric([], 0 if self.status is None else 1)
        if self.status is None:
            return [up]
        episodes.add_metric([], self.status.get("episodes", 0))
        throttled.add_metric([], self.status.get("throttled", 0))
        return [episodes, throttled, up]


GUESSING = GuessingSnapshot()
REGISTRY.register(GUESSING)


def record_guessing(status):
    GUESSING.status = status if isinstance(status, dict) else None


def token_allows(request):
    """True when the request carries the configured METRICS_TOKEN as its Bearer token."""
    token = env("METRICS_TOKEN")
    header = request.headers.get("Authorization", "")
    if not token or header[:7].lower() != "bearer ":
        return False
    return hmac.compare_digest(header[7:].strip().encode(), token.encode())


def operations_app():
    """The operations address's WSGI app: `/health` the detail, anything else the metrics."""
    metrics_app = make_wsgi_app(REGISTRY)

    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/health":
            status, body = HEALTH.detail()
            payload = json.dumps(body).encode()
            start_response(
                "200 OK" if status == 200 else "503 Service Unavailable",
                [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
            )
            return [payload]
        return metrics_app(environ, start_response)

    return app


class _OperationsServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002  (the request log is the gateway's)
        pass


class MetricsServer(DependencyProvider):
    """The operations address: /metrics and the health detail on METRICS_ADDRESS (host:port)."""

    server = None

    def start(self):
        address = env("METRICS_ADDRESS")
        if not address:
            return
        host, _, port = address.rpartition(":")
        self.server = make_server(
            host or "127.0.0.1",
            int(port),
            operations_app(),
            server_class=_OperationsServer,
            handler_class=_QuietHandler,
        )
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        log.info("metrics and health detail on http://%s/", address)

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    kill = stop

    def get_dependency(self, worker_ctx):
        return None
