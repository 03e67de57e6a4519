"""What the accounts service publishes for others: its RPC payloads, the data of its events and
the savings row of the consolidated position. The only accounts module the gateway imports
(docs/architecture.md, "Contracts").

Error codes: its RPCs raise the shared errors of services/common/errors.py (a code and a Spanish
message; the gateway alone maps a code to an HTTP status): `validation_error`, `not_found`.
"""

from collections.abc import Mapping
from typing import Annotated, Any, Protocol

from marshmallow import fields, validate

from services.accounts.domain import SHARES
from services.common.fields import Count, IsoDate, Money
from services.common.money import fmt
from services.common.operations import (
    JSON,
    BulkLoadOperations,
    CoreInboundOperations,
    operation,
)
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


# certificados de aportación: the member's capital in the cooperative, shown apart from savings,
# never available to withdraw or move (docs/domain.md)
SHARES_PRODUCT = SHARES


class SharePositionSchema(PortalSchema):
    """One account of certificados de aportación in the consolidated position."""

    account_number = fields.String()
    product_name = fields.String()
    balance = Money()


class AvailableMoney(Money):
    """The saldo disponible: balance − open holds, kept on the row under the account's lock;
    CERTIFICADOS (the member's capital, never debited by an order) have none."""

    def serialize(self, attr, obj, accessor=None, **kwargs):
        if self.get_value(obj, "product", accessor) == "CERTIFICADOS":
            return "0.00"
        return super().serialize(attr, obj, accessor, **kwargs)


class SavingsPositionSchema(PortalSchema):
    """One savings account of the consolidated position (the gateway shows these fields)."""

    account_number = fields.String()
    product = fields.String()
    product_name = fields.String()
    balance = Money()
    available_balance = AvailableMoney()


class AccountSchema(SavingsPositionSchema):
    status = fields.String()
    opened_on = fields.Date()


class MovementSchema(PortalSchema):
    date = fields.Date()
    posted_at = fields.DateTime(format="%Y-%m-%dT%H:%M:%SZ")
    description = fields.String()
    reference = fields.String(allow_none=True)
    debit = Money()
    credit = Money()
    balance = Money(metadata={"description": "saldo después del movimiento"})


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


# the order of a statement's movements: oldest first (a statement as printed) or newest first
OLDEST_FIRST, NEWEST_FIRST = "asc", "desc"
STATEMENT_ORDERS = (OLDEST_FIRST, NEWEST_FIRST)
ORDER_ERROR = "Use asc (los más antiguos primero) o desc (los más recientes primero)."


class StatementQuerySchema(PortalSchema):
    """What a caller may ask of a statement (dates, page, order); rules beyond types are in
    domain.py."""

    from_ = IsoDate(data_key="from", required=True)
    to = IsoDate(required=True)
    page = Count(load_default=1, validate=validate.Range(min=1, error="Debe ser 1 o mayor."))
    page_size = Count(
        load_default=100,
        validate=validate.Range(min=1, max=5000, error="Debe estar entre 1 y 5000."),
    )
    order = fields.String(
        load_default=OLDEST_FIRST, validate=validate.OneOf(STATEMENT_ORDERS, error=ORDER_ERROR)
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


class TakeHoldSchema(PortalSchema):
    """`take_hold`: reserve `amount` of the member's account for the order `request_id`."""

    request_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    account_number = fields.String(required=True, validate=validate.Length(min=1, max=16))
    member_number = fields.String(required=True, validate=validate.Length(min=1, max=12))
    amount = Money(required=True, validate=validate.Range(min=0, min_inclusive=False))


class ReleaseHoldSchema(PortalSchema):
    request_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=40))


class HoldSchema(PortalSchema):
    """The answer of take_hold / release_hold. `status`: `taken` (open), `ended` (the core's
    movement or a release ended it), `refused` (nothing reserved: `reason_code` says why,
    `fondos_insuficientes` or `cuenta_no_disponible`), `unknown` (release of no hold)."""

    request_id = fields.String()
    status = fields.String()
    account_number = fields.String(allow_none=True)
    amount = Money(allow_none=True)
    available_balance = Money(allow_none=True)
    end_reason = fields.String(allow_none=True)
    reason_code = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)


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
    # the portal's request (transfer, loan payment) the core executed with it, else null
    request_id = fields.String(allow_none=True, load_default=None)


