"""The credit service's RPC and event contract (also documents the gateway's JSON API)."""

from marshmallow import EXCLUDE, fields, validate, validates_schema
from marshmallow import ValidationError as MarshmallowValidationError

from services.common.fields import Count, IsoDate, Money, Rate
from services.common.schemas import PortalSchema
from services.credit.domain import FREQUENCIES, MAX_GUARANTORS, SYSTEMS

INSTANT = "%Y-%m-%dT%H:%M:%SZ"
POSITIVE = validate.Range(min=0, min_inclusive=False, error="Debe ser mayor que 0.")
NOT_NEGATIVE = validate.Range(min=0, error="No puede ser negativo.")


# --- requests -------------------------------------------------------------------------------


class SimulationRequestSchema(PortalSchema):
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


class ApplicationRequestSchema(SimulationRequestSchema):
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


class LoanSummarySchema(PortalSchema):
    loan_number = fields.String()
    product_code = fields.String()
    product_name = fields.String()
    amount = Money()
    annual_rate = Rate()
    term_months = fields.Integer()
    system = fields.String()
    frequency = fields.String()
    disbursed_on = fields.Date()
    status = fields.String()
    installments_count = fields.Integer()
    paid_installments = fields.Integer()
    outstanding_principal = Money()
    next_due_date = fields.Date(allow_none=True)
    next_installment = Money(allow_none=True)
    overdue_installments = fields.Integer()
    overdue_amount = Money()


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


class LoanPositionSchema(PortalSchema):
    """One loan of the consolidated position."""

    loan_number = fields.String()
    product_name = fields.String()
    amount = Money()
    outstanding_principal = Money()
    next_due_date = fields.Date(allow_none=True)
    next_installment = Money(allow_none=True)
    overdue_installments = fields.Integer()
    overdue_amount = Money()


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
    amount = Money()
    term_months = fields.Integer()
    submitted_at = fields.DateTime(format=INSTANT)


# --- inbound events of the core (docs/integration.md) ---------------------------------------
# `data` of the events on `core.events` that credit owns. Extra fields are welcome (EXCLUDE);
# a missing field, an amount with more than two decimals or a negative one is refused. The bulk
# load (loans.csv, installments.csv, guarantors.csv) reads the same columns with these schemas.

APPLICATION_DECISIONS = ("en_analisis", "aprobada", "negada")


class CoreDataSchema(PortalSchema):
    class Meta:
        unknown = EXCLUDE


def _text(max_length, error):
    return fields.String(
        required=True, validate=validate.Length(min=1, max=max_length, error=error)
    )


LOAN_NUMBER = dict(max_length=20, error="Número de crédito inválido.")
MEMBER_NUMBER = dict(max_length=12, error="Número de socio inválido.")
SEQUENCE = validate.Range(min=1, error="Debe ser un entero mayor o igual a 1.")
PERCENT = validate.Range(min=0, max=100, error="Debe ser un porcentaje entre 0 y 100.")


class ScheduleRowSchema(CoreDataSchema):
    """One row of the core's amortization table (also a line of installments.csv)."""

    number = fields.Integer(required=True, validate=SEQUENCE)
    due_date = IsoDate(required=True)
    principal = Money(required=True, validate=NOT_NEGATIVE)
    interest = Money(required=True, validate=NOT_NEGATIVE)
    insurance = Money(required=True, validate=NOT_NEGATIVE)
    installment = Money(required=True, validate=NOT_NEGATIVE)
    balance = Money(required=True, validate=NOT_NEGATIVE)


class InstallmentRowSchema(ScheduleRowSchema):
    """A line of installments.csv: a schedule row of a loan, `paid_on` set when it was paid."""

    loan_number = _text(**LOAN_NUMBER)
    paid_on = IsoDate(load_default=None, allow_none=True)


class GuarantorRowSchema(CoreDataSchema):
    """A line of guarantors.csv: a member who guarantees a loan."""

    loan_number = _text(**LOAN_NUMBER)
    member_number = _text(**MEMBER_NUMBER)


class LoanFieldsSchema(CoreDataSchema):
    """The loan itself, without its table (a line of loans.csv)."""

    loan_number = _text(**LOAN_NUMBER)
    member_number = _text(**MEMBER_NUMBER)
    product_code = _text(20, "Indique el producto.")
    amount = Money(required=True, validate=POSITIVE)
    annual_rate = fields.Decimal(required=True, validate=PERCENT)
    system = fields.String(
        required=True, validate=validate.OneOf(SYSTEMS, error="Sistema de amortización inválido.")
    )
    frequency = fields.String(
        required=True,
        validate=validate.OneOf(list(FREQUENCIES), error="Frecuencia de pago inválida."),
    )
    term_months = fields.Integer(
        required=True, validate=validate.Range(min=1, max=600, error="Plazo inválido.")
    )
    disbursed_on = IsoDate(required=True)
    application_number = fields.String(
        required=True, allow_none=True, validate=validate.Length(max=20)
    )


class LoanDisbursedSchema(LoanFieldsSchema):
    """`loan_disbursed`: the loan and the core's table, stored as sent (Σ principal = amount)."""

    guarantors = fields.List(
        fields.String(validate=validate.Length(min=1, max=12, error="Número de socio inválido.")),
        required=True,
    )
    schedule = fields.List(
        fields.Nested(ScheduleRowSchema),
        required=True,
        validate=validate.Length(min=1, error="La tabla de amortización está vacía."),
    )

    @validates_schema(skip_on_field_errors=True)
    def _table_adds_up(self, data, **kwargs):
        from services.credit.domain import schedule_errors

        errors = schedule_errors(data["amount"], data["schedule"])
        if errors:
            raise MarshmallowValidationError({"schedule": errors})


class InstallmentPaidSchema(CoreDataSchema):
    loan_number = _text(**LOAN_NUMBER)
    loan_sequence = fields.Integer(required=True, validate=SEQUENCE)
    number = fields.Integer(required=True, validate=SEQUENCE)
    paid_on = IsoDate(required=True)
    reference = _text(60, "Referencia inválida.")
    principal = Money(required=True, validate=NOT_NEGATIVE)
    interest = Money(required=True, validate=NOT_NEGATIVE)
    insurance = Money(required=True, validate=NOT_NEGATIVE)
    late_interest = Money(required=True, validate=NOT_NEGATIVE)


class LoanSettledSchema(CoreDataSchema):
    loan_number = _text(**LOAN_NUMBER)
    loan_sequence = fields.Integer(required=True, validate=SEQUENCE)
    settled_on = IsoDate(required=True)


class ApplicationStatusChangedSchema(CoreDataSchema):
    application_number = _text(20, "Número de solicitud inválido.")
    status = fields.String(
        required=True,
        validate=validate.OneOf(
            APPLICATION_DECISIONS, error="Estado inválido: en_analisis, aprobada o negada."
        ),
    )
    reason = fields.String(required=True, allow_none=True, validate=validate.Length(max=500))
    changed_at = fields.AwareDateTime(required=True, format="iso")


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
