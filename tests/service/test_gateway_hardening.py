"""The public face under hostile or unlucky requests: security headers on every answer (pages,
API successes and API errors), HSTS only over TLS (directly, or from a trusted proxy's
X-Forwarded-Proto), the body limit on pages and chunked bodies, and no stack trace, SQL or host
name in any answer when something unexpected breaks."""

import re
import socket

import pytest
import requests

from gateway.http import MAX_BODY
from tests.helpers import (
    DEVICE_COOKIE,
    api_login,
    bearer,
    device_tokens,
    start_auth_stack,
    start_gateway,
    web_login_post,
)

HSTS = "Strict-Transport-Security"


def assert_security_headers(answer):
    where = f"{answer.request.method} {answer.request.path_url} ({answer.status_code})"
    headers = answer.headers
    csp = headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp, where
    assert "frame-ancestors 'none'" in csp, where
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp, where
    assert headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("Referrer-Policy") == "same-origin", where
    assert headers.get("X-Request-ID"), where


@pytest.fixture
def gateway_only(service_config, container_factory):
    return start_gateway(container_factory, service_config)


@pytest.fixture
def auth_stack(service_config, container_factory, today):
    start_auth_stack(container_factory, service_config, today)
    return start_gateway(container_factory, service_config)


def csrf_of(http_session, path):
    page = http_session.get(path)
    assert page.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_every_public_page_and_api_error_has_the_security_headers(auth_stack, http_session):
    token = csrf_of(http_session, "/login")
    answers = [
        http_session.get("/login"),
        http_session.get("/registro"),
        http_session.get("/recuperar"),
        http_session.get("/no-existe"),
        web_login_post(http_session, data={"csrf_token": token, "username": "maria"}),
        web_login_post(http_session, data={"username": "maria", "password": "x"}),  # no CSRF
        http_session.get("/api/v1/openapi.json"),
        http_session.get("/api/v1/me"),  # 401
        http_session.post("/api/v1/auth/login", json={"username": "maria"}),  # 422
        http_session.post("/api/v1/auth/login", data=b"{not json"),  # 400
        http_session.post("/api/v1/auth/login", json={"username": "maria", "password": "mala-1"}),
        http_session.put("/api/v1/me"),  # 405
        http_session.get("/api/v1/nada"),  # 404
        http_session.post("/api/v1/auth/login", data=b"x" * (MAX_BODY + 1)),  # 413
        http_session.get("/health"),
    ]
    statuses = sorted({a.status_code for a in answers})
    assert statuses == [200, 400, 401, 404, 405, 413, 422, 503], statuses
    for answer in answers:
        assert_security_headers(answer)
        assert HSTS not in answer.headers  # plain http: no HSTS


def test_signed_in_pages_and_api_answers_have_the_security_headers(auth_stack, http_session):
    maria = bearer(api_login(http_session, "maria", "Socia-2026!"))
    me = http_session.get("/api/v1/me", headers=maria)
    assert me.status_code == 200
    assert me.headers["Cache-Control"] == "no-store"
    assert_security_headers(me)
    token = csrf_of(http_session, "/login")
    signed_in = web_login_post(
        http_session,
        data={"csrf_token": token, "username": "maria", "password": "Socia-2026!"},
        allow_redirects=False,
    )
    assert signed_in.status_code in (302, 303)
    assert_security_headers(signed_in)
    page = http_session.get("/opciones/cambiar-contrasena")
    assert page.status_code == 200 and "María" in page.text
    assert_security_headers(page)


def test_405_names_the_allowed_methods(gateway_only, http_session):
    answer = http_session.delete("/api/v1/auth/login")
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "POST"
    assert answer.json()["error"]["code"] == "method_not_allowed"


