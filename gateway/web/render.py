"""jinja2 pages: Spanish (es-EC), money as `$ 1.234,50`, dates dd/mm/aaaa, CSRF on every form."""

import secrets
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from babel.numbers import format_decimal
from jinja2 import Environment, FileSystemLoader, select_autoescape
from werkzeug.wrappers import Response

from gateway import security
from gateway.security import CSRF_COOKIE, SESSION_COOKIE, cookie_name
from gateway.web.returning import login_location, page_to_return_to
from services.common.config import env, env_float

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
CSRF_FIELD = "csrf_token"
COOPERATIVE_NAME = env("COOPERATIVE_NAME", "Cooperativa de Ahorro y Crédito Andina")
# the auth service's idle timeout, for the page's warning before it (static/ux.js)
IDLE_SECONDS = int(env_float("AUTH_IDLE_MINUTES", 15) * 60)


def money(value):
    if value is None or value == "":
        return ""
    return "$ " + format_decimal(Decimal(str(value)), format="#,##0.00", locale="es_EC")


def number(value, places=2):
    if value is None or value == "":
        return ""
    pattern = "#,##0." + "0" * places if places else "#,##0"
    return format_decimal(Decimal(str(value)), format=pattern, locale="es_EC")


def fecha(value):
    if not value:
        return ""
    if isinstance(value, str):
        value = (
            datetime.fromisoformat(value.replace("Z", ""))
            if "T" in value
            else date.fromisoformat(value)
        )
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    return value.strftime("%d/%m/%Y")


def percent(value):
    return "" if value in (None, "") else f"{number(value)} %"


environment = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(["html", "xml"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(money=money, number=number, fecha=fecha, percent=percent)
environment.globals.update(
    cooperative_name=COOPERATIVE_NAME, csrf_field=CSRF_FIELD, idle_seconds=IDLE_SECONDS
)


def csrf_token(request):
    """The CSRF token of this browser's session (gateway/security.py); the browser's random
    cookie it falls back to before login is made when missing."""
    token = getattr(request, "_csrf_token", None)
    if token:
        return token
    binding = security.csrf_binding(request)
    if binding is None:
        request._csrf_seed = secrets.token_urlsafe(32)
        binding = "b:" + request._csrf_seed
    request._csrf_token = security.sign(binding)
    return request._csrf_token


def csrf_valid(request):
    return security.valid_token(request, request.form.get(CSRF_FIELD, ""))


def render(request, template, status=200, principal=None, headers=None, **context):
    token = csrf_token(request)
    html = environment.get_template(template).render(
        request=request, principal=principal, csrf_token=token, today=date.today(), **context
    )
    response = Response(html, status=status, headers=headers, mimetype="text/html")
    seed = getattr(request, "_csrf_seed", None)
    if seed:
        response.set_cookie(
            cookie_name(request, CSRF_COOKIE),
            seed,
            httponly=True,
            samesite="Lax",
            path="/",
            secure=request.scheme == "https",
        )
    return response


def redirect(location, status=303):
    return Response("", status=status, headers={"Location": location})


def render_error_page(request, status, error, headers=None):
    if status == 401:
        return login_redirect(request, error)
    if status == 403 and error.get("code") == "password_change_required":
        return redirect("/opciones/cambiar-contrasena")
    return render(request, "error.html", status=status, headers=headers, error=error)


def login_redirect(request, error):
    """A page without a live session: to /login, saying why when the session timed out, with the
    page to come back to; the dead session cookie goes (it would only say "expired" again)."""
    had_session = bool(request.cookies.get(cookie_name(request, SESSION_COOKIE)))
    back = page_to_return_to(
        request.method,
        request.path,
        request.query_string.decode("latin-1"),
        request.headers.get("Referer"),
        request.host,
    )
    response = redirect(login_location(back, (error or {}).get("reason"), had_session))
    if had_session:
        response.delete_cookie(
            cookie_name(request, SESSION_COOKIE), path="/", secure=request.scheme == "https"
        )
    return response
