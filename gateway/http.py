"""The gateway's HTTP entrypoint: the error shape of docs/api.md everywhere, body limit, security
headers.

`http` is nameko's @http with these additions:
- every error is JSON `{"error": {code, message, ...}}` for /api paths (an HTML page for the web
  face), never a stack trace; unknown paths and methods too (the WSGI app below);
- bodies over 64 KiB answer 413 before the handler runs;
- every response carries the security headers and an X-Request-ID (the correlation id, which
  nameko passes on to every RPC and event the request causes);
- metrics of every request (see gateway/metrics.py).
"""

import json
import logging
import socket
import time
from functools import lru_cache, partial

from amqp.exceptions import AMQPError
from eventlet.event import Event
from kombu.exceptions import KombuError
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import HttpOnlyProtocol, WebServer, WsgiApp
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.exceptions import RequestEntityTooLarge as WerkzeugTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Request, Response

from gateway import metrics, security
from services.common import correlation
from services.common.config import env
from services.common.entrypoints import CachedSignature
from services.common.errors import (
    BadRequest,
    Forbidden,
    PayloadTooLarge,
    PortalError,
    ServiceUnavailable,
)
from services.common.errors import NotFound as PortalNotFound

log = logging.getLogger("gateway.http")

MAX_BODY = 64 * 1024

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}

GENERIC_MESSAGE = "Ocurrió un error inesperado. Intente nuevamente."

# The HTTP status of each error code (docs/api.md): decided here only, services know codes.
# A code missing here (none is: tests/unit/test_error_statuses.py) would answer 500.
HTTP_STATUS = {
    "bad_request": 400,
    "unauthenticated": 401,
    "password_change_required": 403,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "quote_changed": 409,
    "challenge_expired": 410,
    "payload_too_large": 413,
    "validation_error": 422,
    "invalid_code": 422,
    "locked": 423,
    "rate_limited": 429,
    "internal_error": 500,
    "service_unavailable": 503,
}


def json_response(data, status=200, headers=None):
    return Response(
        json.dumps(data, ensure_ascii=False, default=str),
        status=status,
        headers=headers,
        mimetype="application/json",
    )


def http_status(exc):
    """The HTTP status that answers an error: by its code for the portal's own, else 500."""
    return HTTP_STATUS.get(exc.code, 500) if isinstance(exc, PortalError) else 500


def error_payload(exc):
    if isinstance(exc, PortalError):
        return http_status(exc), {"error": exc.to_dict()}
    return 500, {"error": {"code": "internal_error", "message": GENERIC_MESSAGE}}


def wants_json(request):
    path = request.path
    return path.startswith("/api/") or path in ("/health", "/metrics")


def error_response(request, exc):
    """The response for an exception: JSON for the API, a Spanish page for the web face."""
    status, payload = error_payload(exc)
    headers = {}
    # a throttled address, or a login that waited past its bound for auth's hashing (503)
    if status in (429, 503) and isinstance(exc, PortalError) and exc.extra.get("retry_after"):
        headers["Retry-After"] = str(exc.extra["retry_after"])
    if wants_json(request) or request is None:
        return json_response(payload, status, headers)
    from gateway.web.render import render_error_page

    return render_error_page(request, status, payload["error"], headers)


def finish_response(request, response, started, route):
    # the headers a handler did not set, added in one pass: werkzeug's `Headers.setdefault`
    # raises and catches a KeyError per missing header (half of this function's time in the
    # position's profile, docs/capacity.md)
    headers = response.headers
    present = {key.lower() for key, _ in headers}
    for key, value in SECURITY_HEADERS.items():
        if key.lower() not in present:
            headers.add(key, value)
    if request.scheme == "https" and "strict-transport-security" not in present:
        headers.add("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if "cache-control" not in present and wants_json(request):
        headers.add("Cache-Control", "no-store")
    cid = correlation.current()
    if cid:
        if "x-request-id" in present:
            headers["X-Request-ID"] = cid
        else:
            headers.add("X-Request-ID", cid)
    elapsed = time.perf_counter() - started
    metrics.observe_request(request.method, route, response.status_code, elapsed)
    if log.isEnabledFor(logging.INFO):  # the access log's fields only when it is written
        log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 2),
            },
        )
    return response


def _incoming_correlation(request):
    given = request.headers.get("X-Request-ID", "")
    if given and len(given) <= 64 and all(c.isalnum() or c in "-_." for c in given):
        return given
    return correlation.new()


