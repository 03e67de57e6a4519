"""Pages of identity (docs/manual.md 4, 5 and 6): ingreso (password, then the second factor's
code unless the device is remembered: docs/pages.md), registro de socio, recuperación de
contraseña, cambiar contraseña and Salir. The session token lives in the HttpOnly `portal_session`
cookie, set only once the login is complete."""

from dataclasses import replace
from urllib.parse import urlencode

from werkzeug.wrappers import Response

from gateway import security
from gateway.api.auth import client_ip
from gateway.http import http, http_status
from gateway.parts import GatewayParts
from gateway.principal import SESSION_COOKIE
from gateway.security import cookie_name
from gateway.web import login_flash, results
from gateway.web import second_factor as factor
from gateway.web.render import csrf_valid, redirect, render
from gateway.web.results import RESULT_PARAM
from gateway.web.returning import safe_next
from services.common.errors import (
    ChallengeExpired,
    Conflict,
    InvalidCode,
    Locked,
    RateLimited,
    ServiceUnavailable,
    Unauthenticated,
    ValidationError,
)

CSRF_EXPIRED = "El formulario expiró. Vuelva a intentarlo."
LOGIN_MISSING = "Ingrese su usuario y su contraseña."
LOGIN_UNAVAILABLE = (
    "El ingreso no está disponible en este momento. Intente nuevamente en unos segundos."
)
PASSWORDS_DIFFER = "Las contraseñas no coinciden."
PASSWORD_CHANGED = "Su contraseña fue cambiada correctamente."  # noqa: S105  (a message)
LOG_IN_AGAIN = "Ingrese nuevamente con su contraseña nueva."  # noqa: S105  (a message)
FORCED_CHANGE = "Ingresó con un código temporal: antes de continuar, cambie su contraseña."  # noqa: S105
NOTICES = {
    "registrado": "Su usuario fue registrado. Ya puede ingresar al portal.",
    "salida": "Su sesión terminó. Gracias por usar el portal en línea.",
    "inactividad": (
        "Su sesión expiró por inactividad. Ingrese nuevamente para continuar donde estaba."
    ),
    "expirada": "Su sesión terminó. Ingrese nuevamente para continuar.",
    "codigo-vencido": (
        "El tiempo para ingresar el código terminó o el código ya no sirve. "
        "Ingrese nuevamente su usuario y contraseña para recibir otro."
    ),
    "bloqueado": (
        "Su usuario quedó bloqueado por seguridad: todas sus sesiones se cerraron. "
        "Para volver a ingresar, recupere su contraseña."
    ),
}
CODE_MISSING = "Ingrese el código."
CODE_WRONG = "El código no es correcto. Le quedan {n} intentos."
CODE_WRONG_LAST = "El código no es correcto. Le queda 1 intento."
CODE_RESENT = "Le enviamos un código nuevo por correo; el anterior ya no sirve."
METHOD_LABELS = {
    "totp": "Código de su aplicación de autenticación",
    "recovery_code": "Código de recuperación",
    "email_code": "Código enviado a su correo",
}
REGISTER_FIELDS = (
    "username",
    "member_number",
    "identification",
    "first_name",
    "last_name",
    "email",
)
RECOVERY_FIELDS = ("username", "email", "member_number")
RECOVERY_POINTER = "¿Olvidó su contraseña?"
LOGIN_FAILED = "/login?intento=fallido"  # where a failed login's answer is shown (a GET)


def _form(request, names, limit=200):
    return {name: (request.form.get(name) or "")[:limit] for name in names}


def _retry_headers(exc):
    seconds = (
        exc.extra.get("retry_after") if isinstance(exc, RateLimited | ServiceUnavailable) else None
    )
    return {"Retry-After": str(seconds)} if seconds else None


def _landing(must_change_password, back):
    """After login: the forced password change, else the page the member was on, else the
    consolidated position (docs/manual.md 1.1)."""
    if must_change_password:
        return "/opciones/cambiar-contrasena"
    return back or "/"


def _errors(exc):
    fields = exc.extra.get("fields") or {}
    return {key: list(value) for key, value in fields.items()}


