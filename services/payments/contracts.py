"""What the payments service publishes for others: its RPC payloads and the data of its events
(docs/payments.md, docs/events.md). The only payments module the gateway imports.

Error codes: `validation_error` (422), `not_found`, `conflict` (an order no longer
`por_confirmar`; a loan with a payment under way), `quote_changed` (a loan payment's quote
moved), `service_unavailable` (the second factor of orders is not available).
"""

from typing import Annotated, Protocol

from marshmallow import fields, validate

from services.common.fields import Money
from services.common.operations import JSON, InboundOperations, operation
from services.common.schemas import PortalSchema

METHODS = ("totp", "email_code")
OUTCOMES = ("completed", "rejected")


class CreateTransferSchema(PortalSchema):
    member_number = fields.String(required=True, validate=validate.Length(min=1, max=12))
    from_account = fields.String(required=True, validate=validate.Length(min=1, max=16))
    to_account = fields.String(load_default=None, validate=validate.Length(min=1, max=16))
    beneficiary_id = fields.String(load_default=None, validate=validate.Length(min=1, max=36))
    amount = Money(required=True)
    description = fields.String(
        load_default="",
        validate=validate.Length(max=60, error="La descripción admite hasta 60 caracteres."),
    )
    client_ip = fields.String(load_default=None, allow_none=True)
    session_id = fields.String(load_default=None, allow_none=True)
    user_agent = fields.String(load_default=None, allow_none=True)
    channel = fields.String(load_default=None, allow_none=True)


class ConfirmSchema(PortalSchema):
    member_number = fields.String(required=True)
    order_id = fields.String(required=True)
    method = fields.String(
        required=True,
        validate=validate.OneOf(
            METHODS,
            error="Confirme con el código de su aplicación o el enviado a su correo "
            "(los códigos de recuperación no confirman órdenes).",
        ),
    )
    code = fields.String(required=True, validate=validate.Length(min=1, max=20))


class ConfirmationSchema(PortalSchema):
    challenge_id = fields.String()
    methods = fields.List(fields.String())
    challenge_expires_at = fields.String(allow_none=True)


class StepSchema(PortalSchema):
    """One state an order went through and when (UTC)."""

    status = fields.String()
    at = fields.DateTime(format="%Y-%m-%dT%H:%M:%SZ")


class TransferSchema(PortalSchema):
    """A transfer as the member sees it (the destination masked)."""

    transfer_id = fields.String(attribute="id")
    request_id = fields.String()
    kind = fields.String()
    from_account = fields.String()
    to_account_masked = fields.String()
    amount = Money()
    description = fields.String()
    status = fields.String()
    reason_code = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    core_reference = fields.String(allow_none=True)
    created_at = fields.DateTime(format="%Y-%m-%dT%H:%M:%SZ")
    confirmed_at = fields.DateTime(format="%Y-%m-%dT%H:%M:%SZ", allow_none=True)
    sent_at = fields.DateTime(format="%Y-%m-%dT%H:%M:%SZ", allow_none=True)
    answered_at = fields.DateTime(format="%Y-%m-%dT%H:%M:%SZ", allow_none=True)
    # each state it went through and when, oldest first (the order's detail)
    timeline = fields.List(fields.Nested(StepSchema))
    # at creation only: the second-factor step that confirms it (API "Money-moving orders")
    confirmation = fields.Nested(ConfirmationSchema)


class CreateLoanPaymentSchema(PortalSchema):
    """A loan payment: the quote the member saw (`GET …/loans/{n}/payment`) and the account."""

    member_number = fields.String(required=True, validate=validate.Length(min=1, max=12))
    loan_number = fields.String(required=True, validate=validate.Length(min=1, max=16))
    from_account = fields.String(required=True, validate=validate.Length(min=1, max=16))
    amount = Money(required=True)
    installment_numbers = fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=1)),
        required=True,
        validate=validate.Length(min=1, max=60),
    )
    as_of = fields.Date(required=True, allow_none=True)
    client_ip = fields.String(load_default=None, allow_none=True)
    session_id = fields.String(load_default=None, allow_none=True)
    user_agent = fields.String(load_default=None, allow_none=True)
    channel = fields.String(load_default=None, allow_none=True)


