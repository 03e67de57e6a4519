"""What the credit service publishes for others: its RPC payloads (they also document the
gateway's JSON API), the data of its events, the loan row of the consolidated position and the
display names of its codes. The only credit module the gateway imports (docs/architecture.md,
"Contracts").

Error codes: its RPCs raise the shared errors of services/common/errors.py (a code and a Spanish
message; the gateway alone maps a code to an HTTP status): `validation_error`, `not_found`,
`conflict` (an Idempotency-Key reused with other data).
"""

from typing import Annotated, Protocol

from marshmallow import fields, validate

from services.common.fields import Count, IsoDate, Money, Rate
from services.common.operations import JSON, BulkLoadOperations, CoreInboundOperations, operation
from services.common.schemas import PortalSchema

# codes and their Spanish names, defined in codes.py (pure: the domain uses them) and published here
from services.credit.codes import (  # noqa: F401
    APPROVED,
    DENIED,
    DISBURSED,
    FREQUENCIES,
    FREQUENCY_NAMES,
    IN_ANALYSIS,
    IN_PROCESS,
    MAX_GUARANTORS,
    STATUS_LABELS,
    SUBMITTED,
    SYSTEM_NAMES,
    SYSTEMS,
    WITHDRAWN,
)

INSTANT = "%Y-%m-%dT%H:%M:%SZ"
POSITIVE = validate.Range(min=0, min_inclusive=False, error="Debe ser mayor que 0.")
NOT_NEGATIVE = validate.Range(min=0, error="No puede ser negativo.")


# --- requests -------------------------------------------------------------------------------


class CreditSimulationRequestSchema(PortalSchema):
    """Body of POST /api/v1/credit/simulations (and the first part of an application)."""

    product_code = fields.String(
        required=True, validate=validate.Length(min=1, max=20, error="Indique el producto.")
    )
    amount = Money(required=True, validate=POSITIVE)
    term_months = Count(
        required=True,
        validate=validate.Range(min=1, max=600, error="Debe ser un número de meses entre 1 y 600."),
    )
    system = fields.String(
        required=True,
        validate=validate.OneOf(SYSTEMS, error="Sistema de amortización inválido."),
    )
    frequency = fields.String(
        required=True,
        validate=validate.OneOf(list(FREQUENCIES), error="Frecuencia de pago inválida."),
    )
    start_date = IsoDate(load_default=None, allow_none=True)


class GuarantorInputSchema(PortalSchema):
    identification = fields.String(
        required=True, validate=validate.Length(min=1, max=13, error="La cédula no es válida.")
    )
    name = fields.String(
        required=True,
        validate=validate.Length(min=3, max=160, error="Indique el nombre completo del garante."),
    )


class ApplicationRequestSchema(CreditSimulationRequestSchema):
    """Body of POST /api/v1/credit/applications."""

    purpose = fields.String(
        required=True,
        validate=validate.Length(min=3, max=300, error="Describa el destino del crédito."),
    )
    monthly_income = Money(required=True, validate=POSITIVE)
    monthly_expenses = Money(required=True, validate=NOT_NEGATIVE)
    guarantors = fields.List(
        fields.Nested(GuarantorInputSchema),
        load_default=list,
        validate=validate.Length(
            max=MAX_GUARANTORS, error=f"Puede registrar como máximo {MAX_GUARANTORS} garantes."
        ),
    )


# --- answers --------------------------------------------------------------------------------


class ProductSchema(PortalSchema):
    code = fields.String()
    name = fields.String()
    segment = fields.String()
    annual_rate = Rate()
    effective_annual_rate = Rate()
    min_amount = Money()
    max_amount = Money()
    max_term_months = fields.Integer()
    systems = fields.List(fields.String())
    frequencies = fields.List(fields.String())
    insurance_rate = Rate(places=4)


class ProductListSchema(PortalSchema):
    products = fields.List(fields.Nested(ProductSchema))


class RowSchema(PortalSchema):
    number = fields.Integer()
    due_date = fields.Date()
    principal = Money()
    interest = Money()
    insurance = Money()
    installment = Money()
    balance = Money()


class LoanRowSchema(RowSchema):
    status = fields.String()
    paid_on = fields.Date(allow_none=True)


