"""What the auth service publishes for others: its RPC payloads and the data of its events
(marshmallow; the gateway validates and documents its API with them). The only auth module the
gateway imports (docs/architecture.md, "Contracts").

Error codes: its RPCs raise the shared errors of services/common/errors.py (a code and a Spanish
message; the gateway alone maps a code to an HTTP status): `validation_error`, `unauthenticated`,
`conflict`, `rate_limited`.

Event data never holds a password, a hash, a session token or a temporary code.
"""

from marshmallow import fields, validate

from services.common.schemas import PortalSchema

REQUIRED = "Este campo es obligatorio."


def _text(max_length, **kwargs):
    return fields.String(
        required=True,
        validate=[
            validate.Length(min=1, error=REQUIRED),
            validate.Length(
                max=max_length, error=f"Debe tener como máximo {max_length} caracteres."
            ),
        ],
        **kwargs,
    )


def _email():
    return fields.Email(
        required=True,
        validate=validate.Length(max=120, error="Debe tener como máximo 120 caracteres."),
    )


# Requests ---------------------------------------------------------------------------------


class RegisterSchema(PortalSchema):
    username = _text(100, metadata={"description": "4–30 caracteres [a-z0-9._-]"})
    password = _text(1024, metadata={"description": "8–128 caracteres, no común"})
    member_number = _text(12)
    identification = _text(13, metadata={"description": "cédula"})
    first_name = _text(80, metadata={"description": "uno de los nombres registrados"})
    last_name = _text(80, metadata={"description": "uno de los apellidos registrados"})
    email = _email()


class LoginSchema(PortalSchema):
    username = _text(100)
    password = _text(1024, metadata={"description": "contraseña o código temporal"})


class ChangePasswordSchema(PortalSchema):
    # required except in a session opened with a temporary code: that code was just used
    current_password = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=1024, error="Debe tener como máximo 1024 caracteres."),
        metadata={
            "description": "contraseña actual; no se pide tras ingresar con el código temporal"
        },
    )
    new_password = _text(1024)


class RecoverySchema(PortalSchema):
    username = _text(100)
    email = _email()
    member_number = _text(12)


# Answers ----------------------------------------------------------------------------------


class RegisterResultSchema(PortalSchema):
    username = fields.String()
    member_number = fields.String()


class MemberBriefSchema(PortalSchema):
    member_number = fields.String()
    display_name = fields.String()


class LoginResultSchema(PortalSchema):
    token = fields.String(metadata={"description": "token opaco de sesión (Bearer)"})
    expires_at = fields.String(metadata={"description": "fin absoluto de la sesión (UTC)"})
    must_change_password = fields.Boolean()
    member = fields.Nested(MemberBriefSchema)


class PrincipalSchema(PortalSchema):
    """What `authenticate(token)` answers."""

    username = fields.String()
    member_number = fields.String()
    display_name = fields.String()
    must_change_password = fields.Boolean()
    session_id = fields.String()
    last_login_at = fields.String(
        allow_none=True, metadata={"description": "el ingreso anterior a esta sesión (UTC), o null"}
    )


class MeSchema(PortalSchema):
    username = fields.String()
    member_number = fields.String()
    display_name = fields.String()
    email_masked = fields.String()
    last_login_at = fields.String(
        allow_none=True, metadata={"description": "el ingreso anterior a esta sesión (UTC), o null"}
    )


class RecoveryResultSchema(PortalSchema):
    message = fields.String()
    temporary_code = fields.String(
        allow_none=True, metadata={"description": "código temporal, o null"}
    )


# Event data (exchange auth.events; see docs/events.md) ------------------------------------


class UserRegisteredSchema(PortalSchema):
    username = fields.String()
    member_number = fields.String()
    display_name = fields.String()
    email = fields.String()
    client_ip = fields.String(allow_none=True)


class LoginSucceededSchema(PortalSchema):
    username = fields.String()
    member_number = fields.String()
    session_id = fields.String()
    recovery_login = fields.Boolean(metadata={"description": "opened with a temporary code"})
    client_ip = fields.String(allow_none=True)


class LoginFailedSchema(PortalSchema):
    username = fields.String()
    member_number = fields.String(allow_none=True)
    reason = fields.String()
    client_ip = fields.String(allow_none=True)


class AccountLockedSchema(PortalSchema):
    username = fields.String()
    member_number = fields.String()
    display_name = fields.String()
    email = fields.String()
    locked_until = fields.String()
    retry_after = fields.Integer()
    reason = fields.String()
    client_ip = fields.String(allow_none=True)


class AccountThrottledSchema(PortalSchema):
    """A user name is being guessed from many addresses: logins from unfamiliar addresses wait
    (docs/identity.md). Once per episode; the member is told by e-mail."""

    username = fields.String()
    member_number = fields.String()
    display_name = fields.String()
    email = fields.String()
    failures = fields.Integer(metadata={"description": "failures in the episode so far"})
    first_failure_at = fields.String()
    wait_until = fields.String()
    client_ip = fields.String(allow_none=True, metadata={"description": "the latest address"})


class PasswordChangedSchema(PortalSchema):
    username = fields.String()
    member_number = fields.String()
    display_name = fields.String()
    email = fields.String()
    reason = fields.String()
    other_sessions_revoked = fields.Integer()
    client_ip = fields.String(allow_none=True)


class PasswordResetRequestedSchema(PortalSchema):
    username = fields.String()
    member_number = fields.String(allow_none=True)
    display_name = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    outcome = fields.String()
    delivery = fields.String(allow_none=True)
    expires_at = fields.String(allow_none=True)
    reason = fields.String()
    client_ip = fields.String(allow_none=True)


class RecoveryLoginSchema(PortalSchema):
    """A session was opened with a temporary code: the member is told at once by e-mail."""

    username = fields.String()
    member_number = fields.String()
    display_name = fields.String()
    email = fields.String()
    logged_in_at = fields.String()
    client_ip = fields.String(allow_none=True)


class LoggedOutSchema(PortalSchema):
    username = fields.String()
    member_number = fields.String()
    session_id = fields.String()
    reason = fields.String()
    client_ip = fields.String(allow_none=True)
