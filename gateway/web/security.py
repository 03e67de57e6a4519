"""The Seguridad page (docs/pages.md, "Seguridad") and the "No fui yo" page of alert e-mails.

Seguridad: the second factor (register an authenticator app, recovery codes, remove the app), the
remembered devices, the open sessions and the last logins. Every change is a POST with the form's
CSRF token and goes to auth with the session's token: nothing here names a member.

"No fui yo": the link of an alert e-mail opens a page with one button; only its POST (CSRF) acts,
so a mail scanner that follows links changes nothing.
"""

from gateway.api.auth import client_ip
from gateway.http import http, http_status
from gateway.parts import GatewayParts
from gateway.security import SESSION_COOKIE, cookie_name
from gateway.web import second_factor as factor
from gateway.web.render import csrf_valid, redirect, render
from services.common.errors import (
    ChallengeExpired,
    InvalidCode,
    NotFound,
    RateLimited,
    Unauthenticated,
    ValidationError,
)

CSRF_EXPIRED = "El formulario expiró. Vuelva a intentarlo."
DONE = {
    "dispositivo": (
        "El dispositivo fue quitado: la próxima vez que ingrese desde él, se le pedirá el código."
    ),
    "sesion": "La sesión fue cerrada.",
    "aplicacion-quitada": (
        "La aplicación de autenticación fue quitada: desde ahora los códigos le llegan por "
        "correo, y sus dispositivos recordados fueron olvidados."
    ),
}
# auth's codes of a login's outcome (TFA contract) in the member's words
OUTCOMES = {
    "success": "Exitoso",
    "bad_password": "Contraseña equivocada",
    "bad_code": "Código equivocado",
    "second_factor_locked": "Bloqueado por códigos equivocados",
}
CONFIRMATION_METHODS = {
    "email_code": "el código que le enviamos por correo",
    "totp": "un código de su aplicación de autenticación actual",
}


def grouped(secret):
    """'JBSWY3DPEHPK3PXP' → 'JBSW Y3DP EHPK 3PXP' (easier to type into an app)."""
    clean = "".join((secret or "").split())
    return " ".join(clean[i : i + 4] for i in range(0, len(clean), 4))


def _errors(exc):
    fields = exc.extra.get("fields") or {}
    return {key: list(value) for key, value in fields.items()}


def _form(request, names, limit=1024):
    return {name: (request.form.get(name) or "")[:limit].strip() for name in names}