class LoanPaymentSchema(PortalSchema):
    """A loan payment as the member sees it: the quote confirmed and where the order stands."""

    payment_id = fields.String(attribute="id")
    request_id = fields.String()
    kind = fields.String()
    loan_number = fields.String()
    from_account = fields.String()
    installment_numbers = fields.List(fields.Integer())
    installments_amount = Money()
    late_interest = Money()
    other_charges = Money()
    amount = Money()
    as_of = fields.Date(allow_none=True)
    status = fields.String()
    reason_code = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    core_reference = fields.String(allow_none=True)
    created_at = fields.DateTime(format="%Y-%m-%dT%H:%M:%SZ")
    confirmed_at = fields.DateTime(format="%Y-%m-%dT%H:%M:%SZ", allow_none=True)
    sent_at = fields.DateTime(format="%Y-%m-%dT%H:%M:%SZ", allow_none=True)
    answered_at = fields.DateTime(format="%Y-%m-%dT%H:%M:%SZ", allow_none=True)
    # at creation only: the second-factor step that confirms it
    confirmation = fields.Nested(ConfirmationSchema)


class LimitsSchema(PortalSchema):
    per_transfer = Money(required=True)
    daily_to_others = Money(required=True)


class LimitsViewSchema(PortalSchema):
    per_transfer = Money()
    daily_to_others = Money()
    used_today = Money()
    cooperative_max = fields.Nested(LimitsSchema)


class LimitChangeSchema(PortalSchema):
    """A raise of the limits: `por_confirmar` (with `confirmation` at creation), then
    `confirmada` (with the `limits` now in effect) or `anulada`."""

    change_id = fields.String(attribute="id")
    per_transfer = Money()
    daily_to_others = Money()
    status = fields.String()
    created_at = fields.DateTime(format="%Y-%m-%dT%H:%M:%SZ")
    confirmed_at = fields.DateTime(format="%Y-%m-%dT%H:%M:%SZ", allow_none=True)
    confirmation = fields.Nested(ConfirmationSchema)
    limits = fields.Nested(LimitsViewSchema)


class CreateBeneficiarySchema(PortalSchema):
    member_number = fields.String(required=True)
    alias = fields.String(required=True, validate=validate.Length(min=1, max=40))
    account_number = fields.String(required=True, validate=validate.Length(min=1, max=16))
    identification = fields.String(required=True, validate=validate.Length(min=1, max=13))


class BeneficiarySchema(PortalSchema):
    beneficiary_id = fields.String(attribute="id")
    alias = fields.String()
    account_number_masked = fields.String()
    holder_name_masked = fields.String()
    status = fields.String()
    created_at = fields.DateTime(format="%Y-%m-%dT%H:%M:%SZ")
    # at creation only: the second-factor step that confirms it
    confirmation = fields.Nested(ConfirmationSchema)


class PendingRequestSchema(PortalSchema):
    """`requests --pending`: what operators need to ask the core (no third party in full)."""

    order_id = fields.String(attribute="id")
    request_id = fields.String()
    request_type = fields.String()
    member_number = fields.String()
    from_account = fields.String()
    to_account_masked = fields.String()
    amount = Money()
    status = fields.String()
    sent_at = fields.DateTime(format="%Y-%m-%dT%H:%M:%SZ", allow_none=True)
    valid_until = fields.DateTime(format="%Y-%m-%dT%H:%M:%SZ", allow_none=True)


class ResolveSchema(PortalSchema):
    order_id = fields.String(required=True)
    outcome = fields.String(
        required=True,
        validate=validate.OneOf(OUTCOMES, error="Indique completed o rejected."),
    )
    operator = fields.String(required=True, validate=validate.Length(min=1, max=80))
    note = fields.String(load_default="", validate=validate.Length(max=200))


