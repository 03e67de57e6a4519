"""Prometheus metrics of the gateway: requests and latency per route, RPC errors per service."""

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

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
