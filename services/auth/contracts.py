"""What the auth service publishes for others: its RPC payloads and the data of its events
(marshmallow; the gateway validates and documents its API with them). The only auth module the
gateway imports (docs/architecture.md, "Contracts").

Error codes: its RPCs raise the shared errors of services/common/errors.py (a code and a Spanish
message; the gateway alone maps a code to an HTTP status): `validation_error`, `unauthenticated`,
`conflict`, `rate_limited`.

Event data never holds a password, a hash, a session token or a temporary code.
"""

from typing import Annotated, Protocol

from marshmallow import EXCLUDE, fields, validate

from services.common.operations import JSON, ServiceOperations, operation
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
    """A session, or (from a device not remembered) a second-factor challenge and no token."""

    token = fields.String(metadata={"description": "token opaco de sesión (Bearer)"})
    expires_at = fields.String(metadata={"description": "fin absoluto de la sesión (UTC)"})
    must_change_password = fields.Boolean()
    member = fields.Nested(MemberBriefSchema)
    device_token = fields.String(
        allow_none=True,
        metadata={
            "description": "token del dispositivo recordado (cabecera X-Device-Token en el "
            "próximo ingreso); reemplaza al anterior en cada uso"
        },
    )
    second_factor_required = fields.Boolean(
        metadata={"description": "true: falta el segundo factor (no hay token todavía)"}
    )
    challenge_id = fields.String()
    methods = fields.List(
        fields.String(), metadata={"description": "email_code, o totp y recovery_code"}
    )
    challenge_expires_at = fields.String()


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


# Second factor (docs/identity.md, "Second factor") --------------------------------------


def _code(description):
    return fields.String(
        required=True,
        validate=[
            validate.Length(min=1, error=REQUIRED),
            validate.Length(max=64, error="Debe tener como máximo 64 caracteres."),
        ],
        metadata={"description": description},
    )


class StrictBoolean(fields.Boolean):
    """true or false only (JSON): 0, 1, "yes" are not a member's choice to remember a device."""

    default_error_messages = {"invalid": "Debe ser true o false."}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class SecondFactorSchema(PortalSchema):
    challenge_id = _text(100)
    method = fields.String(
        required=True,
        validate=validate.OneOf(["email_code", "totp", "recovery_code"], error="Método no válido."),
    )
    code = _code("código de 6 dígitos (correo o aplicación) o código de recuperación")
    remember_device = StrictBoolean(load_default=False)


class ResendCodeSchema(PortalSchema):
    challenge_id = _text(100)


class OrderSummarySchema(PortalSchema):
    """What an order's challenge tells the member (payments' summary): never a balance, never a
    third party's account in full."""

    class Meta:
        unknown = EXCLUDE

    kind = fields.String(required=True, validate=validate.Length(min=1, max=20))
    amount = fields.String(required=True, validate=validate.Length(min=1, max=20))
    to_account_masked = fields.String(load_default=None, validate=validate.Length(max=40))


class OrderChallengeSchema(PortalSchema):
    """`start_order_challenge` (docs/payments-auth-contract.md): a challenge bound to an order."""

    member_number = _text(12)
    order_id = _text(64)
    digest = fields.String(
        required=True,
        validate=validate.Regexp(r"^[0-9a-f]{64}$", error="Resumen de la orden inválido."),
    )
    summary = fields.Nested(OrderSummarySchema, required=True)


class OrderCodeSchema(PortalSchema):
    """`verify_order_code`: the app's code or the e-mailed one; recovery codes never confirm
    an order."""

    challenge_id = _text(100)
    digest = fields.String(required=True, validate=validate.Length(equal=64))
    method = fields.String(
        required=True,
        validate=validate.OneOf(
            ["totp", "email_code"],
            error="Confirme con el código de su aplicación o el enviado a su correo: los "
            "códigos de recuperación no confirman órdenes.",
        ),
    )
    code = _code("código de 6 dígitos (correo o aplicación)")


