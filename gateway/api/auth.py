"""JSON API of identity (docs/api.md "Auth"): register, login, logout, password, recovery, me."""

from werkzeug.wrappers import Response

from gateway.http import http, json_response, read_json
from gateway.openapi import documented
from gateway.principal import token_from
from services.auth.schemas import (
    ChangePasswordSchema,
    LoginResultSchema,
    LoginSchema,
    MeSchema,
    RecoveryResultSchema,
    RecoverySchema,
    RegisterResultSchema,
    RegisterSchema,
)
from services.common.config import env
from services.common.errors import Unauthenticated
from services.common.schemas import load_or_raise

TAGS = ("Autenticación",)


def client_ip(request):
    """The member's address, for lockout throttling and the audit trail.

    Without TRUSTED_PROXY it is the peer address. With TRUSTED_PROXY (a comma-separated list of
    proxy addresses, or `*`) and the request coming from one of them, it is the first hop of
    X-Forwarded-For that is not a trusted proxy, read from the right: the entries to its left
    were written by the client and could be forged.
    """
    remote = (request.remote_addr or "").strip()
    trusted = env("TRUSTED_PROXY")
    if trusted:
        proxies = {p.strip() for p in trusted.split(",") if p.strip()}
        if "*" in proxies or remote in proxies:
            hops = [
                h.strip()
                for h in request.headers.get("X-Forwarded-For", "").split(",")
                if h.strip()
            ]
            for hop in reversed(hops):
                if hop not in proxies:
                    return hop[:64]
            if hops:
                return hops[0][:64]
    return remote[:64] or None


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
        errors=("401", "423", "429", "503"),
        auth=False,
        tags=TAGS,
    )
    @http("POST", "/api/v1/auth/login")
    def auth_api_login(self, request):
        """Abre una sesión con la contraseña o con el código temporal de recuperación (entonces
        `must_change_password` es true y solo se puede cambiar la contraseña o salir)."""
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
        """Cambia la contraseña (la actual es obligatoria; tras ingresar con el código temporal, la
        actual es ese código). Las demás sesiones del usuario terminan."""
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
        (8 caracteres, un solo uso, 15 minutos). Si no coinciden, la respuesta tiene el mismo estado
        y forma con `temporary_code: null`."""
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