class OrderEventSchema(PortalSchema):
    """Data of `payments.order_*` events: no code, no secret, the destination masked."""

    order_id = fields.String()
    request_id = fields.String()
    request_type = fields.String()
    member_number = fields.String()
    kind = fields.String()
    from_account = fields.String()
    to_account_masked = fields.String()
    amount = Money()
    status = fields.String()
    reason_code = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    confirmed_with = fields.String(allow_none=True)
    alert = fields.String(allow_none=True)
    # the core's reference of a completed order (the member's receipt, e-mail and SMS name it)
    core_reference = fields.String(allow_none=True)
    # each state's time so far (UTC): the order's evidence, and the time its e-mail names
    created_at = fields.DateTime(format="%Y-%m-%dT%H:%M:%SZ", allow_none=True)
    confirmed_at = fields.DateTime(format="%Y-%m-%dT%H:%M:%SZ", allow_none=True)
    sent_at = fields.DateTime(format="%Y-%m-%dT%H:%M:%SZ", allow_none=True)
    late_at = fields.DateTime(format="%Y-%m-%dT%H:%M:%SZ", allow_none=True)
    answered_at = fields.DateTime(format="%Y-%m-%dT%H:%M:%SZ", allow_none=True)
    cancelled_at = fields.DateTime(format="%Y-%m-%dT%H:%M:%SZ", allow_none=True)
    # where it was created and confirmed from, and what was confirmed (EvidenceSchema's)
    evidence = fields.Dict(allow_none=True)


class WhereFromSchema(PortalSchema):
    at = fields.String()
    session_id = fields.String(allow_none=True)
    client_ip = fields.String(allow_none=True)
    device = fields.String(allow_none=True)
    channel = fields.String(allow_none=True)
    method = fields.String(allow_none=True)


class ShownSchema(PortalSchema):
    kind = fields.String()
    amount = fields.String()
    from_account = fields.String()
    to_account_masked = fields.String()
    description = fields.String()
    digest = fields.String()


class EvidenceSchema(PortalSchema):
    """An order's evidence for operators (`order_evidence`, `portal requests evidence ID`):
    who, from which session, address and device, with which method, what was shown and
    confirmed, and each state's time. No code, no secret, a third party's account masked."""

    order_id = fields.String(attribute="id")
    request_id = fields.String()
    request_type = fields.String()
    member_number = fields.String()
    status = fields.String()
    reason_code = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    core_reference = fields.String(allow_none=True)
    confirmed_with = fields.String(allow_none=True)
    resolved_by = fields.String(allow_none=True)
    created = fields.Nested(WhereFromSchema, allow_none=True)
    confirmed = fields.Nested(WhereFromSchema, allow_none=True)
    shown = fields.Nested(ShownSchema, allow_none=True)
    timeline = fields.List(fields.Nested(StepSchema))