class TotpStartSchema(PortalSchema):
    password = _text(1024)


class TotpConfirmSchema(PortalSchema):
    totp_code = _code("código de la nueva aplicación")
    code = _code("código del método actual (correo, o la aplicación anterior)")


class PasswordAndCodeSchema(PortalSchema):
    password = _text(1024)
    code = _code("código de la aplicación o código de recuperación")


class ConfirmationSchema(PortalSchema):
    method = fields.String(metadata={"description": "email_code, o totp"})
    challenge_expires_at = fields.String()


class TotpEnrollmentSchema(PortalSchema):
    enrollment_id = fields.String()
    secret = fields.String(metadata={"description": "secreto base32 (para escribirlo a mano)"})
    otpauth_uri = fields.String()
    qr_svg = fields.String(metadata={"description": "código QR (SVG) del otpauth_uri"})
    confirmation = fields.Nested(ConfirmationSchema)


class RecoveryCodesSchema(PortalSchema):
    recovery_codes = fields.List(
        fields.String(), metadata={"description": "10 códigos de un solo uso; se muestran una vez"}
    )


class DeviceSchema(PortalSchema):
    device_id = fields.String()
    label = fields.String()
    created_at = fields.String()
    last_used_at = fields.String()


class OpenSessionSchema(PortalSchema):
    session_id = fields.String()
    current = fields.Boolean()
    created_at = fields.String()
    last_seen_at = fields.String()
    address = fields.String(allow_none=True)


class RecentLoginSchema(PortalSchema):
    at = fields.String()
    address = fields.String()
    device_label = fields.String()
    outcome = fields.String(
        metadata={"description": "success, bad_password, bad_code, second_factor_locked"}
    )


class SecuritySchema(PortalSchema):
    totp_enrolled = fields.Boolean()
    recovery_codes_left = fields.Integer()
    second_factor_locked = fields.Boolean()
    factor_changed_at = fields.String(allow_none=True)
    devices = fields.List(fields.Nested(DeviceSchema))
    sessions = fields.List(fields.Nested(OpenSessionSchema))
    recent_logins = fields.List(fields.Nested(RecentLoginSchema))


class SecurityStateSchema(PortalSchema):
    """`security_state(member_number)`: what the payments work checks before an order."""

    totp_enrolled = fields.Boolean()
    second_factor_locked = fields.Boolean()
    factor_changed_at = fields.String(allow_none=True)
    restricted_until = fields.String(
        allow_none=True,
        metadata={"description": "48 h after a change of factor or a recovery: nothing to others"},
    )


class NotMeLinkSchema(PortalSchema):
    token = fields.String()
    expires_at = fields.String()


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


class SecurityAlertSchema(PortalSchema):
    """The common data of the second factor's alerts (no code, secret or token, ever)."""

    username = fields.String()
    member_number = fields.String()
    display_name = fields.String()
    email = fields.String()
    at = fields.String()
    client_ip = fields.String(allow_none=True)


class LoginNewDeviceSchema(SecurityAlertSchema):
    device_label = fields.String()
    session_id = fields.String()


class TotpRemovedSchema(SecurityAlertSchema):
    with_recovery_code = fields.Boolean()


class DeviceRemovedSchema(SecurityAlertSchema):
    device_label = fields.String()


class SessionRemovedSchema(SecurityAlertSchema):
    session_id = fields.String()


class SecondFactorLockedSchema(SecurityAlertSchema):
    failures = fields.Integer()


class RecoveryCodeUsedSchema(SecurityAlertSchema):
    recovery_codes_left = fields.Integer()


class NotMeReportedSchema(SecurityAlertSchema):
    reported_event_id = fields.String()
    sessions_ended = fields.Integer()
    devices_forgotten = fields.Integer()


class SecondFactorFailedSchema(SecurityAlertSchema):
    method = fields.String()
    attempts_left = fields.Integer()