class ScheduleSchema(PortalSchema):
    """docs/api.md's Schedule."""

    product_code = fields.String()
    product_name = fields.String()
    system = fields.String()
    frequency = fields.String()
    amount = Money()
    annual_rate = Rate()
    period_rate = Rate(places=4)
    insurance_rate = Rate(places=4)
    term_months = fields.Integer()
    installments_count = fields.Integer()
    effective_annual_rate = Rate()
    start_date = fields.Date()
    installment = Money()
    total_principal = Money()
    total_interest = Money()
    total_insurance = Money()
    total_payment = Money()
    rows = fields.List(fields.Nested(RowSchema))


class GuaranteeSchema(PortalSchema):
    loan_number = fields.String()
    product_name = fields.String()
    identification_masked = fields.String()
    name = fields.String()
    since = fields.Date()
    until = fields.Date(allow_none=True)
    status = fields.String()


class LoanPositionSchema(PortalSchema):
    """One loan of the consolidated position (the gateway shows these fields)."""

    loan_number = fields.String()
    product_name = fields.String()
    amount = Money()
    outstanding_principal = Money()
    next_due_date = fields.Date(allow_none=True)
    next_installment = Money(allow_none=True)
    overdue_installments = fields.Integer()
    overdue_amount = Money(metadata={"description": "suma de las cuotas vencidas"})
    # how late, as the core's latest loan_due_updated says (nulls when it sent none)
    days_overdue = fields.Integer(allow_none=True)
    oldest_overdue_due_date = fields.Date(
        allow_none=True, metadata={"description": "vencimiento de la cuota vencida más antigua"}
    )
    late_interest = Money(
        allow_none=True, metadata={"description": "interés de mora según la cooperativa"}
    )
    total_due = Money(
        allow_none=True, metadata={"description": "total a pagar hoy según la cooperativa"}
    )
    due_as_of = fields.Date(
        allow_none=True, metadata={"description": "fecha de la cooperativa de esos valores"}
    )


class LoanSummarySchema(LoanPositionSchema):
    product_code = fields.String()
    annual_rate = Rate()
    term_months = fields.Integer()
    system = fields.String()
    frequency = fields.String()
    disbursed_on = fields.Date()
    status = fields.String()
    installments_count = fields.Integer()
    paid_installments = fields.Integer()


class LoanListSchema(PortalSchema):
    loans = fields.List(fields.Nested(LoanSummarySchema))
    message = fields.String(allow_none=True)


class LoanSchema(LoanSummarySchema):
    """An active (or cancelled) loan with its stored amortization table."""

    period_rate = Rate(places=4)
    insurance_rate = Rate(places=4)
    effective_annual_rate = Rate()
    installment = Money()
    total_principal = Money()
    total_interest = Money()
    total_insurance = Money()
    total_payment = Money()
    rows = fields.List(fields.Nested(LoanRowSchema))
    guarantors = fields.List(fields.Nested(GuaranteeSchema))


class GuaranteesSchema(PortalSchema):
    guarantors = fields.List(fields.Nested(GuaranteeSchema))
    guaranteed_by_me = fields.List(fields.Nested(GuaranteeSchema))


class ApplicationGuarantorSchema(PortalSchema):
    identification_masked = fields.String()
    name = fields.String()


class StatusStepSchema(PortalSchema):
    status = fields.String()
    at = fields.DateTime(format=INSTANT)


class ApplicationSchema(PortalSchema):
    application_number = fields.String()
    status = fields.String()
    status_reason = fields.String(allow_none=True)
    loan_number = fields.String(allow_none=True)
    history = fields.List(fields.Nested(StatusStepSchema))
    submitted_at = fields.DateTime(format=INSTANT)
    product_code = fields.String()
    product_name = fields.String()
    amount = Money()
    term_months = fields.Integer()
    system = fields.String()
    frequency = fields.String()
    start_date = fields.Date()
    annual_rate = Rate()
    purpose = fields.String()
    monthly_income = Money()
    monthly_expenses = Money()
    installment = Money()
    guarantors = fields.List(fields.Nested(ApplicationGuarantorSchema))


class ApplicationListSchema(PortalSchema):
    applications = fields.List(fields.Nested(ApplicationSchema))


