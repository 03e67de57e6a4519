"""/health, /metrics, the OpenAPI document and static files."""

import mimetypes
from pathlib import Path

from werkzeug.wrappers import Response

from gateway import metrics
from gateway.http import http, json_response
from gateway.openapi import build_spec
from services.common.config import SERVICES
from services.common.errors import NotFound
from services.common.rpc import wait_all

STATIC = Path(__file__).resolve().parents[1] / "static"
HEALTH_TIMEOUT = 2.0


class OperationsApi:
    @http("GET", "/health")
    def health(self, request):
        """Asks every service with a deadline: 200 when all answer, 503 naming those that do not."""
        calls = {}
        failed = {}
        for name in SERVICES:
            try:
                calls[name] = self.rpc_for(name).with_timeout(HEALTH_TIMEOUT).ping.call_async()
            except Exception:  # noqa: BLE001  unreachable service counts as down
                failed[name] = "unavailable"
        names = list(calls)
        for name, outcome in zip(names, wait_all(calls.values()), strict=True):
            failed_now = isinstance(outcome, Exception) or outcome != "pong"
            if failed_now:
                failed[name] = "unavailable"
        services = {name: failed.get(name, "ok") for name in SERVICES}
        services["gateway"] = "ok"
        if failed:
            return json_response(
                {"status": "degraded", "services": services, "unavailable": sorted(failed)}, 503
            )
        return json_response({"status": "ok", "services": services})

    @http("GET", "/metrics")
    def metrics_page(self, request):
        """Only with METRICS_TOKEN (gateway/metrics.py); the public never learns it exists."""
        if not metrics.token_allows(request):
            raise NotFound("La dirección solicitada no existe.")
        content_type, body = metrics.exposition()
        return Response(body, headers={"Content-Type": content_type})

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