def trusted_proxy_fix(environ):
    """werkzeug's ProxyFix for a request that came from TRUSTED_PROXY (comma-separated proxy
    addresses, or `*`), else None: anyone else's X-Forwarded-* headers mean nothing.

    ProxyFix takes the client address (X-Forwarded-For), the scheme (X-Forwarded-Proto) and the
    host the member asked for (X-Forwarded-Host, when the proxy rewrites Host; the Origin check
    compares with it) from the values the nearest `TRUSTED_PROXY_HOPS` proxies wrote (default
    1), never from what the client put to their left. Then `request.remote_addr` is the
    member's address (throttling, audit) and `request.scheme` is "https" behind a TLS proxy:
    HSTS, Secure `__Host-` cookies.
    """
    trusted = env("TRUSTED_PROXY")
    if not trusted:
        return None
    proxies, fix = _proxy_fix(trusted, env("TRUSTED_PROXY_HOPS", "1"))
    remote = (environ.get("REMOTE_ADDR") or "").strip()
    if "*" not in proxies and remote not in proxies:
        return None
    return fix


@lru_cache(maxsize=8)
def _proxy_fix(trusted, hops):
    """(the trusted addresses, the ProxyFix for them), parsed once per setting, not per request."""
    proxies = frozenset(p.strip() for p in trusted.split(",") if p.strip())
    hops = max(int(hops), 1)
    return proxies, partial(ProxyFix, x_for=hops, x_proto=hops, x_host=hops, x_port=0, x_prefix=0)


class PortalWsgiApp(WsgiApp):
    def __call__(self, environ, start_response):
        fix = trusted_proxy_fix(environ)
        if fix is not None:
            return fix(self.handle)(environ, start_response)
        return self.handle(environ, start_response)

    def handle(self, environ, start_response):
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            # eventlet decodes the chunks; without this werkzeug would read the body as empty.
            # It is read through the 64 KiB limit all the same (PortalHttp.handle_request).
            environ["wsgi.input_terminated"] = True
        request = Request(environ, shallow=True)
        started = time.perf_counter()
        correlation.set_current(_incoming_correlation(request))
        adapter = self.url_map.bind_to_environ(environ)
        route = "unmatched"
        try:
            if security.cross_site(request):
                log.info("cross-site %s %s refused", request.method, request.path)
                raise Forbidden(security.CROSS_SITE)
            if (request.content_length or 0) > MAX_BODY:
                raise PayloadTooLarge()
            provider, values = adapter.match()
            route = provider.url
            request.path_values = values  # type: ignore[attr-defined]  # nameko's handlers read it
            response = provider.handle_request(request)
        except NotFound:
            request.shallow = False
            response = error_response(request, PortalNotFound("La dirección solicitada no existe."))
        except MethodNotAllowed as exc:
            request.shallow = False
            response = error_response(
                request, PortalError("Método no permitido para esta dirección.")
            )
            response.status_code = 405
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods or ()))
            if wants_json(request):
                response.set_data(
                    json.dumps(
                        {
                            "error": {
                                "code": "method_not_allowed",
                                "message": "Método no permitido para esta dirección.",
                            }
                        },
                        ensure_ascii=False,
                    )
                )
        except (PayloadTooLarge, Forbidden) as exc:
            response = error_response(request, exc)
        except HTTPException as exc:
            request.shallow = False
            response = error_response(request, BadRequest(exc.description or None))
            response.status_code = exc.code or 400
        response = finish_response(request, response, started, route)
        correlation.set_current(None)
        return response(environ, start_response)


# What eventlet answers by itself, before any application code runs (an over-long request line
# or header, a malformed request), as API.md's error shape instead of a bare status line.
SERVER_ERRORS = {
    400: ("bad_request", "La solicitud no es válida."),
    413: ("payload_too_large", PayloadTooLarge.default_message),
    414: ("uri_too_long", "La dirección solicitada es demasiado larga."),
    431: ("headers_too_large", "Los encabezados de la solicitud son demasiado grandes."),
}
_REASONS = {400: "Bad Request", 413: "Payload Too Large", 414: "URI Too Long"}
_REASONS[431] = "Request Header Fields Too Large"


