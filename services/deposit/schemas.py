"""What the deposit service reads from the cooperative's core: the `data` of its events and the
bulk-load CSV rows (its own contract for the portal is services/deposit/contracts.py)."""

from marshmallow import EXCLUDE, fields, validate, validates_schema
from marshmallow import ValidationError as MarshmallowValidationError

from services.common.fields import CoreMoney, CoreRate, Count, IsoDate
from services.common.schemas import PortalSchema
from services.deposit import domain
from services.deposit.contracts import PAYMENT_MODE_ERROR, PAYMENT_MODES

# --- inbound events of the core (docs/integration.md) ---------------------------------------
# `data` of the events on `core.events` that deposit owns. Extra fields are welcome (EXCLUDE);
# a missing field, an amount with more than two decimals or a negative one is refused. The bulk
# load (deposits.csv) reads the same columns with DepositOpenedSchema.

DEPOSIT_NUMBER = validate.Length(min=1, max=20, error="Número de depósito inválido.")
CLOSE_REASONS = ("vencimiento", "renovacion", "precancelacion")


class CoreDataSchema(PortalSchema):
    class Meta:
        unknown = EXCLUDE


class DepositOpenedSchema(CoreDataSchema):
    deposit_number = fields.String(required=True, validate=DEPOSIT_NUMBER)
    member_number = fields.String(
        required=True, validate=validate.Length(min=1, max=12, error="Número de socio inválido.")
    )
    amount = CoreMoney(
        required=True,
        validate=validate.Range(min=0, min_inclusive=False, error="Debe ser mayor que 0."),
    )
    annual_rate = CoreRate(required=True)
    term_days = Count(
        required=True, validate=validate.Range(min=1, max=3660, error="Plazo en días inválido.")
    )
    opened_on = IsoDate(required=True)
    maturity_date = IsoDate(required=True)
    interest_payment = fields.String(
        required=True, validate=validate.OneOf(PAYMENT_MODES, error=PAYMENT_MODE_ERROR)
    )

    @validates_schema(skip_on_field_errors=True)
    def _maturity_matches_term(self, data, **kwargs):
        expected = domain.maturity_date(data["opened_on"], data["term_days"])
        if data["maturity_date"] != expected:
            raise MarshmallowValidationError(
                {
                    "maturity_date": [
                        f"No corresponde al plazo: {data['term_days']} días desde "
                        f"{data['opened_on']:%Y-%m-%d} vencen el {expected:%Y-%m-%d}."
                    ]
                }
            )


class DepositClosedSchema(CoreDataSchema):
    deposit_number = fields.String(required=True, validate=DEPOSIT_NUMBER)
    closed_on = IsoDate(required=True)
    reason = fields.String(
        required=True,
        validate=validate.OneOf(
            CLOSE_REASONS, error="Motivo inválido: vencimiento, renovacion o precancelacion."
        ),
    )
    renewed_as = fields.String(required=True, allow_none=True, validate=DEPOSIT_NUMBER)

    @validates_schema(skip_on_field_errors=True)
    def _renewal_names_the_new_deposit(self, data, **kwargs):
        if data["reason"] == "renovacion" and not data["renewed_as"]:
            raise MarshmallowValidationError(
                {"renewed_as": ["Una renovación indica el número del nuevo depósito."]}
            )
