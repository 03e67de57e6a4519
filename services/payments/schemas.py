"""What the payments service reads from the cooperative's core: the `data` of its answers to the
portal's requests on `core.events` (docs/integration.md). Extra fields are ignored; a missing or
malformed one refuses the answer (parked with the reason)."""

from marshmallow import EXCLUDE, fields, validate

from services.common.fields import Money
from services.common.schemas import PortalSchema
from services.payments.domain import REASON_CODES


class CoreAmount(Money):
    """Money from the core: only a string with two decimals (a JSON number is refused)."""

    default_error_messages = {"string": "El monto debe ser un texto con dos decimales."}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("string")
        return super()._deserialize(value, attr, data, **kwargs)


class CoreSchema(PortalSchema):
    class Meta:
        unknown = EXCLUDE


REQUEST_ID = validate.Length(min=1, max=36, error="request_id inválido.")


class RequestCompletedSchema(CoreSchema):
    request_id = fields.String(required=True, validate=REQUEST_ID)
    completed_at = fields.DateTime(required=True, format="iso")
    amount = CoreAmount(required=True)
    core_reference = fields.String(required=True, validate=validate.Length(min=1, max=80))


class RequestRejectedSchema(CoreSchema):
    request_id = fields.String(required=True, validate=REQUEST_ID)
    rejected_at = fields.DateTime(required=True, format="iso")
    reason_code = fields.String(
        required=True,
        validate=validate.OneOf(REASON_CODES, error="Código de motivo desconocido."),
    )
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class RequestMovementSchema(PortalSchema):
    """accounts.request_movement_posted: a movement of the core that executed a request."""

    class Meta:
        unknown = EXCLUDE

    account_number = fields.String(required=True)
    request_id = fields.String(load_default=None, allow_none=True)
    debit = Money(required=True)
    reference = fields.String(load_default=None, allow_none=True)
