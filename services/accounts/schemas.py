"""What the accounts service reads from the cooperative's core: the `data` of its events and the
bulk-load CSV rows (its own contract for the portal is services/accounts/contracts.py)."""

from marshmallow import EXCLUDE, fields, validate, validates_schema
from marshmallow import ValidationError as MarshmallowValidationError

from services.accounts.domain import PRODUCT_NAMES
from services.common.fields import CoreMoney, Count, IsoDate
from services.common.schemas import PortalSchema

# --- inbound events of the core (docs/integration.md) -----------------------------------------
# The `data` of each core event, and the columns of the bulk-load CSV files of the same name.
# Extra fields are ignored (the core may add some); a missing or malformed one refuses the event.

PRODUCTS = tuple(PRODUCT_NAMES)  # the codes the core may send
MEMBER_STATUSES = ("activo", "inactivo")
MAX_RECONCILIATION_CHUNK = 1000


class CoreAmount(CoreMoney):
    """An amount from the core: a string with two decimals (never a JSON number), never
    negative."""

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
    return Count(  # a JSON integer: "3", 3.0 or true are refused
        required=True,
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
    email = fields.Email(
        required=True, validate=validate.Length(max=120, error="Como máximo 120 caracteres.")
    )
    phone = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=20, error="Como máximo 20 caracteres."),
    )
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
    # the portal's request this movement executes (a transfer, a loan payment): ends its hold.
    # Absent stays absent (a bulk-loaded movement never executes a request)
    request_id = fields.String(allow_none=True, validate=validate.Length(min=1, max=36))

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