def raw_error_response(status):
    status = status if status in SERVER_ERRORS else 400
    code, message = SERVER_ERRORS[status]
    body = json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False).encode()
    head = [
        f"HTTP/1.1 {status} {_REASONS[status]}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Cache-Control: no-store",
        "Connection: close",
        *(f"{key}: {value}" for key, value in SECURITY_HEADERS.items()),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


class _JsonServerErrors:
    """The connection's write side: eventlet's own refusals (written as whole `HTTP/1.0 4xx`
    answers with an empty body) leave as JSON; everything else passes untouched."""

    def __init__(self, wfile):
        self._wfile = wfile

    def write(self, data):
        if isinstance(data, bytes) and data.startswith(b"HTTP/1.0 4"):
            status = int(data[9:12])
            if b"Header Line Too Long" in data[:64] or b"Headers Too Large" in data[:64]:
                status = 431
            return self._wfile.write(raw_error_response(status))
        return self._wfile.write(data)

    def __getattr__(self, name):
        return getattr(self._wfile, name)


class PortalProtocol(HttpOnlyProtocol):
    def setup(self):
        super().setup()
        self.wfile = _JsonServerErrors(self.wfile)  # type: ignore[has-type]  # eventlet's: untyped

    def send_error(self, code, message=None, explain=None):
        # http.server's refusals while parsing (bad request line, over 100 headers)
        log.info("request refused while parsing: %s %s", code, message)
        self.close_connection = True
        self.wfile.write(raw_error_response(431 if code == 431 else 414 if code == 414 else 400))


class PortalWebServer(WebServer):
    def get_wsgi_app(self):
        return PortalWsgiApp(self)

    def get_wsgi_server(self, sock, wsgi_app, protocol=PortalProtocol, debug=False):
        return super().get_wsgi_server(sock, wsgi_app, protocol=protocol, debug=debug)

    def process_request(self, sock, address):
        # eventlet writes the status line and headers, then the body: with Nagle's algorithm on,
        # the body of a kept-alive connection waits for the client's delayed ACK (~40 ms)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # not TCP (a unix socket in tests): nothing to tune
            pass
        return super().process_request(sock, address)

    def context_data_from_headers(self, request):
        return {correlation.CONTEXT_KEY: correlation.current()}


class PortalHttp(CachedSignature, HttpRequestHandler):
    server = PortalWebServer()

    def __init__(self, method, url, expected_exceptions=(), **kwargs):
        # the portal's own errors (a 422, a 404, a service that did not answer) are answers
        if not isinstance(expected_exceptions, tuple):
            expected_exceptions = (expected_exceptions,)
        super().__init__(
            method, url, expected_exceptions=(PortalError, *expected_exceptions), **kwargs
        )

    def handle_request(self, request):
        request.shallow = False
        # one byte more than allowed: a body without Content-Length (chunked) that reads past
        # MAX_BODY is too large; werkzeug would stop at the limit and silently truncate it
        request.max_content_length = MAX_BODY + 1
        try:
            if request.content_length is not None and request.content_length > MAX_BODY:
                raise PayloadTooLarge()
            try:
                body = request.get_data(cache=True)
            except WerkzeugTooLarge:
                raise PayloadTooLarge() from None
            if len(body) > MAX_BODY:
                raise PayloadTooLarge()
            context_data = self.server.context_data_from_headers(request)
            args, kwargs = self.get_entrypoint_parameters(request)
            self.check_signature(args, kwargs)
            event = Event()
            self.container.spawn_worker(
                self,
                args,
                kwargs,
                context_data=context_data,
                handle_result=partial(self.handle_result, event),
            )
            result = event.wait()
            return self.response_from_result(result)
        except Exception as exc:  # noqa: BLE001  every failure becomes docs/api.md's error shape
            return self.response_from_exception(exc, request)

    def response_from_exception(self, exc, request=None):
        if not isinstance(exc, PortalError):
            if isinstance(exc, OSError | KombuError | AMQPError):  # broker away
                exc = ServiceUnavailable()
            else:
                log.error("unexpected error: %r", exc, exc_info=exc)
        return error_response(request, exc)


http = PortalHttp.decorator


def read_json(request):
    """The body as a JSON object, or a 400 in Spanish."""
    raw = request.get_data(cache=True)
    if not raw:
        raise BadRequest("El cuerpo de la solicitud debe ser un objeto JSON.")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # e.g. "[[[[…" nested too deep
        raise BadRequest("El cuerpo de la solicitud no es JSON válido.") from None
    if not isinstance(data, dict):
        raise BadRequest("El cuerpo de la solicitud debe ser un objeto JSON.")
    if _depth(data) > MAX_JSON_DEPTH:
        raise BadRequest("El cuerpo de la solicitud tiene demasiados niveles anidados.")
    return data


MAX_JSON_DEPTH = 16  # API bodies are a few levels deep; deeper ones never reach a service


def _depth(value):
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_JSON_DEPTH:
            break
        children = item.values() if isinstance(item, dict) else item
        if isinstance(item, dict | list):
            stack.extend((child, level + 1) for child in children)
    return deepest
