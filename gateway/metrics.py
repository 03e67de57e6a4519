"""Prometheus metrics of the gateway: requests and latency per route, RPC errors per service.

They are for operators, never for the public (docs/operations.md, "Metrics"): served on an
operations address of their own (`METRICS_ADDRESS`, e.g. `127.0.0.1:9100`, where Prometheus
scrapes), and on the public address only to a request with `Authorization: Bearer
<METRICS_TOKEN>`; without either, `/metrics` on the public address is a 404 like any unknown path.
"""

import hmac
import logging

from nameko.extensions import DependencyProvider
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)

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


def observe_request(method, route, status, seconds):
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


def rpc_error(service, kind):
    RPC_ERRORS.labels(service, kind).inc()


def exposition():
    return CONTENT_TYPE_LATEST, generate_latest(REGISTRY)


def token_allows(request):
    """True when the request carries the configured METRICS_TOKEN as its Bearer token."""
    token = env("METRICS_TOKEN")
    header = request.headers.get("Authorization", "")
    if not token or header[:7].lower() != "bearer ":
        return False
    return hmac.compare_digest(header[7:].strip().encode(), token.encode())


class MetricsServer(DependencyProvider):
    """The operations address: prometheus_client's own server on METRICS_ADDRESS (host:port)."""

    server = None

    def start(self):
        address = env("METRICS_ADDRESS")
        if not address:
            return
        host, _, port = address.rpartition(":")
        self.server, _ = start_http_server(int(port), addr=host or "127.0.0.1", registry=REGISTRY)
        log.info("metrics on http://%s/metrics", address)

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    kill = stop

    def get_dependency(self, worker_ctx):
        return None
