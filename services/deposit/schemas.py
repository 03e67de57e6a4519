"""The deposit service's RPC and event contract."""

from decimal import Decimal, InvalidOperation

from marshmallow import EXCLUDE, fields, validate, validates_schema
from marshmallow import ValidationError as MarshmallowValidationError

from services.common.fields import Count, IsoDate, Money
from services.common.schemas import PortalSchema
from services.deposit import domain

MAX_AMOUNT = Decimal("999999999.99")
RATE_PLACES = Decimal("0.0001")


class DepositAmount(Money):
    """An amount a member types: two decimals at most, finite, and of a sane size."""

    default_error_messages = {
        **Money.default_error_messages,
        "too_large": "El monto es demasiado grande.",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            amount = super()._deserialize(value, attr, data, **kwargs)
        except ArithmeticError as exc:  # e.g. "1e999999": no cents to round to
            raise self.make_error("invalid") from exc
        if amount > MAX_AMOUNT:
            raise self.make_error("too_large")
        return amount


class Percent(fields.Field):
    """A percent rate on the wire: '7.43', '8.50', '7.4325' (two to four decimals)."""

    # how the OpenAPI document describes it (gateway/openapi.py)
    openapi_property = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2,4}$", "example": "7.43"}

    default_error_messages = {
        "invalid": "Debe ser un porcentaje numérico.",
        "decimals": "Use como máximo cuatro decimales.",
    }

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        text = f"{Decimal(value).quantize(RATE_PLACES):.4f}".rstrip("0")
        whole, _, decimals = text.partition(".")
        return f"{whole}.{decimals.ljust(2, '0')}"

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or value is None:
            raise self.make_error("invalid")
        try:
            rate = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            raise self.make_error("invalid") from None
        if not rate.is_finite() or abs(rate) >= 1000:
            raise self.make_error("invalid")
        if rate != rate.quantize(RATE_PLACES):
            raise self.make_error("decimals")
        return rate.quantize(RATE_PLACES)


PAYMENT_MODE_ERROR = "Seleccione el pago de interés: al vencimiento (maturity) o mensual (monthly)."


class SimulationRequestSchema(PortalSchema):
    amount = DepositAmount(required=True)
    term_days = Count(required=True)
    interest_payment = fields.String(
        required=True, validate=validate.OneOf(domain.PAYMENT_MODES, error=PAYMENT_MODE_ERROR)
    )
    start_date = IsoDate(load_default=None, allow_none=True)


class PaymentSchema(PortalSchema):
    number = fields.Integer()
    date = fields.Date()
    days = fields.Integer()
    interest = Money()
    withholding = Money()
    net = Money()


class ProjectionSchema(PortalSchema):
    amount = Money()
    term_days = fields.Integer()
    annual_rate = Percent()
    interest_payment = fields.String()
    interest_payment_name = fields.String()
    start_date = fields.Date()
    maturity_date = fields.Date()
    interest = Money()
    withholding_rate = Percent()
    withholding = Money()
    net_interest = Money()
    total_at_maturity = Money()
    total_received = Money()
    payments = fields.List(fields.Nested(PaymentSchema))


class BandSchema(PortalSchema):
    min_days = fields.Integer(required=True)
    max_days = fields.Integer(load_default=None, allow_none=True)
    min_amount = Money(load_default=Decimal("0.00"))
    max_amount = Money(load_default=None, allow_none=True)
    annual_rate = Percent(required=True)


class RatesSchema(PortalSchema):
    chart_id = fields.Integer()
    valid_from = fields.Date()
    bands = fields.List(fields.Nested(BandSchema))
    withholding_rate = Percent()
    min_amount = Money()
    min_term_days = fields.Integer()
    max_term_days = fields.Integer()


class ConfigureRatesSchema(PortalSchema):
    """A new version of the rate chart (internal administration RPC, not on the gateway)."""

    valid_from = IsoDate(required=True)
    bands = fields.List(fields.Nested(BandSchema), required=True)
    withholding_rate = Percent(load_default=Decimal("2.00"))
    min_amount = Money(load_default=Decimal("100.00"))
    min_term_days = fields.Integer(load_default=30)
    max_term_days = fields.Integer(load_default=1080)


class DepositSchema(PortalSchema):
    deposit_number = fields.String()
    amount = Money()
    term_days = fields.Integer()
    annual_rate = Percent()
    withholding_rate = Percent()
    interest_payment = fields.String()
    interest_payment_name = fields.String()
    opened_on = fields.Date()
    maturity_date = fields.Date()
    days_left = fields.Integer()
    days_elapsed = fields.Integer()
    accrued_interest = Money()
    interest = Money()
    withholding = Money()
    net_interest = Money()
    total_at_maturity = Money()
    payments = fields.List(fields.Nested(PaymentSchema))
    payments_made = fields.List(fields.Nested(PaymentSchema))
    interest_paid = Money()
    next_payment = fields.Nested(PaymentSchema, allow_none=True)
    status = fields.String()


class DepositSummarySchema(PortalSchema):
    """One line of the consolidated position."""

    deposit_number = fields.String()
    amount = Money()
    annual_rate = Percent()
    opened_on = fields.Date()
    maturity_date = fields.Date()
    accrued_interest = Money()


class RatesConfiguredEventSchema(RatesSchema):
    """Data of `deposit.rates_configured`."""


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
    amount = DepositAmount(
        required=True,
        validate=validate.Range(min=0, min_inclusive=False, error="Debe ser mayor que 0."),
    )
    annual_rate = Percent(
        required=True,
        validate=validate.Range(min=0, max=100, error="Debe ser un porcentaje entre 0 y 100."),
    )
    term_days = fields.Integer(
        required=True, validate=validate.Range(min=1, max=3660, error="Plazo en días inválido.")
    )
    opened_on = IsoDate(required=True)
    maturity_date = IsoDate(required=True)
    interest_payment = fields.String(
        required=True, validate=validate.OneOf(domain.PAYMENT_MODES, error=PAYMENT_MODE_ERROR)
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


# --- the portal's own events (deposit.events) -----------------------------------------------


class DepositOpenedEventSchema(PortalSchema):
    """Data of `deposit.deposit_opened`."""

    deposit_number = fields.String()
    member_number = fields.String()
    amount = Money()
    annual_rate = Percent()
    term_days = fields.Integer()
    opened_on = fields.Date()
    maturity_date = fields.Date()
    interest_payment = fields.String()


class DepositClosedEventSchema(PortalSchema):
    """Data of `deposit.deposit_closed`."""

    deposit_number = fields.String()
    member_number = fields.String()
    closed_on = fields.Date()
    reason = fields.String()
    renewed_as = fields.String(allow_none=True)