def test_hsts_only_when_the_request_came_over_tls(
    auth_stack, http_session, monkeypatch, service_config
):
    forwarded = {"X-Forwarded-Proto": "https"}
    # anyone can send the header: without a trusted proxy it means nothing
    monkeypatch.delenv("TRUSTED_PROXY", raising=False)
    assert HSTS not in http_session.get("/login", headers=forwarded).headers
    # a trusted proxy that is not the peer of this connection: still nothing
    monkeypatch.setenv("TRUSTED_PROXY", "10.20.30.40")
    assert HSTS not in http_session.get("/login", headers=forwarded).headers
    # the TLS-terminating proxy in front of the gateway says https
    monkeypatch.setenv("TRUSTED_PROXY", "127.0.0.1")
    for path in ("/login", "/api/v1/me", "/api/v1/openapi.json", "/no-existe"):
        answer = http_session.get(path, headers=forwarded)
        assert answer.headers[HSTS] == "max-age=31536000; includeSubDomains", path
        assert_security_headers(answer)
    # the nearest proxy's value is the one that counts (the client wrote the first one)
    assert HSTS not in http_session.get("/login", headers={"X-Forwarded-Proto": "https, http"})
    # over TLS both cookies carry the __Host- prefix (Secure, Path=/, no Domain): no sibling
    # site can plant or overwrite them; a requests session would not send Secure cookies over
    # this plain test connection, so they travel by hand here
    login_page = http_session.get("/login", headers=forwarded)
    csrf_cookie = set_cookie(login_page, "__Host-portal_csrf")
    assert_host_cookie(csrf_cookie)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login_page.text).group(1)
    signed_in = requests.post(
        login_page.url,
        data={"csrf_token": token, "username": "maria", "password": "Socia-2026!"},
        # from maria's remembered device (its cookie is __Host- prefixed over TLS too)
        headers={
            **forwarded,
            "Cookie": csrf_cookie.split(";")[0]
            + f"; __Host-{DEVICE_COOKIE}={device_tokens()['maria']}",
        },
        allow_redirects=False,
        timeout=15,
    )
    assert signed_in.status_code in (302, 303), signed_in.text[:300]
    session_cookie = set_cookie(signed_in, "__Host-portal_session")
    assert_host_cookie(session_cookie)
    assert "HttpOnly" in session_cookie


def set_cookie(answer, name):
    return next(
        v
        for k, v in answer.raw.headers.items()
        if k.lower() == "set-cookie" and v.startswith(name + "=")
    )


def assert_host_cookie(cookie):
    attributes = [part.strip().lower() for part in cookie.split(";")[1:]]
    assert "secure" in attributes and "path=/" in attributes, cookie
    assert not any(a.startswith("domain=") for a in attributes), cookie


