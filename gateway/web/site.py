"""What makes the portal a site a phone can keep: the web app manifest and /favicon.ico."""

import json

from werkzeug.wrappers import Response

from gateway.http import http
from gateway.parts import GatewayParts
from gateway.web.render import COOPERATIVE_NAME

BRAND_COLOUR = "#0b5d3b"  # --brand of portal.css


def manifest():
    return {
        "name": f"{COOPERATIVE_NAME} · Portal en línea",
        "short_name": "Portal en línea",
        "description": "Su posición, estados de cuenta, créditos y plazo fijo.",
        "lang": "es-EC",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#f6f8f7",
        "theme_color": BRAND_COLOUR,
        "icons": [
            {"src": "/static/icon-192.png", "sizes": "192x192", "type": "image/png"},
            {"src": "/static/icon-512.png", "sizes": "512x512", "type": "image/png"},
            {"src": "/static/favicon.svg", "sizes": "any", "type": "image/svg+xml"},
        ],
    }


class SitePages(GatewayParts):
    @http("GET", "/manifest.webmanifest")
    def web_manifest(self, request):
        return Response(
            json.dumps(manifest(), ensure_ascii=False),
            mimetype="application/manifest+json",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    @http("GET", "/favicon.ico")
    def favicon(self, request):
        # browsers ask for it whatever the page says; the PNG serves (no 404 in the logs)
        return Response(status=301, headers={"Location": "/static/icon-192.png"})
