"""/health, /metrics, the OpenAPI document and static files."""

import mimetypes
import time
from pathlib import Path
from typing import cast

import eventlet
from nameko.timer import timer
from werkzeug.wrappers import Response

from gateway import metrics
from gateway.http import http, json_response
from gateway.openapi import build_spec
from gateway.parts import GatewayParts
from services.common.amqp import open_connection
from services.common.config import SERVICES, env
from services.common.errors import NotFound
from services.common.events import iso_utc, utcnow
from services.common.operations import JSON, InboundOperations, Pending
from services.common.rpc import wait_all

STATIC = Path(__file__).resolve().parents[1] / "static"
HEALTH_TIMEOUT = 1.8  # docs/api.md promises the answer within 2 s
# services that consume the core's events (services/common/inbound.py)
INBOUND_SERVICES = ("accounts", "credit", "deposit", "payments")
INBOUND_REFRESH_SECONDS = 15


def broker_reachable(config):
    """A fresh connection to the broker opens (the gateway's own may be reconnecting); with
    several addresses in AMQP_URI (a cluster), to any of its nodes."""
    try:
        with open_connection(config["AMQP_URI"], connect_timeout=HEALTH_TIMEOUT) as connection:
            return connection.connected
    except Exception:  # noqa: BLE001  refused, reset, timed out: down
        return False


class OperationsApi(GatewayParts):
    @http("GET", "/health")
    def health(self, request):
        """200 `{"status": "ok"}` when the broker and every service answer, else 503
        `{"status": "not ok"}`, always within HEALTH_TIMEOUT (docs/operations.md): every check
        runs at once under one deadline, so a broker that refuses, drops or never answers costs
        the same two seconds at most. Which check failed is for operators only: the detail goes
        to a request with the METRICS_TOKEN, and to `/health` on the operations address."""
        services = self._check_health()
        if metrics.token_allows(request):
            body = metrics.detail_body(services)
            return json_response(body, 200 if body["status"] == "ok" else 503)
        if all(state == "ok" for state in services.values()):
            return json_response({"status": "ok"})
        return json_response({"status": "not ok"}, 503)

    def _check_health(self):
        """{check: "ok" | "unavailable"} for every service, the broker and the gateway; kept
        as the operations address's snapshot."""
        checks = {name: eventlet.spawn(self._ping, name) for name in SERVICES}
        checks["broker"] = eventlet.spawn(broker_reachable, self.config)
        deadline = time.monotonic() + HEALTH_TIMEOUT
        answered = {}
        for name, check in checks.items():
            try:
                with eventlet.Timeout(max(deadline - time.monotonic(), 0.0)):
                    answered[name] = bool(check.wait())
            except eventlet.Timeout:
                check.kill()
                answered[name] = False
        services = {name: "ok" if answered[name] else "unavailable" for name in checks}
        services["gateway"] = "ok"
        metrics.HEALTH.record(services, iso_utc(utcnow()))
        return services

    def _ping(self, name):
        # a little under the whole budget: the answer must still be written in time. Failures
        # are answers here (a greenthread dying of one would print its traceback to stderr).
        try:
            return self.rpc_for(name).with_timeout(HEALTH_TIMEOUT - 0.2).ping() == "pong"
        except Exception:  # noqa: BLE001  unreachable, late or broken: down
            return False

    @http("GET", "/metrics")
    def metrics_page(self, request):
        """Only with METRICS_TOKEN (gateway/metrics.py); the public never learns it exists."""
        if not metrics.token_allows(request):
            raise NotFound("La dirección solicitada no existe.")
        metrics.record_inbound(self._inbound_statuses())
        metrics.record_guessing(self._guessing_status())
        content_type, body = metrics.exposition()
        return Response(body, headers={"Content-Type": content_type})

    @timer(interval=INBOUND_REFRESH_SECONDS)
    def refresh_inbound_metrics(self):
        """Keeps the operations address's figures of the core's events and its health detail
        fresh (it has no RPC)."""
        if env("METRICS_ADDRESS"):
            metrics.record_inbound(self._inbound_statuses())
            self._check_health()
            metrics.record_guessing(self._guessing_status())

    def _guessing_status(self):
        """auth's figures of guessing from many addresses, or None when it did not answer."""
        try:
            proxy = self.auth_rpc.with_timeout(HEALTH_TIMEOUT, count_errors=False)
            return proxy.guessing_status()
        except Exception:  # noqa: BLE001  down or slow: read as down, the page still answers
            return None

    def _inbound_statuses(self):
        """{service: inbound_status() or None}; a service that is down or slow only reads as
        down (portal_core_inbound_status_up 0), the page still answers."""
        calls: dict[str, Pending[JSON]] = {}
        statuses: dict[str, JSON | None] = {}
        for name in INBOUND_SERVICES:
            try:
                # every one of INBOUND_SERVICES applies the core's events
                inbound = cast(InboundOperations, self.rpc_for(name))
                proxy = inbound.with_timeout(HEALTH_TIMEOUT, count_errors=False)
                calls[name] = proxy.inbound_status.call_async()
            except Exception:  # noqa: BLE001  unreachable service
                statuses[name] = None
        for name, outcome in zip(list(calls), wait_all(calls.values()), strict=True):
            statuses[name] = None if isinstance(outcome, Exception) else outcome
        return statuses

    @http("GET", "/api/v1/openapi.json")
    def openapi_document(self, request):
        return json_response(build_spec())

    @http("GET", "/static/<path:filename>")
    def static_file(self, request, filename):
        path = (STATIC / filename).resolve()
        if STATIC not in path.parents or not path.is_file():
            raise NotFound("La dirección solicitada no existe.")
        mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return Response(
            path.read_bytes(), mimetype=mimetype, headers={"Cache-Control": "public, max-age=3600"}
        )
