"""What the deposit service publishes for others: its RPC payloads (they also document the
gateway's JSON API), the data of its events, the deposit row of the consolidated position and the
names of its interest payment modes. The only deposit module the gateway imports
(docs/architecture.md, "Contracts").

Error codes: its RPCs raise the shared errors of services/common/errors.py (a code and a Spanish
message; the gateway alone maps a code to an HTTP status): `validation_error`.
"""

from decimal import Decimal, InvalidOperation
from typing import Annotated, Protocol

from marshmallow import fields, validate

from services.common.fields import Count, IsoDate, Money
from services.common.operations import JSON, BulkLoadOperations, CoreInboundOperations, operation
from services.common.schemas import PortalSchema

# the interest payment modes, defined in codes.py (pure: the domain uses them) and published here
from services.deposit.codes import (  # noqa: F401
    MATURITY,
    MONTHLY,
    PAYMENT_MODE_NAMES,
    PAYMENT_MODES,
)

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


class DepositSimulationRequestSchema(PortalSchema):
    amount = DepositAmount(required=True)
    term_days = Count(required=True)
    interest_payment = fields.String(
        required=True, validate=validate.OneOf(PAYMENT_MODES, error=PAYMENT_MODE_ERROR)
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


class DepositPositionSchema(PortalSchema):
    """One deposit of the consolidated position (the gateway shows these fields)."""

    deposit_number = fields.String()
    amount = Money()
    annual_rate = Percent()
    opened_on = fields.Date()
    maturity_date = fields.Date()
    accrued_interest = Money()


class DepositSchema(DepositPositionSchema):
    term_days = fields.Integer()
    withholding_rate = Percent()
    interest_payment = fields.String()
    interest_payment_name = fields.String()
    days_left = fields.Integer()
    days_elapsed = fields.Integer()
    interest = Money()
    withholding = Money()
    net_interest = Money()
    total_at_maturity = Money()
    payments = fields.List(fields.Nested(PaymentSchema))
    payments_made = fields.List(fields.Nested(PaymentSchema))
    interest_paid = Money()
    next_payment = fields.Nested(PaymentSchema, allow_none=True)
    status = fields.String()


class RatesConfiguredEventSchema(RatesSchema):
    """Data of `deposit.rates_configured`."""


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


class DepositRpc(CoreInboundOperations, BulkLoadOperations, Protocol):
    """The deposit service's RPC operations (amounts as JSON strings, dates ISO)."""

    @operation
    def rates(self, as_of: str | None = None) -> Annotated[JSON, RatesSchema]: ...

    @operation
    def simulate(
        self,
        amount: str | None = None,
        term_days: int | str | None = None,
        interest_payment: str | None = None,
        start_date: str | None = None,
    ) -> Annotated[JSON, ProjectionSchema]: ...

    @operation
    def list_deposits(self, member_number: str) -> list[Annotated[JSON, DepositSchema]]: ...

    @operation
    def deposits_summary(
        self, member_number: str
    ) -> list[Annotated[JSON, DepositPositionSchema]]: ...

    @operation
    def deposits_summaries(
        self, member_numbers: list[str]
    ) -> dict[str, list[Annotated[JSON, DepositPositionSchema]]]: ...

    @operation
    def configure_rates(self, chart: JSON) -> Annotated[JSON, RatesConfiguredEventSchema]: ...