def test_body_limit_holds_for_pages_and_chunked_bodies(gateway_only, http_session):
    page = web_login_post(http_session, data={"username": "x" * (MAX_BODY + 10), "password": "y"})
    assert page.status_code == 413
    assert "text/html" in page.headers["Content-Type"]
    assert_security_headers(page)

    def chunks():  # no Content-Length: the limit must hold while reading
        for _ in range(MAX_BODY // 4096 + 2):
            yield b"a" * 4096

    chunked = http_session.post(
        "/api/v1/auth/login", data=chunks(), headers={"Content-Type": "application/json"}
    )
    assert chunked.status_code == 413
    assert chunked.json()["error"]["code"] == "payload_too_large"
    assert_security_headers(chunked)

    # a small chunked body is read whole (not taken for an empty one)
    small = http_session.post(
        "/api/v1/auth/login",
        data=iter([b'{"username": ', b'"maria"}']),
        headers={"Content-Type": "application/json"},
    )
    assert small.status_code == 422
    assert list(small.json()["error"]["fields"]) == ["password"]
    # exactly 64 KiB is within the limit (read, then refused as not JSON)
    not_json = "El cuerpo de la solicitud no es JSON válido."
    at_limit = http_session.post("/api/v1/auth/login", data=b"[" * MAX_BODY)
    assert (at_limit.status_code, at_limit.json()["error"]["message"]) == (400, not_json)
    chunked = http_session.post("/api/v1/auth/login", data=iter([b"[" * MAX_BODY]))
    assert (chunked.status_code, chunked.json()["error"]["message"]) == (400, not_json)


def test_deeply_nested_json_is_a_400_not_a_crash(gateway_only, http_session):
    not_json = "El cuerpo de la solicitud no es JSON válido."
    too_deep = "El cuerpo de la solicitud tiene demasiados niveles anidados."
    for body, message in (
        (b"[" * 5000, not_json),  # the parser's recursion limit
        (b'{"username": ' + b"[" * 900 + b"]" * 900 + b"}", too_deep),
        (
            b'{"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": {"k": {"l": {"m": '
            b'{"n": {"o": {"p": {"q": 1}}}}}}}}}}}}}}}}}',
            too_deep,
        ),
    ):
        answer = http_session.post("/api/v1/auth/login", data=body)
        assert answer.status_code == 400
        assert answer.json()["error"] == {"code": "bad_request", "message": message}


def leaks(text, extra=()):
    """What must never reach a member: stack traces, SQL, paths, hosts, driver names."""
    markers = [
        "Traceback",
        'File "',
        ".py",
        "SELECT",
        "INSERT",
        "sqlite",
        "psycopg",
        "sqlalchemy",
        "OperationalError",
        "RemoteError",
        "no such table",
        "127.0.0.1",
        "port 5432",
        socket.gethostname(),
        *extra,
    ]
    return [m for m in markers if m and m.lower() in text.lower()]


@pytest.mark.parametrize("broken", ["tables_missing", "database_missing"])
def test_an_unexpected_failure_answers_without_internals(
    broken, service_config, container_factory, make_db, http_session
):
    """The auth service's database is broken (never migrated, or a PostgreSQL database that does
    not exist): its SQLAlchemy error, with SQL or the server's address in it, travels back over
    RPC; the member reads only the generic message, JSON for the API, a page for the web."""
    from services.auth.service import AuthService

    if broken == "tables_missing":
        url = make_db("auth", backend="sqlite", migrate=False)
        hidden = ("users",)
    else:
        url = "postgresql+psycopg2://postgres@127.0.0.1:5432/portal_no_such_database"
        hidden = ("portal_no_such_database", "postgres@")
    cfg = {**service_config, "AUTH_DATABASE_URL": url}
    container_factory(AuthService, cfg).start()
    start_gateway(container_factory, service_config)

    api = http_session.post("/api/v1/auth/login", json={"username": "maria", "password": "x" * 9})
    assert api.status_code == 500
    assert api.json() == {
        "error": {
            "code": "internal_error",
            "message": "Ocurrió un error inesperado. Intente nuevamente.",
        }
    }
    assert_security_headers(api)

    token = csrf_of(http_session, "/login")
    page = web_login_post(
        http_session, data={"csrf_token": token, "username": "maria", "password": "x" * 9}
    )
    assert page.status_code == 500
    assert "Ocurrió un error inesperado" in page.text
    assert_security_headers(page)
    for answer in (api, page):
        assert leaks(answer.text, hidden) == [], answer.text[:2000]
        headers = {k: v for k, v in answer.headers.items() if k != "X-Request-ID"}
        assert leaks(" ".join(f"{k}: {v}" for k, v in headers.items()), hidden) == []


# --- cross-site requests ------------------------------------------------------------------


def page_login(username, password, base):
    """A browser of its own, signed in through /login."""
    browser = requests.Session()
    browser.base_url = base  # the user's remembered device (tests/helpers.py web_login_post)
    page = browser.get(base + "/login", timeout=15)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = web_login_post(
        browser,
        data={"csrf_token": token, "username": username, "password": password},
        path=base + "/login",
        allow_redirects=False,
        timeout=15,
    )
    assert answer.status_code == 303, answer.text[:300]
    return browser


def form_token(browser, url):
    page = browser.get(url, timeout=15)
    assert page.status_code == 200, page.status_code
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_a_csrf_token_only_works_for_the_session_it_was_made_for(auth_stack, gateway_url):
    attacker = page_login("jose", "Socio-2026!", gateway_url)
    victim = page_login("maria", "Socia-2026!", gateway_url)
    stolen = form_token(attacker, gateway_url + "/")
    # the attacker's token, even with the attacker's CSRF cookie planted in the victim's
    # browser (a sibling subdomain can do that to a cookie without the __Host- prefix)
    planted = 0
    for cookie in victim.cookies:
        if cookie.name == "portal_csrf":
            cookie.value, planted = attacker.cookies.get("portal_csrf"), planted + 1
    assert planted == 1
    forged = victim.post(
        gateway_url + "/logout", data={"csrf_token": stolen}, allow_redirects=False, timeout=15
    )
    assert forged.status_code == 400
    assert "El formulario expiró" in forged.text
    assert victim.get(gateway_url + "/", allow_redirects=False, timeout=15).status_code == 200
    # the victim's own token still works
    own = form_token(victim, gateway_url + "/")
    done = victim.post(
        gateway_url + "/logout", data={"csrf_token": own}, allow_redirects=False, timeout=15
    )
    assert done.status_code == 303
    assert done.headers["Location"] == "/login?aviso=salida"


def test_a_cross_site_origin_is_refused_on_every_state_changing_request(
    auth_stack, http_session, gateway_url
):
    token = csrf_of(http_session, "/login")
    form = {"csrf_token": token, "username": "maria", "password": "Socia-2026!"}
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page"},
    ):
        page = web_login_post(http_session, data=form, headers=headers, allow_redirects=False)
        assert page.status_code == 403, headers
        assert "text/html" in page.headers["Content-Type"]
        assert "no se originó en el portal" in page.text
        api = http_session.post(
            "/api/v1/auth/login",
            json={"username": "maria", "password": "Socia-2026!"},
            headers=headers,
        )
        assert api.status_code == 403
        assert api.json()["error"] == {
            "code": "forbidden",
            "message": "Solicitud rechazada: no se originó en el portal.",
        }
    # the portal's own origin, and a client that sends neither header, go through
    same = web_login_post(
        http_session, data=form, headers={"Origin": gateway_url}, allow_redirects=False
    )
    assert same.status_code == 303
    api = http_session.post(
        "/api/v1/auth/login", json={"username": "maria", "password": "Socia-2026!"}
    )
    assert api.status_code == 200
    # reading is never refused
    assert http_session.get("/login", headers={"Origin": "https://evil.example"}).status_code == 200


@pytest.fixture
def metrics_gateway(service_config, container_factory, monkeypatch):
    from tests.conftest import _free_port

    address = f"127.0.0.1:{_free_port()}"
    monkeypatch.setenv("METRICS_ADDRESS", address)
    monkeypatch.setenv("METRICS_TOKEN", "ops-" + "s" * 40)
    start_gateway(container_factory, service_config)
    return address


def test_metrics_only_on_the_operations_address_or_with_the_token(metrics_gateway, http_session):
    http_session.get("/health")
    public = http_session.get("/metrics")
    assert public.status_code == 404
    assert public.json()["error"]["code"] == "not_found"
    wrong = http_session.get("/metrics", headers={"Authorization": "Bearer adivinanza"})
    assert wrong.status_code == 404
    allowed = http_session.get("/metrics", headers={"Authorization": "Bearer ops-" + "s" * 40})
    assert allowed.status_code == 200
    assert "portal_http_requests_total" in allowed.text
    ops = requests.get(f"http://{metrics_gateway}/metrics", timeout=15)
    assert ops.status_code == 200
    assert 'route="/health"' in ops.text
