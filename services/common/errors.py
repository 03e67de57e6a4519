"""Errors that cross service boundaries.

Each is registered with nameko's `deserialize_to_instance`, so a remote raise arrives at the caller
as the same type with the same arguments. An error is a `code` and a Spanish message (plus
details such as `fields` or `retry_after`); HTTP is no service's business: the gateway alone maps a
code to docs/api.md's status (gateway/http.py, HTTP_STATUS).
"""

from typing import Any, TypeVar

from nameko.exceptions import deserialize_to_instance


class PortalError(Exception):
    code = "internal_error"
    default_message = "Ocurrió un error inesperado. Intente nuevamente."

    def __init__(self, message: str | None = None, **extra: Any) -> None:
        self.message = message or self.default_message
        self.extra = extra
        super().__init__(self.message, extra)

    def to_dict(self) -> dict[str, Any]:
        body = {"code": self.code, "message": self.message}
        body.update({k: v for k, v in self.extra.items() if v is not None})
        return body

    def __str__(self) -> str:
        return self.message


E = TypeVar("E", bound=type[PortalError])


def _portal_error(cls: E) -> E:
    # nameko rebuilds remote exceptions by calling cls(*exc_args): keep (message, extra) round-trip.
    original_init = cls.__init__

    def __init__(
        self: PortalError, message: str | None = None, extra: object = None, **kwargs: Any
    ) -> None:
        if isinstance(extra, dict):
            kwargs = {**extra, **kwargs}
        # nameko sends non-string arguments as strings: these counts are integers
        for name in ("retry_after", "attempts_left"):
            value = kwargs.get(name)
            if isinstance(value, str) and value.isdigit():
                kwargs[name] = int(value)
        original_init(self, message, **kwargs)

    cls.__init__ = __init__  # type: ignore[method-assign]  # the wrapper takes (message, extra) too
    registered: E = deserialize_to_instance(cls)
    return registered


@_portal_error
class BadRequest(PortalError):
    code = "bad_request"
    default_message = "La solicitud no es válida."


@_portal_error
class Unauthenticated(PortalError):
    code = "unauthenticated"
    default_message = "Su sesión no es válida o ha expirado. Ingrese nuevamente."


@_portal_error
class PasswordChangeRequired(PortalError):
    code = "password_change_required"
    default_message = "Debe cambiar su contraseña temporal antes de continuar."


@_portal_error
class Forbidden(PortalError):
    code = "forbidden"
    default_message = "No tiene permiso para realizar esta operación."


@_portal_error
class NotFound(PortalError):
    code = "not_found"
    default_message = "No se encontró lo solicitado."


@_portal_error
class Conflict(PortalError):
    code = "conflict"
    default_message = "La operación entra en conflicto con datos existentes."


@_portal_error
class QuoteChanged(PortalError):
    """A loan payment's quote moved since the member saw it (409): show the new one."""

    code = "quote_changed"
    default_message = (
        "El valor a pagar de su crédito cambió desde que lo consultó. Revise el nuevo valor "
        "e intente nuevamente."
    )


@_portal_error
class PayloadTooLarge(PortalError):
    code = "payload_too_large"
    default_message = "La solicitud es demasiado grande."


@_portal_error
class ValidationError(PortalError):
    code = "validation_error"
    default_message = "Revise los datos ingresados."

    def __init__(
        self, message: str | None = None, fields: dict[str, list[str]] | None = None, **extra: Any
    ) -> None:
        super().__init__(message, fields=fields or {}, **extra)

    @property
    def fields(self) -> dict[str, list[str]]:
        fields: dict[str, list[str]] = self.extra.get("fields", {})
        return fields


@_portal_error
class Locked(PortalError):
    code = "locked"
    default_message = "Su usuario está bloqueado temporalmente por intentos fallidos."


@_portal_error
class RateLimited(PortalError):
    code = "rate_limited"
    default_message = "Demasiados intentos. Espere un momento e intente nuevamente."


@_portal_error
class InvalidCode(PortalError):
    """A wrong second-factor code; `attempts_left` on its challenge."""

    code = "invalid_code"
    default_message = "El código no es correcto."


@_portal_error
class ChallengeExpired(PortalError):
    """A second-factor challenge (or a one-time link) unknown, used or expired: start again."""

    code = "challenge_expired"
    default_message = "El código venció o ya fue usado. Ingrese nuevamente para recibir otro."


@_portal_error
class ServiceUnavailable(PortalError):
    code = "service_unavailable"
    default_message = "El servicio no está disponible en este momento. Intente más tarde."


# the codes of a portal failure (logged as warnings); any other code answers the caller's request
FAILURE_CODES = frozenset({PortalError.code, ServiceUnavailable.code})
