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


def observe_request(method, route, status, seconds):
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


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