class AuthPages(GatewayParts):
    # Ingreso ---------------------------------------------------------------------------------

    @http("GET", "/login")
    def auth_page_login(self, request):
        principal = self.optional_member(request)
        back = safe_next(request.args.get("next"))
        if principal is not None:
            return redirect(_landing(principal.must_change_password, back))
        failed = login_flash.unpack(request)
        if failed:
            response = self._login_failed_page(request, failed)
            login_flash.forget(response, request)  # shown once: Back or a reload, the plain form
            return response
        notice = NOTICES.get(request.args.get("aviso", ""))
        return render(
            request,
            "login.html",
            flashes=[("info", notice)] if notice else [],
            username="",
            next_path=back,
        )

    @http("POST", "/login")
    def auth_page_login_post(self, request):
        form = _form(request, ("username", "password"), limit=1024)
        if not csrf_valid(request):
            return self._login_again(request, form, CSRF_EXPIRED, 400)
        if not form["username"].strip() or not form["password"]:
            return self._login_again(request, form, LOGIN_MISSING, 422)
        try:
            result = self.auth_rpc.login(
                form["username"],
                form["password"],
                client_ip(request),
                device_token=factor.device_token(request),
                user_agent=factor.user_agent(request),
            )
        except (Unauthenticated, RateLimited, Locked) as exc:
            return self._login_again(
                request, form, exc.message, http_status(exc), _retry_headers(exc)
            )
        except ValidationError:
            return self._login_again(request, form, LOGIN_MISSING, 422)
        except ServiceUnavailable as exc:
            # logins queued past their bound (auth's hashing is full) or auth away: the form again
            # with the reason, never a timeout
            message = exc.message if exc.extra.get("retry_after") else LOGIN_UNAVAILABLE
            return self._login_again(request, form, message, 503, _retry_headers(exc))
        back = safe_next(request.form.get("next"))
        if result.get("second_factor_required"):
            # no session yet: the second page asks for the code of this challenge
            response = redirect("/login/codigo")
            factor.set_challenge(response, request, factor.pack_challenge(result, back))
            return response
        return self._logged_in(request, result, back)

    def _logged_in(self, request, result, back):
        """The session cookie with the token of a complete login (a new one: whatever session
        cookie the browser had is replaced), and the remembered device's new token."""
        response = redirect(_landing(result["must_change_password"], back))
        response.set_cookie(
            cookie_name(request, SESSION_COOKIE),
            result["token"],
            httponly=True,
            samesite="Lax",
            secure=request.scheme == "https",
            path="/",
        )
        factor.set_device(response, request, result.get("device_token"))
        factor.clear_challenge(response, request)
        return response

    # Ingreso, segundo paso: el código -----------------------------------------------------------

    @http("GET", "/login/codigo")
    def auth_page_login_code(self, request):
        challenge = factor.unpack_challenge(request)
        if challenge is None:
            return redirect("/login?aviso=codigo-vencido")
        notice = CODE_RESENT if request.args.get("aviso") == "reenviado" else None
        return self._code_page(request, challenge, flashes=[("info", notice)] if notice else [])

    @http("POST", "/login/codigo")
    def auth_page_login_code_post(self, request):
        challenge = factor.unpack_challenge(request)
        if challenge is None:
            return self._challenge_over(request)
        if not csrf_valid(request):
            return self._code_page(request, challenge, [("error", CSRF_EXPIRED)], status=400)
        code = "".join((request.form.get("code") or "")[:64].split())
        method = request.form.get("method") or challenge["methods"][0]
        remember = request.form.get("remember_device") in ("1", "on", "true")
        if not code:
            return self._code_page(request, challenge, [("error", CODE_MISSING)], 422, method)
        try:
            result = self.auth_rpc.login_second_factor(
                challenge_id=challenge["challenge_id"],
                method=method,
                code=code,
                remember_device=remember,
                client_ip=client_ip(request),
                user_agent=factor.user_agent(request),
            )
        except InvalidCode as exc:
            left = exc.extra.get("attempts_left")
            if left == 0:
                return self._challenge_over(request)
            message = CODE_WRONG_LAST if left == 1 else CODE_WRONG.format(n=left)
            if not isinstance(left, int):
                message = exc.message
            return self._code_page(request, challenge, [("error", message)], 422, method)
        except ChallengeExpired:
            return self._challenge_over(request)
        except (ValidationError, RateLimited) as exc:
            return self._code_page(
                request, challenge, [("error", exc.message)], http_status(exc), method
            )
        except Locked as exc:
            response = self._login_again(request, {"username": ""}, exc.message, 423)
            factor.clear_challenge(response, request)
            return response
        return self._logged_in(request, result, safe_next(challenge["next"]))

    @http("POST", "/login/codigo/reenviar")
    def auth_page_login_code_resend(self, request):
        challenge = factor.unpack_challenge(request)
        if challenge is None:
            return self._challenge_over(request)
        if not csrf_valid(request):
            return self._code_page(request, challenge, [("error", CSRF_EXPIRED)], status=400)
        try:
            self.auth_rpc.resend_second_factor_code(
                challenge_id=challenge["challenge_id"], client_ip=client_ip(request)
            )
        except ChallengeExpired:
            return self._challenge_over(request)
        except (RateLimited, ValidationError) as exc:
            return self._code_page(
                request,
                challenge,
                [("error", exc.message)],
                http_status(exc),
                headers=_retry_headers(exc),
            )
        return redirect("/login/codigo?aviso=reenviado")

    def _challenge_over(self, request):
        response = redirect("/login?aviso=codigo-vencido")
        factor.clear_challenge(response, request)
        return response

    def _code_page(self, request, challenge, flashes, status=200, method=None, headers=None):
        methods = challenge["methods"]
        return render(
            request,
            "login_codigo.html",
            status=status,
            headers=headers,
            flashes=flashes,
            methods=methods,
            method=method if method in methods else methods[0],
            method_labels=METHOD_LABELS,
            expires_at=challenge["expires_at"],
            reference=factor.reference(challenge["challenge_id"]),
        )

    def _login_again(self, request, form, message, status, headers=None):
        """A failed login, post/redirect/get: the answer (message, status, wait, user name — never
        the password) goes in this browser's signed flash cookie (gateway/web/login_flash.py) and
        GET /login shows it once, so Back or a reload never asks to resend the form."""
        failed = {
            "message": message,
            "status": status,
            "retry_after": (headers or {}).get("Retry-After"),
            "username": form["username"][:100],
            "next": safe_next(request.form.get("next")),
        }
        response = redirect(LOGIN_FAILED)
        login_flash.keep(response, request, failed)
        return response

    def _login_failed_page(self, request, failed):
        message = failed["message"]
        wait = failed.get("retry_after")
        return render(
            request,
            "login.html",
            # the failure's own status on the page that shows it (401, 429 with its wait, 503)
            status=failed["status"],
            headers={"Retry-After": wait} if wait else None,
            flashes=[("error", message)],
            # after repeated failures the answer points to recovery: a link right there
            recovery_hint=RECOVERY_POINTER in message,
            username=failed["username"],
            next_path=failed.get("next"),
        )

    # Aviso de inactividad: "Continuar" -------------------------------------------------------

    @http("POST", "/sesion/continuar")
    def auth_page_keep_alive(self, request):
        """The member chose to stay: one real check with the auth service, which writes the
        session's last use (a cached check would not reach it). 204 for the page's script; a
        plain form post (no script) goes back to the page."""
        if not csrf_valid(request):
            return render(request, "error.html", status=400, error={"message": CSRF_EXPIRED})
        token = request.cookies.get(cookie_name(request, SESSION_COOKIE))
        if token and len(token) <= 200:
            self.forget_session(token)
        self.require_member(request, allow_password_change=True)
        if request.headers.get("X-Requested-With") == "fetch":
            return Response(status=204, headers={"Cache-Control": "no-store"})
        return redirect(safe_next(request.form.get("next")) or "/")

    # Salir -----------------------------------------------------------------------------------

    @http("POST", "/logout")
    def auth_page_logout(self, request):
        if not csrf_valid(request):
            return render(request, "error.html", status=400, error={"message": CSRF_EXPIRED})
        token = request.cookies.get(cookie_name(request, SESSION_COOKIE))
        if token and len(token) <= 200:
            self.forget_session(token)
            try:
                self.auth_rpc.logout(token, client_ip(request))
            except Unauthenticated:
                pass  # already ended (timeout): nothing left to end
        response = redirect("/login?aviso=salida")
        response.delete_cookie(
            cookie_name(request, SESSION_COOKIE), path="/", secure=request.scheme == "https"
        )
        return response

    # Registro de socio -----------------------------------------------------------------------

    @http("GET", "/registro")
    def auth_page_register(self, request):
        return render(request, "registro.html", form={}, errors={})

    @http("POST", "/registro")
    def auth_page_register_post(self, request):
        form = _form(request, REGISTER_FIELDS)
        secrets = _form(request, ("password", "password2"), limit=1024)
        if not csrf_valid(request):
            return self._register_again(request, form, {}, CSRF_EXPIRED, 400)
        if secrets["password"] != secrets["password2"]:
            return self._register_again(request, form, {"password2": [PASSWORDS_DIFFER]}, None, 422)
        try:
            self.auth_rpc.register(
                username=form["username"],
                password=secrets["password"],
                member_number=form["member_number"],
                identification=form["identification"],
                first_name=form["first_name"],
                last_name=form["last_name"],
                email=form["email"],
                client_ip=client_ip(request),
            )
        except (ValidationError, Conflict) as exc:
            errors = _errors(exc)
            # a message that names a field is shown once, beside that field
            message = None if errors else exc.message
            return self._register_again(request, form, errors, message, http_status(exc))
        except RateLimited as exc:
            return self._register_again(
                request, form, {}, exc.message, http_status(exc), _retry_headers(exc)
            )
        return redirect("/login?aviso=registrado")

    def _register_again(self, request, form, errors, message, status, headers=None):
        return render(
            request,
            "registro.html",
            status=status,
            headers=headers,
            form=form,
            errors=errors,
            flashes=[("error", message)] if message else [],
        )

    # Recuperación de contraseña --------------------------------------------------------------

    @http("GET", "/recuperar")
    def auth_page_recovery(self, request):
        kept = results.take(security.csrf_binding(request), request.args.get(RESULT_PARAM, ""))
        if kept:
            form = {"username": kept["username"]}
            return render(request, "recuperar.html", form=form, errors={}, result=kept["result"])
        form = {"username": request.args.get("usuario", "")[:30]}
        return render(request, "recuperar.html", form=form, errors={}, result=None)

    @http("POST", "/recuperar")
    def auth_page_recovery_post(self, request):
        form = _form(request, RECOVERY_FIELDS)
        if not csrf_valid(request):
            return self._recovery_again(request, form, {}, CSRF_EXPIRED, 400)
        try:
            result = self.auth_rpc.request_recovery(
                username=form["username"],
                email=form["email"],
                member_number=form["member_number"],
                client_ip=client_ip(request),
            )
        except ValidationError as exc:
            return self._recovery_again(request, form, _errors(exc), None, http_status(exc))
        except RateLimited as exc:
            return self._recovery_again(
                request, form, {}, exc.message, http_status(exc), _retry_headers(exc)
            )
        # post/redirect/get: the answer is kept for this browser (it may hold the code) and
        # shown by the GET, so Back and reload never ask to resend the form
        owner = security.csrf_binding(request)
        if owner is None:
            return render(
                request,
                "recuperar.html",
                form={"username": form["username"]},
                errors={},
                result=result,
            )
        kept = results.keep(owner, {"username": form["username"], "result": result})
        return redirect("/recuperar?" + urlencode({RESULT_PARAM: kept}))

    def _recovery_again(self, request, form, errors, message, status, headers=None):
        return render(
            request,
            "recuperar.html",
            status=status,
            headers=headers,
            form=form,
            errors=errors,
            result=None,
            flashes=[("error", message)] if message else [],
        )

    # Opciones de usuario: cambiar contraseña -------------------------------------------------

    @http("GET", "/opciones/cambiar-contrasena")
    def auth_page_change_password(self, request):
        principal = self.require_member(request, allow_password_change=True)
        if request.args.get("aviso") == "cambiada" and not principal.must_change_password:
            return self._change_page(
                request, principal, {}, [("info", PASSWORD_CHANGED)], done=True
            )
        return self._change_page(request, principal, {}, [])

    @http("POST", "/opciones/cambiar-contrasena")
    def auth_page_change_password_post(self, request):
        principal = self.require_member(request, allow_password_change=True)
        form = _form(request, ("current_password", "new_password", "new_password2"), limit=1024)
        if not csrf_valid(request):
            return self._change_page(request, principal, {}, [("error", CSRF_EXPIRED)], 400)
        if form["new_password"] != form["new_password2"]:
            return self._change_page(
                request, principal, {"new_password2": [PASSWORDS_DIFFER]}, [], 422
            )
        # after a login with a temporary code the current password is not asked: the code was
        # just used (docs/identity.md, "Recovery")
        current = None if principal.must_change_password else form["current_password"]
        try:
            self.auth_rpc.change_password(
                principal.token,
                current,
                form["new_password"],
                client_ip(request),
            )
            self.forget_session(principal.token)
        except ValidationError as exc:
            return self._change_page(request, principal, _errors(exc), [], http_status(exc))
        if principal.must_change_password:
            # after a temporary code the change ended that session: the next login is a full
            # one, with the second factor (docs/identity.md, "Recovery"); no session to GET a
            # page with, so this answer is the page (sending it again changes nothing)
            flashes = [("info", f"{PASSWORD_CHANGED} {LOG_IN_AGAIN}")]
            principal = replace(principal, must_change_password=False)
            return self._change_page(request, principal, {}, flashes, done=True, log_in_again=True)
        # post/redirect/get: the page that says it was changed is a GET
        return redirect("/opciones/cambiar-contrasena?aviso=cambiada")

    def _change_page(
        self, request, principal, errors, flashes, status=200, done=False, log_in_again=False
    ):
        if principal.must_change_password:
            flashes = [("warning", FORCED_CHANGE), *flashes]
        return render(
            request,
            "cambiar_contrasena.html",
            status=status,
            principal=principal,
            errors=errors,
            flashes=flashes,
            done=done,
            log_in_again=log_in_again,
        )
