"""Prometheus metrics of the gateway: requests and latency per route, RPC errors per service."""

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

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


def inbound_exposition(statuses):
    """Prometheus text of the core's inbound events, from each service's `inbound_status()`
    ({service: status dict, or None when it did not answer in time})."""
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
    for service, status in sorted(statuses.items()):
        up.add_metric([service], 0 if status is None else 1)
        if status is None:
            continue
        held.add_metric([service], status.get("held", 0))
        for row in status.get("refusals", []):
            refusals.add_metric([service, row["kind"]], row["count"])

    class _Snapshot:
        def collect(self):
            return [refusals, held, up]

    registry = CollectorRegistry()
    registry.register(_Snapshot())
    return generate_latest(registry)
