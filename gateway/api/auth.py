"""JSON API of identity (docs/api.md "Auth", "Second factor"): register, login (and its second
factor), logout, password, recovery, me, and the member's security (app, devices, sessions)."""

from werkzeug.wrappers import Response

from gateway.http import http, json_response, read_json
from gateway.openapi import documented
from gateway.parts import GatewayParts
from gateway.principal import token_from
from services.auth.contracts import (
    ChangePasswordSchema,
    LoginResultSchema,
    LoginSchema,
    MeSchema,
    PasswordAndCodeSchema,
    RecoveryCodesSchema,
    RecoveryResultSchema,
    RecoverySchema,
    RegisterResultSchema,
    RegisterSchema,
    ResendCodeSchema,
    SecondFactorSchema,
    SecuritySchema,
    TotpConfirmSchema,
    TotpEnrollmentSchema,
    TotpStartSchema,
)
from services.common.errors import NotFound, Unauthenticated
from services.common.schemas import load_or_raise

TAGS = ("Autenticación",)
SECURITY_TAGS = ("Seguridad",)
DEVICE_HEADER = "X-Device-Token"


def _path_param(name):
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _plausible_id(value):
    """Ids are short URL-safe strings; anything else is a resource that does not exist."""
    if not value or len(value) > 64:
        raise NotFound()
    return value


def user_agent(request):
    return (request.headers.get("User-Agent") or "")[:512] or None


def device_token(request):
    value = (request.headers.get(DEVICE_HEADER) or "").strip()
    return value if 0 < len(value) <= 200 else None


def client_ip(request):
    """The member's address, for lockout throttling and the audit trail: the peer address, or,
    behind TRUSTED_PROXY, the one werkzeug's ProxyFix took from the proxy's X-Forwarded-For
    (gateway/http.py); entries a client wrote to its left are never read."""
    return (request.remote_addr or "").strip()[:64] or None


