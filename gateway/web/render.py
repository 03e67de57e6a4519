"""jinja2 pages: Spanish (es-EC), money as `$ 1.234,50`, dates dd/mm/aaaa, CSRF on every form."""

import secrets
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from werkzeug.wrappers import Response

from gateway import security
from gateway.security import CSRF_COOKIE, SESSION_COOKIE, cookie_name
from gateway.web.returning import login_location, page_to_return_to
from services.common.clock import CLOCK
from services.common.config import env, env_float
from services.common.ecuador_locale import fecha, fecha_dia, money, number, percent

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
CSRF_FIELD = "csrf_token"
COOPERATIVE_NAME = env("COOPERATIVE_NAME", "Cooperativa de Ahorro y Crédito Andina")
# what a bank's page says at its foot (docs/member-experience.md "A bank's page"): how to reach
# the cooperative, and the supervisor's and the deposit insurer's notice the law asks for
COOPERATIVE_CONTACT = env(
    "COOPERATIVE_CONTACT",
    "Atención al socio: (07) 283 0000 · atencion@cooperativa.example · "
    "lunes a viernes de 08:30 a 17:00",
)
DEPOSIT_INSURANCE_NOTICE = env(
    "DEPOSIT_INSURANCE_NOTICE",
    "Entidad controlada por la Superintendencia de Economía Popular y Solidaria (SEPS). "
    "Sus depósitos están protegidos por el Seguro de Depósitos de la COSEDE, hasta el monto "
    "que la ley fija para el segmento de la cooperativa.",
)
# the auth service's idle timeout, for the page's warning before it (static/ux.js)
IDLE_SECONDS = int(env_float("AUTH_IDLE_MINUTES", 15) * 60)


environment = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(["html", "xml"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def hora(value):
    """Only the time (`hh:mm`, Ecuador) of an instant; '' for a date or nothing."""
    text = fecha(value)
    return text[11:] if len(text) > 10 else ""


environment.filters.update(
    money=money, number=number, fecha=fecha, fecha_dia=fecha_dia, percent=percent, hora=hora
)
environment.globals.update(
    cooperative_name=COOPERATIVE_NAME,
    cooperative_contact=COOPERATIVE_CONTACT,
    deposit_insurance_notice=DEPOSIT_INSURANCE_NOTICE,
    csrf_field=CSRF_FIELD,
    idle_seconds=IDLE_SECONDS,
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
        request=request, principal=principal, csrf_token=token, today=CLOCK.today(), **context
    )
    response = Response(html, status=status, headers=headers, mimetype="text/html")
    # no page is kept by the browser: after "Salir", Back asks the server again (→ /login),
    # so a shared computer never shows the previous member's balances
    response.headers.setdefault("Cache-Control", "no-store")
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
    return Response("", status=status, headers={"Location": location, "Cache-Control": "no-store"})


def render_error_page(request, status, error, headers=None):
    if status == 401:
        return login_redirect(request, error)
    if status == 403 and error.get("code") == "password_change_required":
        return redirect("/opciones/cambiar-contrasena")
    # a member who mistyped an address keeps the menu (the links hold no member data, so the
    # session cookie is enough to offer them; each page checks the session itself)
    menu = bool(request.cookies.get(SESSION_COOKIE))
    return render(
        request, "error.html", status=status, headers=headers, error=error, menu_for_session=menu
    )


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
