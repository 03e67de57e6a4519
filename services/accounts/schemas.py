"""The accounts service's RPC and event contract."""

from marshmallow import EXCLUDE, fields, validate, validates_schema
from marshmallow import ValidationError as MarshmallowValidationError

from services.common.fields import Count, IsoDate, Money
from services.common.schemas import PortalSchema


class MemberSchema(PortalSchema):
    member_number = fields.String()
    identification_masked = fields.String()
    given_names = fields.String()
    surnames = fields.String()
    display_name = fields.String()
    email = fields.String()
    email_masked = fields.String()
    phone = fields.String(allow_none=True)
    joined_on = fields.Date()
    status = fields.String()


class AccountSchema(PortalSchema):
    account_number = fields.String()
    product = fields.String()
    product_name = fields.String()
    balance = Money()
    available_balance = Money()
    status = fields.String()
    opened_on = fields.Date()


class MovementSchema(PortalSchema):
    date = fields.Date()
    posted_at = fields.DateTime(format="%Y-%m-%dT%H:%M:%SZ")
    description = fields.String()
    reference = fields.String(allow_none=True)
    debit = Money()
    credit = Money()
    balance = Money()


class StatementSchema(PortalSchema):
    account_number = fields.String()
    product_name = fields.String()
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    opening_balance = Money()
    closing_balance = Money()
    total_debits = Money()
    total_credits = Money()
    movements = fields.List(fields.Nested(MovementSchema))
    page = fields.Integer()
    page_size = fields.Integer()
    total_movements = fields.Integer()
    total_pages = fields.Integer()


class DailyBalanceSchema(PortalSchema):
    date = fields.Date()
    balance = Money()


class DailyBalancesSchema(PortalSchema):
    """The balance line of a statement range: one point per day with movements."""

    account_number = fields.String()
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    opening_balance = Money()
    days = fields.List(fields.Nested(DailyBalanceSchema))


class StatementQuerySchema(PortalSchema):
    """What a caller may ask of a statement (dates, page); rules beyond types are in domain.py."""

    from_ = IsoDate(data_key="from", required=True)
    to = IsoDate(required=True)
    page = Count(load_default=1, validate=validate.Range(min=1, error="Debe ser 1 o mayor."))
    page_size = Count(
        load_default=100,
        validate=validate.Range(min=1, max=5000, error="Debe estar entre 1 y 5000."),
    )


class VerifyMemberSchema(PortalSchema):
    member_number = fields.String(required=True)
    identification = fields.String(required=True)
    first_name = fields.String(required=True)
    last_name = fields.String(required=True)
    email = fields.String(required=True)


class PostMovementSchema(PortalSchema):
    account_number = fields.String(required=True)
    date = IsoDate(required=True)
    description = fields.String(required=True, validate=validate.Length(min=1, max=120))
    reference = fields.String(load_default=None, validate=validate.Length(max=40))
    debit = Money(load_default=None)
    credit = Money(load_default=None)


class MovementPostedEventSchema(PortalSchema):
    """Data of `accounts.movement_posted`."""

    account_number = fields.String()
    member_number = fields.String()
    date = fields.Date()
    description = fields.String()
    reference = fields.String(allow_none=True)
    debit = Money()
    credit = Money()
    balance = Money()


# --- inbound events of the core (docs/integration.md) -----------------------------------------
# The `data` of each core event, and the columns of the bulk-load CSV files of the same name.
# Extra fields are ignored (the core may add some); a missing or malformed one refuses the event.

PRODUCTS = ("AHORRO_VISTA", "AHORRO_PROGRAMADO", "CERTIFICADOS")
MEMBER_STATUSES = ("activo", "inactivo")
MAX_RECONCILIATION_CHUNK = 1000


class CoreAmount(Money):
    """An amount from the core: a string with at most two decimals, never negative."""

    default_error_messages = {"negative": "El monto no puede ser negativo."}

    def _deserialize(self, value, attr, data, **kwargs):
        amount = super()._deserialize(value, attr, data, **kwargs)
        if amount < 0:
            raise self.make_error("negative")
        return amount


class CoreSchema(PortalSchema):
    class Meta:
        unknown = EXCLUDE


def _text(max_length, **kwargs):
    return fields.String(
        required=True,
        validate=validate.Length(
            min=1, max=max_length, error=f"Entre 1 y {max_length} caracteres."
        ),
        **kwargs,
    )


def _sequence(minimum=1):
    return fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(
            min=minimum, error=f"Debe ser un entero mayor o igual a {minimum}."
        ),
    )


class MemberUpsertedSchema(CoreSchema):
    """`member_upserted` / members.csv."""

    member_number = _text(12)
    identification = _text(13)
    first_names = _text(80)
    last_names = _text(80)
    email = fields.Email(required=True, validate=validate.Length(max=120))
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))
    status = fields.String(
        required=True,
        validate=validate.OneOf(MEMBER_STATUSES, error="Debe ser activo o inactivo."),
    )


class AccountOpenedSchema(CoreSchema):
    """`account_opened` / accounts.csv."""

    account_number = _text(16)
    member_number = _text(12)
    product = fields.String(
        required=True,
        validate=validate.OneOf(
            PRODUCTS, error="Producto desconocido: " + ", ".join(PRODUCTS) + "."
        ),
    )
    opened_on = IsoDate(required=True)


class CoreMovementSchema(CoreSchema):
    """`movement_posted` / movements.csv: one of debit and credit is 0.00, balance is after it."""

    account_number = _text(16)
    sequence = _sequence()
    date = IsoDate(required=True)
    posted_at = fields.DateTime(required=True, format="iso")
    description = _text(120)
    reference = _text(40)
    debit = CoreAmount(required=True)
    credit = CoreAmount(required=True)
    balance = CoreAmount(required=True)

    @validates_schema
    def _one_side(self, data, **kwargs):
        debit, credit = data.get("debit"), data.get("credit")
        if debit is None or credit is None:
            return
        if (debit > 0) == (credit > 0):
            raise MarshmallowValidationError(
                "Exactamente uno de débito o crédito debe ser mayor que 0.00.", "debit"
            )


class AccountClosedSchema(CoreSchema):
    """`account_closed`."""

    account_number = _text(16)
    closed_on = IsoDate(required=True)


class ReconciledAccountSchema(CoreSchema):
    account_number = _text(16)
    balance = CoreAmount(required=True)
    last_sequence = _sequence(minimum=0)


class DayClosedSchema(CoreSchema):
    """`day_closed`: the core's balances at the end of a business day, in chunks."""

    business_date = IsoDate(required=True)
    chunk = _sequence()
    chunks = _sequence()
    accounts = fields.List(
        fields.Nested(ReconciledAccountSchema),
        required=True,
        validate=validate.Length(
            max=MAX_RECONCILIATION_CHUNK,
            error=f"Como máximo {MAX_RECONCILIATION_CHUNK} cuentas por parte.",
        ),
    )

    @validates_schema
    def _chunk_in_range(self, data, **kwargs):
        if data.get("chunk") and data.get("chunks") and data["chunk"] > data["chunks"]:
            raise MarshmallowValidationError("La parte no puede ser mayor que el total.", "chunk")


class MemberUpdatedEventSchema(PortalSchema):
    """Data of `accounts.member_updated` (no identification, no phone, no secrets)."""

    member_number = fields.String()
    email = fields.String()
    status = fields.String()
    given_names = fields.String()
    surnames = fields.String()


class ReconciliationFailedEventSchema(PortalSchema):
    """Data of `accounts.reconciliation_failed`."""

    business_date = fields.Date()
    differences = fields.Integer()
