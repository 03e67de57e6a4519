"""JSON API of identity (docs/api.md "Auth"): register, login, logout, password, recovery, me."""

from werkzeug.wrappers import Response

from gateway.http import http, json_response, read_json
from gateway.openapi import documented
from gateway.principal import token_from
from services.auth.contracts import (
    ChangePasswordSchema,
    LoginResultSchema,
    LoginSchema,
    MeSchema,
    RecoveryResultSchema,
    RecoverySchema,
    RegisterResultSchema,
    RegisterSchema,
)
from services.common.errors import Unauthenticated
from services.common.schemas import load_or_raise

TAGS = ("Autenticación",)


def client_ip(request):
    """The member's address, for lockout throttling and the audit trail: the peer address, or,
    behind TRUSTED_PROXY, the one werkzeug's ProxyFix took from the proxy's X-Forwarded-For
    (gateway/http.py); entries a client wrote to its left are never read."""
    return (request.remote_addr or "").strip()[:64] or None


class AuthApi:
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
        errors=("401", "429", "503"),
        auth=False,
        tags=TAGS,
    )
    @http("POST", "/api/v1/auth/login")
    def auth_api_login(self, request):
        """Abre una sesión con la contraseña o con el código temporal de recuperación (entonces
        `must_change_password` es true y solo se puede cambiar la contraseña o salir). Un usuario
        bloqueado desde esta dirección recibe la misma respuesta que una contraseña equivocada
        (401); el código temporal sí lo deja ingresar. Una dirección con demasiados intentos
        fallidos recibe 429 antes de revisar la contraseña. Si los ingresos en espera superan lo
        que el servicio atiende a tiempo, 503 `service_unavailable` con `Retry-After`."""
        data = load_or_raise(LoginSchema(), read_json(request))
        result = self.auth_rpc.login(data["username"], data["password"], client_ip(request))
        return json_response(result)

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
        `temporary_code` es null y `message` dice a qué correo (enmascarado). Con
        RECOVERY_SHOW_CODE=true también se muestra. Si no coinciden, la respuesta es la misma."""
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