class AuthApi(GatewayParts):
    @documented(
        "/api/v1/auth/register",
        "POST",
        "Registro de socio",
        request=RegisterSchema,
        response=RegisterResultSchema,
        status=201,
        errors=("409", "429", "503"),
        auth=False,
        tags=TAGS,
    )
    @http("POST", "/api/v1/auth/register")
    def auth_api_register(self, request):
        """Crea el usuario del portal de un socio cuyos datos coinciden con su ficha (un nombre y un
        apellido bastan). Si no coinciden, 422 sin decir qué dato falló."""
        data = load_or_raise(RegisterSchema(), read_json(request))
        result = self.auth_rpc.register(**data, client_ip=client_ip(request))
        return json_response(result, 201)

    @documented(
        "/api/v1/auth/login",
        "POST",
        "Ingreso",
        request=LoginSchema,
        response=LoginResultSchema,
        errors=("401", "423", "429", "503"),
        auth=False,
        tags=TAGS,
        params=(
            {
                "name": DEVICE_HEADER,
                "in": "header",
                "required": False,
                "description": "token del dispositivo recordado (de un ingreso anterior)",
                "schema": {"type": "string"},
            },
        ),
    )
    @http("POST", "/api/v1/auth/login")
    def auth_api_login(self, request):
        """Con la contraseña desde un dispositivo recordado (cabecera `X-Device-Token`), abre la
        sesión y entrega el `device_token` que reemplaza al enviado. Desde cualquier otro
        dispositivo responde `second_factor_required: true`, `challenge_id`, `methods` y
        `challenge_expires_at`, sin token: continúe en `/auth/login/second-factor` (con
        `email_code` el código ya fue enviado al correo registrado). Con el código temporal de
        recuperación abre una sesión que solo puede cambiar la contraseña. Tras 5 intentos
        fallidos de un nombre desde una dirección, el 401 (igual para todo nombre) advierte que el
        acceso puede quedar bloqueado 15 minutos y remite a recuperar la contraseña; una dirección
        con demasiados intentos fallidos recibe 429 antes de revisar la contraseña; un segundo
        factor bloqueado, 423. Si los ingresos en espera superan lo que el servicio atiende a
        tiempo, 503 `service_unavailable` con `Retry-After`."""
        data = load_or_raise(LoginSchema(), read_json(request))
        result = self.auth_rpc.login(
            data["username"],
            data["password"],
            client_ip(request),
            device_token(request),
            user_agent(request),
        )
        return json_response(result)

    @documented(
        "/api/v1/auth/login/second-factor",
        "POST",
        "Ingreso: segundo factor",
        request=SecondFactorSchema,
        response=LoginResultSchema,
        errors=("410", "423", "429", "503"),
        auth=False,
        tags=TAGS,
    )
    @http("POST", "/api/v1/auth/login/second-factor")
    def auth_api_second_factor(self, request):
        """Completa el ingreso con el código del desafío: `email_code` (6 dígitos del correo),
        `totp` (la aplicación) o `recovery_code`, solo entre los `methods` del desafío. Un código
        equivocado responde 422 `invalid_code` con `attempts_left`; tras 5 el desafío termina
        (410 `challenge_expired`, igual que uno vencido o ya usado); 10 en 24 horas bloquean el
        segundo factor (423). Con `remember_device` entrega `device_token` (30 días)."""
        data = load_or_raise(SecondFactorSchema(), read_json(request))
        result = self.auth_rpc.login_second_factor(
            data["challenge_id"],
            data["method"],
            data["code"],
            data["remember_device"],
            client_ip(request),
            user_agent(request),
        )
        return json_response(result)

    @documented(
        "/api/v1/auth/login/second-factor/resend",
        "POST",
        "Ingreso: reenviar el código",
        request=ResendCodeSchema,
        status=204,
        errors=("410", "429", "503"),
        auth=False,
        tags=TAGS,
    )
    @http("POST", "/api/v1/auth/login/second-factor/resend")
    def auth_api_second_factor_resend(self, request):
        """Envía un nuevo código al correo (el anterior deja de servir); como máximo 5 códigos
        por socio cada 15 minutos (429 con `Retry-After`)."""
        data = load_or_raise(ResendCodeSchema(), read_json(request))
        self.auth_rpc.resend_second_factor_code(data["challenge_id"], client_ip(request))
        return Response(status=204)

    @documented("/api/v1/auth/logout", "POST", "Salir", status=204, password_change=True, tags=TAGS)
    @http("POST", "/api/v1/auth/logout")
    def auth_api_logout(self, request):
        """Termina la sesión: el token deja de servir en ese instante."""
        token = token_from(request)
        if not token or len(token) > 200:
            raise Unauthenticated()
        self.forget_session(token)
        self.auth_rpc.logout(token, client_ip(request))
        return Response(status=204)

    @documented(
        "/api/v1/auth/password",
        "POST",
        "Cambiar contraseña",
        request=ChangePasswordSchema,
        status=204,
        password_change=True,
        tags=TAGS,
    )
    @http("POST", "/api/v1/auth/password")
    def auth_api_change_password(self, request):
        """Cambia la contraseña. `current_password` es obligatoria, salvo en una sesión abierta con
        el código temporal (ese código acaba de usarse). Las demás sesiones del usuario y
        cualquier bloqueo terminan."""
        principal = self.require_member(request, allow_password_change=True)
        data = load_or_raise(ChangePasswordSchema(), read_json(request))
        self.auth_rpc.change_password(
            principal.token, data["current_password"], data["new_password"], client_ip(request)
        )
        self.forget_session(principal.token)
        return Response(status=204)

    @documented(
        "/api/v1/auth/recovery",
        "POST",
        "Recuperación de contraseña",
        request=RecoverySchema,
        response=RecoveryResultSchema,
        errors=("429", "503"),
        auth=False,
        tags=TAGS,
    )
    @http("POST", "/api/v1/auth/recovery")
    def auth_api_recovery(self, request):
        """Si usuario, correo registrado y número de socio coinciden, emite un código temporal
        (8 caracteres, un solo uso, 15 minutos) y lo envía solo al correo registrado:
        `temporary_code` es siempre null y `message` dice a qué correo (enmascarado). Si no
        coinciden, la respuesta es la misma."""
        data = load_or_raise(RecoverySchema(), read_json(request))
        result = self.auth_rpc.request_recovery(**data, client_ip=client_ip(request))
        return json_response(result)

    @documented(
        "/api/v1/me",
        "GET",
        "Usuario de la sesión",
        response=MeSchema,
        errors=("403", "503"),
        tags=TAGS,
    )
    @http("GET", "/api/v1/me")
    def auth_api_me(self, request):
        principal = self.require_member(request)
        return json_response(self.auth_rpc.me(principal.token))

    # Second factor and the member's security (docs/api.md, "Second factor") ----------------

    @documented(
        "/api/v1/me/security",
        "GET",
        "Seguridad: aplicación, dispositivos, sesiones e ingresos",
        response=SecuritySchema,
        tags=SECURITY_TAGS,
    )
    @http("GET", "/api/v1/me/security")
    def auth_api_security(self, request):
        """Dispositivos recordados, sesiones abiertas (`current`: esta) y los últimos 20
        ingresos."""
        principal = self.require_member(request)
        return json_response(self.auth_rpc.security(principal.token))

    @documented(
        "/api/v1/me/second-factor/totp",
        "POST",
        "Registrar una aplicación de autenticación",
        request=TotpStartSchema,
        response=TotpEnrollmentSchema,
        status=201,
        errors=("423", "429"),
        tags=SECURITY_TAGS,
    )
    @http("POST", "/api/v1/me/second-factor/totp")
    def auth_api_totp_start(self, request):
        """Con la contraseña entrega el secreto, su `otpauth_uri` y el QR (SVG). Se confirma con un
        código de la nueva aplicación y uno del método actual (`email_code`: se envía ahora)."""
        principal = self.require_member(request)
        data = load_or_raise(TotpStartSchema(), read_json(request))
        result = self.auth_rpc.start_totp_enrollment(
            principal.token, data["password"], client_ip(request)
        )
        return json_response(result, 201)

    @documented(
        "/api/v1/me/second-factor/totp/{enrollment_id}/confirm",
        "POST",
        "Confirmar la aplicación de autenticación",
        request=TotpConfirmSchema,
        response=RecoveryCodesSchema,
        errors=("404", "410", "423"),
        tags=SECURITY_TAGS,
        params=(_path_param("enrollment_id"),),
    )
    @http("POST", "/api/v1/me/second-factor/totp/<string:enrollment_id>/confirm")
    def auth_api_totp_confirm(self, request, enrollment_id):
        """Activa la aplicación y entrega 10 códigos de recuperación (se muestran una sola vez).
        Las demás sesiones terminan y los dispositivos recordados se olvidan; desde entonces los
        códigos por correo ya no abren esta cuenta."""
        principal = self.require_member(request)
        data = load_or_raise(TotpConfirmSchema(), read_json(request))
        result = self.auth_rpc.confirm_totp_enrollment(
            principal.token,
            _plausible_id(enrollment_id),
            data["totp_code"],
            data["code"],
            client_ip(request),
        )
        return json_response(result)

    @documented(
        "/api/v1/me/second-factor/totp",
        "DELETE",
        "Quitar la aplicación de autenticación",
        request=PasswordAndCodeSchema,
        status=204,
        errors=("423",),
        tags=SECURITY_TAGS,
    )
    @http("DELETE", "/api/v1/me/second-factor/totp")
    def auth_api_totp_remove(self, request):
        """Con la contraseña y un código de la aplicación (o de recuperación): vuelven los códigos
        por correo y todos los dispositivos recordados se olvidan."""
        principal = self.require_member(request)
        data = load_or_raise(PasswordAndCodeSchema(), read_json(request))
        self.auth_rpc.remove_totp(
            principal.token, data["password"], data["code"], client_ip(request)
        )
        return Response(status=204)

    @documented(
        "/api/v1/me/second-factor/recovery-codes",
        "POST",
        "Nuevos códigos de recuperación",
        request=PasswordAndCodeSchema,
        response=RecoveryCodesSchema,
        errors=("423",),
        tags=SECURITY_TAGS,
    )
    @http("POST", "/api/v1/me/second-factor/recovery-codes")
    def auth_api_recovery_codes(self, request):
        """10 códigos nuevos; los anteriores dejan de servir."""
        principal = self.require_member(request)
        data = load_or_raise(PasswordAndCodeSchema(), read_json(request))
        result = self.auth_rpc.new_recovery_codes(
            principal.token, data["password"], data["code"], client_ip(request)
        )
        return json_response(result)

    @documented(
        "/api/v1/me/devices/{device_id}",
        "DELETE",
        "Olvidar un dispositivo",
        status=204,
        errors=("404",),
        tags=SECURITY_TAGS,
        params=(_path_param("device_id"),),
    )
    @http("DELETE", "/api/v1/me/devices/<string:device_id>")
    def auth_api_forget_device(self, request, device_id):
        """Ese dispositivo deberá pasar de nuevo el segundo factor."""
        principal = self.require_member(request)
        self.auth_rpc.forget_device(principal.token, _plausible_id(device_id), client_ip(request))
        return Response(status=204)

    @documented(
        "/api/v1/me/sessions/{session_id}",
        "DELETE",
        "Cerrar una sesión",
        status=204,
        errors=("404",),
        tags=SECURITY_TAGS,
        params=(_path_param("session_id"),),
    )
    @http("DELETE", "/api/v1/me/sessions/<string:session_id>")
    def auth_api_end_session(self, request, session_id):
        """Esa sesión termina en ese instante."""
        principal = self.require_member(request)
        self.auth_rpc.end_session(principal.token, _plausible_id(session_id), client_ip(request))
        return Response(status=204)