class ApplicationCreatedSchema(PortalSchema):
    """Answer of POST /api/v1/credit/applications (201)."""

    application_number = fields.String()
    status = fields.String()
    submitted_at = fields.DateTime(format=INSTANT)
    schedule = fields.Nested(ScheduleSchema)


class ApplicationSubmittedEventSchema(PortalSchema):
    """Data of `credit.application_submitted`."""

    application_number = fields.String()
    member_number = fields.String()
    email = fields.String()
    display_name = fields.String()
    product_code = fields.String()
    product_name = fields.String()
    amount = Money()
    term_months = fields.Integer()
    submitted_at = fields.DateTime(format=INSTANT)


class ApplicationWithdrawnEventSchema(PortalSchema):
    """Data of `credit.application_withdrawn`: the member gave up the application (for the
    core's credit desk to stop its analysis)."""

    application_number = fields.String()
    member_number = fields.String()
    withdrawn_at = fields.DateTime(format=INSTANT)


# --- the portal's own events (credit.events) ------------------------------------------------


class ApplicationStatusChangedEventSchema(PortalSchema):
    """Data of `credit.application_status_changed` (notifications e-mails the member)."""

    application_number = fields.String()
    member_number = fields.String()
    status = fields.String()
    reason = fields.String(allow_none=True)
    loan_number = fields.String(allow_none=True)
    changed_at = fields.DateTime(format=INSTANT)


class InstallmentPaidEventSchema(PortalSchema):
    """Data of `credit.installment_paid`."""

    loan_number = fields.String()
    member_number = fields.String()
    number = fields.Integer()
    paid_on = fields.Date()
    reference = fields.String()
    principal = Money()
    interest = Money()
    insurance = Money()
    late_interest = Money()
    outstanding_principal = Money()


class LoanSettledEventSchema(PortalSchema):
    """Data of `credit.loan_settled`."""

    loan_number = fields.String()
    member_number = fields.String()
    settled_on = fields.Date()


class LoanPaymentQuoteSchema(PortalSchema):
    """`loan_payment_quote`: what paying the loan online costs today (docs/credit.md)."""

    loan_number = fields.String()
    installment_numbers = fields.List(fields.Integer())
    installments_amount = Money()
    late_interest = Money()
    other_charges = Money()
    amount = Money()
    as_of = fields.Date(allow_none=True)
    days_overdue = fields.Integer()
    due_date = fields.Date()


class CreditRpc(CoreInboundOperations, BulkLoadOperations, Protocol):
    """The credit service's RPC operations; `data` is the request its schema names, as JSON."""

    @operation
    def list_products(self) -> Annotated[JSON, ProductListSchema]: ...

    @operation
    def simulate(self, data: JSON) -> Annotated[JSON, ScheduleSchema]: ...

    @operation
    def project_application(
        self, member_number: str, data: JSON
    ) -> Annotated[JSON, ScheduleSchema]: ...

    @operation
    def submit_application(
        self, member_number: str, data: JSON, idempotency_key: str | None = None
    ) -> Annotated[JSON, ApplicationCreatedSchema]: ...

    @operation
    def list_applications(self, member_number: str) -> Annotated[JSON, ApplicationListSchema]: ...

    @operation
    def withdraw_application(
        self, member_number: str, application_number: str
    ) -> Annotated[JSON, ApplicationSchema]: ...

    @operation
    def list_loans(self, member_number: str) -> Annotated[JSON, LoanListSchema]: ...

    @operation
    def get_loan(self, member_number: str, loan_number: str) -> Annotated[JSON, LoanSchema]: ...

    @operation
    def loans_summary(self, member_number: str) -> list[Annotated[JSON, LoanPositionSchema]]: ...

    @operation
    def loans_summaries(
        self, member_numbers: list[str]
    ) -> dict[str, list[Annotated[JSON, LoanPositionSchema]]]: ...

    @operation
    def guarantees(self, member_number: str) -> Annotated[JSON, GuaranteesSchema]: ...

    @operation
    def loan_payment_quote(
        self, member_number: str, loan_number: str
    ) -> Annotated[JSON, LoanPaymentQuoteSchema]: ...