class AuthRpc(ServiceOperations, Protocol):
    """The auth service's RPC operations (docs/identity.md). Every argument may be absent: the
    service answers a missing or malformed one with a `validation_error`, never a crash."""

    @operation
    def register(
        self,
        username: str | None = None,
        password: str | None = None,
        member_number: str | None = None,
        identification: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        email: str | None = None,
        client_ip: str | None = None,
    ) -> Annotated[JSON, RegisterResultSchema]: ...

    @operation
    def login(
        self,
        username: str | None = None,
        password: str | None = None,
        client_ip: str | None = None,
        device_token: str | None = None,
        user_agent: str | None = None,
    ) -> Annotated[JSON, LoginResultSchema]: ...

    @operation
    def login_second_factor(
        self,
        challenge_id: str | None = None,
        method: str | None = None,
        code: str | None = None,
        remember_device: bool = False,
        client_ip: str | None = None,
        user_agent: str | None = None,
    ) -> Annotated[JSON, LoginResultSchema]: ...

    @operation
    def resend_second_factor_code(
        self, challenge_id: str | None = None, client_ip: str | None = None
    ) -> None: ...

    @operation
    def start_order_challenge(
        self,
        member_number: str | None = None,
        order_id: str | None = None,
        digest: str | None = None,
        summary: JSON | None = None,
    ) -> Annotated[JSON, OrderChallengeSchema]: ...

    @operation
    def verify_order_code(
        self,
        challenge_id: str | None = None,
        digest: str | None = None,
        method: str | None = None,
        code: str | None = None,
    ) -> JSON: ...

    @operation
    def security(self, token: str | None = None) -> Annotated[JSON, SecuritySchema]: ...

    @operation
    def start_totp_enrollment(
        self, token: str | None = None, password: str | None = None, client_ip: str | None = None
    ) -> Annotated[JSON, TotpEnrollmentSchema]: ...

    @operation
    def confirm_totp_enrollment(
        self,
        token: str | None = None,
        enrollment_id: str | None = None,
        totp_code: str | None = None,
        code: str | None = None,
        client_ip: str | None = None,
    ) -> Annotated[JSON, RecoveryCodesSchema]: ...

    @operation
    def remove_totp(
        self,
        token: str | None = None,
        password: str | None = None,
        code: str | None = None,
        client_ip: str | None = None,
    ) -> None: ...

    @operation
    def new_recovery_codes(
        self,
        token: str | None = None,
        password: str | None = None,
        code: str | None = None,
        client_ip: str | None = None,
    ) -> Annotated[JSON, RecoveryCodesSchema]: ...

    @operation
    def forget_device(
        self, token: str | None = None, device_id: str | None = None, client_ip: str | None = None
    ) -> None: ...

    @operation
    def end_session(
        self, token: str | None = None, session_id: str | None = None, client_ip: str | None = None
    ) -> None: ...

    @operation
    def security_state(
        self, member_number: str | None = None
    ) -> Annotated[JSON, SecurityStateSchema]: ...

    @operation
    def not_me_link(
        self,
        event_id: str | None = None,
        member_number: str | None = None,
        event_type: str | None = None,
    ) -> Annotated[JSON, NotMeLinkSchema] | None: ...

    @operation
    def report_not_me(self, token: str | None = None, client_ip: str | None = None) -> JSON: ...

    @operation
    def authenticate(self, token: str | None = None) -> Annotated[JSON, PrincipalSchema]: ...

    @operation
    def me(self, token: str | None = None) -> Annotated[JSON, MeSchema]: ...

    @operation
    def logout(self, token: str | None = None, client_ip: str | None = None) -> None: ...

    @operation
    def change_password(
        self,
        token: str | None = None,
        current_password: str | None = None,
        new_password: str | None = None,
        client_ip: str | None = None,
    ) -> None: ...

    @operation
    def request_recovery(
        self,
        username: str | None = None,
        email: str | None = None,
        member_number: str | None = None,
        client_ip: str | None = None,
    ) -> Annotated[JSON, RecoveryResultSchema]: ...

    @operation
    def guessing_status(self) -> JSON: ...
