"""What the notifications service publishes for others: its RPC payloads (auth sends a recovery
code with RecoveryCodeSchema; operators list deliveries). See docs/architecture.md, "Contracts".

Error codes: its RPCs raise the shared errors of services/common/errors.py (a code and a Spanish
message): `validation_error`, `service_unavailable` (the mail server refused or did not answer).
"""

from typing import Annotated, Protocol

from marshmallow import fields, validate

from services.common.operations import JSON, ServiceOperations, operation
from services.common.schemas import PortalSchema


class RecoveryCodeSchema(PortalSchema):
    email = fields.String(
        required=True,
        validate=validate.Length(max=254, error="Debe tener como máximo 254 caracteres."),
    )
    username = fields.String(
        required=True,
        validate=validate.Length(min=1, max=30, error="Debe tener entre 1 y 30 caracteres."),
    )
    code = fields.String(required=True)


class DeliveriesQuerySchema(PortalSchema):
    limit = fields.Integer(
        load_default=50, validate=validate.Range(min=1, max=500, error="Debe estar entre 1 y 500.")
    )


class DeliverySchema(PortalSchema):
    event_id = fields.String()
    kind = fields.String()
    recipient = fields.String(allow_none=True)
    subject = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime(format="%Y-%m-%dT%H:%M:%SZ")
    sent_at = fields.DateTime(format="%Y-%m-%dT%H:%M:%SZ", allow_none=True)
    location = fields.String(allow_none=True)


class OrderSummarySchema(PortalSchema):
    """What a code e-mail for an order names (never a balance)."""

    kind = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))
    amount = fields.Decimal(load_default=None, allow_none=True, as_string=True, places=2)
    destination_masked = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=40)
    )


class SecondFactorCodeSchema(PortalSchema):
    """auth → notifications.send_second_factor_code (docs/events.md, "Notifications of the
    second factor")."""

    email = fields.String(
        required=True,
        validate=validate.Length(max=254, error="Debe tener como máximo 254 caracteres."),
    )
    username = fields.String(
        required=True,
        validate=validate.Length(min=1, max=30, error="Debe tener entre 1 y 30 caracteres."),
    )
    code = fields.String(required=True)
    purpose = fields.String(
        required=True,
        validate=validate.OneOf(
            ("login", "totp_enrollment", "security", "order"), error="Propósito desconocido."
        ),
    )
    expires_at = fields.String(load_default=None, allow_none=True)
    challenge_id = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=64)
    )
    order = fields.Nested(OrderSummarySchema, load_default=None, allow_none=True)


class NotificationsRpc(ServiceOperations, Protocol):
    """The notifications service's RPC operations."""

    @operation
    def send_recovery_code(self, email: str, username: str, code: str) -> JSON: ...

    @operation
    def send_second_factor_code(
        self,
        email: str,
        username: str,
        code: str,
        purpose: str,
        expires_at: str | None = None,
        challenge_id: str | None = None,
        order: JSON | None = None,
    ) -> JSON: ...

    @operation
    def deliveries(self, limit: int | str | None = 50) -> list[Annotated[JSON, DeliverySchema]]: ...