class PaymentsRpc(InboundOperations, Protocol):
    """The payments service's RPC operations (docs/payments.md); amounts as JSON strings."""

    @operation
    def create_transfer(
        self,
        member_number: str | None = None,
        from_account: str | None = None,
        to_account: str | None = None,
        beneficiary_id: str | None = None,
        amount: str | None = None,
        description: str | None = "",
        client_ip: str | None = None,
        session_id: str | None = None,
        idempotency_key: str | None = None,
        user_agent: str | None = None,
        channel: str | None = None,
    ) -> Annotated[JSON, TransferSchema]: ...

    @operation
    def confirm_transfer(
        self,
        member_number: str | None = None,
        order_id: str | None = None,
        method: str | None = None,
        code: str | None = None,
        client_ip: str | None = None,
        session_id: str | None = None,
        user_agent: str | None = None,
        channel: str | None = None,
    ) -> Annotated[JSON, TransferSchema]: ...

    @operation
    def list_transfers(self, member_number: str) -> JSON:
        """`{"transfers": [TransferSchema]}`"""
        ...

    @operation
    def get_transfer(
        self, member_number: str, order_id: str
    ) -> Annotated[JSON, TransferSchema]: ...

    @operation
    def create_loan_payment(
        self,
        member_number: str | None = None,
        loan_number: str | None = None,
        from_account: str | None = None,
        amount: str | None = None,
        installment_numbers: list[int] | None = None,
        as_of: str | None = None,
        client_ip: str | None = None,
        session_id: str | None = None,
        idempotency_key: str | None = None,
        user_agent: str | None = None,
        channel: str | None = None,
    ) -> Annotated[JSON, LoanPaymentSchema]: ...

    @operation
    def confirm_loan_payment(
        self,
        member_number: str | None = None,
        order_id: str | None = None,
        method: str | None = None,
        code: str | None = None,
        client_ip: str | None = None,
        session_id: str | None = None,
        user_agent: str | None = None,
        channel: str | None = None,
    ) -> Annotated[JSON, LoanPaymentSchema]: ...

    @operation
    def list_loan_payments(self, member_number: str) -> JSON:
        """`{"transfers": [LoanPaymentSchema]}`"""
        ...

    @operation
    def get_loan_payment(
        self, member_number: str, order_id: str
    ) -> Annotated[JSON, LoanPaymentSchema]: ...

    @operation
    def list_orders(self, member_number: str) -> JSON:
        """Every kind of order, newest first: `{"transfers": [...]}`"""
        ...

    @operation
    def get_order(self, member_number: str, order_id: str) -> JSON: ...

    @operation
    def confirm_order(
        self,
        member_number: str | None = None,
        order_id: str | None = None,
        method: str | None = None,
        code: str | None = None,
        client_ip: str | None = None,
        session_id: str | None = None,
        user_agent: str | None = None,
        channel: str | None = None,
    ) -> JSON: ...

    @operation
    def get_limits(self, member_number: str) -> Annotated[JSON, LimitsViewSchema]: ...

    @operation
    def lower_limits(
        self,
        member_number: str,
        per_transfer: str | None = None,
        daily_to_others: str | None = None,
    ) -> Annotated[JSON, LimitsViewSchema]: ...

    @operation
    def change_limits(
        self,
        member_number: str,
        per_transfer: str | None = None,
        daily_to_others: str | None = None,
    ) -> JSON:
        """Lowered: LimitsViewSchema; raised: LimitChangeSchema `por_confirmar`."""
        ...

    @operation
    def get_limit_change(
        self, member_number: str, change_id: str
    ) -> Annotated[JSON, LimitChangeSchema]: ...

    @operation
    def confirm_limit_change(
        self,
        member_number: str | None = None,
        change_id: str | None = None,
        method: str | None = None,
        code: str | None = None,
    ) -> Annotated[JSON, LimitChangeSchema]: ...

    @operation
    def list_beneficiaries(self, member_number: str) -> JSON:
        """`{"beneficiaries": [BeneficiarySchema], …}`"""
        ...

    @operation
    def add_beneficiary(
        self,
        member_number: str | None = None,
        alias: str | None = None,
        account_number: str | None = None,
        identification: str | None = None,
        idempotency_key: str | None = None,
    ) -> Annotated[JSON, BeneficiarySchema]: ...

    @operation
    def confirm_beneficiary(
        self,
        member_number: str | None = None,
        beneficiary_id: str | None = None,
        method: str | None = None,
        code: str | None = None,
    ) -> Annotated[JSON, BeneficiarySchema]: ...

    @operation
    def delete_beneficiary(
        self, member_number: str | None = None, beneficiary_id: str | None = None
    ) -> None: ...

    @operation
    def pending_requests(self) -> JSON:
        """`{"requests": [PendingRequestSchema]}`"""
        ...

    @operation
    def order_evidence(self, order_id: str | None = None) -> Annotated[JSON, EvidenceSchema]: ...

    @operation
    def resolve_request(
        self,
        order_id: str | None = None,
        outcome: str | None = None,
        operator: str | None = None,
        note: str | None = "",
    ) -> Annotated[JSON, TransferSchema]: ...

    @operation
    def sweep(self) -> JSON: ...