class SecurityPages(GatewayParts):
    @http("GET", "/seguridad")
    def security_page(self, request):
        principal = self.require_member(request)
        notice = DONE.get(request.args.get("aviso", ""))
        return self._security_page(request, principal, [("info", notice)] if notice else [])

    def _security_page(self, request, principal, flashes, status=200, errors=None, form=None):
        overview = self.auth_rpc.security(token=principal.token)
        left = overview.get("recovery_codes_left")
        if overview.get("totp_enrolled") and isinstance(left, int) and left <= 2:
            flashes = [
                *flashes,
                (
                    "warning",
                    f"Le quedan {left} códigos de recuperación: genere códigos nuevos.",
                ),
            ]
        for login in overview.get("recent_logins") or []:
            login["outcome_label"] = OUTCOMES.get(login.get("outcome"), login.get("outcome") or "")
        return render(
            request,
            "seguridad.html",
            status=status,
            principal=principal,
            flashes=flashes,
            security=overview,
            errors=errors or {},
            form=form or {},
        )

    # The authenticator app ---------------------------------------------------------------------

    @http("POST", "/seguridad/aplicacion")
    def security_totp_start(self, request):
        principal = self.require_member(request)
        if not csrf_valid(request):
            return self._security_page(request, principal, [("error", CSRF_EXPIRED)], 400)
        form = _form(request, ("password",))
        try:
            enrollment = self.auth_rpc.start_totp_enrollment(
                token=principal.token, password=form["password"], client_ip=client_ip(request)
            )
        except (ValidationError, Unauthenticated, RateLimited) as exc:
            return self._security_page(
                request,
                principal,
                [("error", exc.message)],
                http_status(exc) if not isinstance(exc, Unauthenticated) else 422,
                errors={"start": [exc.message]},
            )
        return self._enrollment_page(request, principal, enrollment)

    def _enrollment_page(self, request, principal, enrollment, flashes=(), status=200):
        confirmation = enrollment.get("confirmation") or {}
        return render(
            request,
            "seguridad_aplicacion.html",
            status=status,
            principal=principal,
            flashes=list(flashes),
            enrollment=enrollment,
            secret_grouped=grouped(enrollment.get("secret")),
            confirmation_text=CONFIRMATION_METHODS.get(
                confirmation.get("method") or "email_code", CONFIRMATION_METHODS["email_code"]
            ),
        )

    @http("POST", "/seguridad/aplicacion/confirmar")
    def security_totp_confirm(self, request):
        principal = self.require_member(request)
        form = _form(request, ("enrollment_id", "totp_code", "code", "method"), limit=100)
        enrollment = {
            "enrollment_id": form["enrollment_id"],
            "confirmation": {"method": form["method"]},
        }
        if not csrf_valid(request):
            return self._enrollment_page(
                request, principal, enrollment, [("error", CSRF_EXPIRED)], 400
            )
        try:
            answer = self.auth_rpc.confirm_totp_enrollment(
                token=principal.token,
                enrollment_id=form["enrollment_id"],
                totp_code="".join(form["totp_code"].split()),
                code="".join(form["code"].split()),
                client_ip=client_ip(request),
            )
        except (InvalidCode, ValidationError, RateLimited) as exc:
            return self._enrollment_page(
                request, principal, enrollment, [("error", exc.message)], http_status(exc)
            )
        except (ChallengeExpired, NotFound):
            return self._security_page(
                request,
                principal,
                [("error", "El registro de la aplicación venció. Empiece nuevamente.")],
                410,
            )
        return self._codes_page(request, principal, answer, enrolled=True)

    def _codes_page(self, request, principal, answer, enrolled=False):
        return render(
            request,
            "seguridad_codigos.html",
            principal=principal,
            codes=answer.get("recovery_codes") or [],
            enrolled=enrolled,
        )

    @http("POST", "/seguridad/codigos")
    def security_recovery_codes(self, request):
        principal = self.require_member(request)
        if not csrf_valid(request):
            return self._security_page(request, principal, [("error", CSRF_EXPIRED)], 400)
        form = _form(request, ("password", "code"))
        try:
            answer = self.auth_rpc.new_recovery_codes(
                token=principal.token,
                password=form["password"],
                code="".join(form["code"].split()),
                client_ip=client_ip(request),
            )
        except (InvalidCode, ValidationError, Unauthenticated, RateLimited) as exc:
            return self._security_page(
                request, principal, [("error", exc.message)], 422, errors={"codes": [exc.message]}
            )
        return self._codes_page(request, principal, answer)

    @http("POST", "/seguridad/aplicacion/quitar")
    def security_totp_remove(self, request):
        principal = self.require_member(request)
        if not csrf_valid(request):
            return self._security_page(request, principal, [("error", CSRF_EXPIRED)], 400)
        form = _form(request, ("password", "code"))
        try:
            self.auth_rpc.remove_totp(
                token=principal.token,
                password=form["password"],
                code="".join(form["code"].split()),
                client_ip=client_ip(request),
            )
        except (InvalidCode, ValidationError, Unauthenticated, RateLimited) as exc:
            return self._security_page(
                request, principal, [("error", exc.message)], 422, errors={"remove": [exc.message]}
            )
        return redirect("/seguridad?aviso=aplicacion-quitada")

    # Devices and sessions ----------------------------------------------------------------------

    @http("POST", "/seguridad/dispositivos/<device_id>/quitar")
    def security_device_remove(self, request, device_id):
        principal = self.require_member(request)
        if not csrf_valid(request):
            return self._security_page(request, principal, [("error", CSRF_EXPIRED)], 400)
        self.auth_rpc.forget_device(
            token=principal.token, device_id=device_id[:64], client_ip=client_ip(request)
        )
        return redirect("/seguridad?aviso=dispositivo")

    @http("POST", "/seguridad/sesiones/<session_id>/cerrar")
    def security_session_end(self, request, session_id):
        principal = self.require_member(request)
        if not csrf_valid(request):
            return self._security_page(request, principal, [("error", CSRF_EXPIRED)], 400)
        self.auth_rpc.end_session(
            token=principal.token, session_id=session_id[:64], client_ip=client_ip(request)
        )
        return redirect("/seguridad?aviso=sesion")

    # "No fui yo" -------------------------------------------------------------------------------

    @http("GET", "/no-fui-yo/<token>")
    def not_me_page(self, request, token):
        return render(request, "no_fui_yo.html", token=token[:200], done=False)

    @http("POST", "/no-fui-yo/<token>")
    def not_me_post(self, request, token):
        if not csrf_valid(request):
            return render(
                request,
                "no_fui_yo.html",
                status=400,
                token=token[:200],
                done=False,
                flashes=[("error", CSRF_EXPIRED)],
            )
        try:
            self.auth_rpc.report_not_me(token=token[:200], client_ip=client_ip(request))
        except (ChallengeExpired, NotFound, ValidationError):
            return render(request, "no_fui_yo.html", status=410, token=None, done=False)
        response = render(request, "no_fui_yo.html", token=None, done=True)
        # this browser's session (if any) is over too; the device is forgotten by auth
        response.delete_cookie(
            cookie_name(request, SESSION_COOKIE), path="/", secure=request.scheme == "https"
        )
        response.delete_cookie(
            cookie_name(request, factor.DEVICE_COOKIE), path="/", secure=request.scheme == "https"
        )
        return response