class MemberUpdatedEventSchema(PortalSchema):
    """Data of `accounts.member_updated` (no identification, no phone, no secrets)."""

    member_number = fields.String()
    email = fields.String()
    status = fields.String()
    given_names = fields.String()
    surnames = fields.String()


class MemberEmailChangedEventSchema(PortalSchema):
    """Data of `accounts.member_email_changed`: the core replaced the member's e-mail. The old
    address is whole (the notice goes there); the new one is masked (nobody outside needs it)."""

    member_number = fields.String()
    display_name = fields.String()
    old_email = fields.String()
    new_email_masked = fields.String()
    changed_at = fields.String(metadata={"description": "UTC instant the portal applied it"})


class ReconciliationFailedEventSchema(PortalSchema):
    """Data of `accounts.reconciliation_failed`."""

    business_date = fields.Date()
    differences = fields.Integer()


class AccountsRpc(CoreInboundOperations, BulkLoadOperations, Protocol):
    """The accounts service's RPC operations (docs/api.md); dates and money travel as JSON
    strings (ISO dates, "2500.00")."""

    @operation
    def verify_member(
        self,
        member_number: str | None,
        identification: str | None,
        first_name: str | None,
        last_name: str | None,
        email: str | None,
    ) -> JSON: ...

    @operation
    def is_member_identification(self, member_number: str, identification: str | None) -> bool: ...

    @operation
    def get_member(self, member_number: str) -> Annotated[JSON, MemberSchema]: ...

    @operation
    def overview(self, member_number: str) -> JSON: ...

    @operation
    def overviews(self, member_numbers: list[str]) -> dict[str, JSON]: ...

    @operation
    def list_accounts(self, member_number: str) -> list[Annotated[JSON, AccountSchema]]: ...

    @operation
    def get_statement(
        self,
        member_number: str,
        account_number: str,
        date_from: str | None,
        date_to: str | None,
        page: int | str | None = 1,
        page_size: int | str | None = 100,
        order: str | None = "asc",
    ) -> Annotated[JSON, StatementSchema]: ...

    @operation
    def daily_balances(
        self, member_number: str, account_number: str, date_from: str, date_to: str
    ) -> Annotated[JSON, DailyBalancesSchema]: ...

    @operation
    def post_movement(
        self,
        account_number: str,
        date: str,
        description: str,
        reference: str | None = None,
        debit: str | None = None,
        credit: str | None = None,
    ) -> Annotated[JSON, MovementPostedEventSchema]: ...

    @operation
    def take_hold(
        self, request_id: str, account_number: str, member_number: str, amount: str
    ) -> Annotated[JSON, HoldSchema]: ...

    @operation
    def release_hold(self, request_id: str, reason: str) -> Annotated[JSON, HoldSchema]: ...

    @operation
    def get_hold(self, request_id: str) -> Annotated[JSON, HoldSchema]: ...

    @operation
    def transfer_destination(self, account_number: str, identification: str) -> JSON | None: ...

    @operation
    def reconciliation(self, business_date: str | None = None) -> JSON: ...

    @operation
    def redo_reconciliation(self, business_date: str) -> JSON: ...


def movement_posted(
    account_number: str, member_number: str, movement: Mapping[Any, Any]
) -> dict[str, Any]:
    """The data of `accounts.movement_posted` (MovementPostedEventSchema's shape) for a movement
    written to the account: built here once for every way a movement is written, by hand since
    it runs for every movement (`test_movement_posted_is_its_schemas_dump` holds the two equal)."""
    return {
        "account_number": account_number,
        "member_number": member_number,
        "date": movement["date"].isoformat(),
        "description": movement["description"],
        "reference": movement["reference"],
        "debit": fmt(movement["debit"]),
        "credit": fmt(movement["credit"]),
        "balance": fmt(movement["balance"]),
        "request_id": movement.get("request_id"),
    }
