"""What the credit service reads from the cooperative's core: the `data` of its events and the
bulk-load CSV rows (its own contract for the portal is services/credit/contracts.py)."""

from marshmallow import EXCLUDE, fields, validate, validates_schema
from marshmallow import ValidationError as MarshmallowValidationError

from services.common.fields import CoreMoney, CoreRate, Count, IsoDate
from services.common.schemas import PortalSchema
from services.credit.contracts import (
    APPROVED,
    DENIED,
    FREQUENCIES,
    IN_ANALYSIS,
    NOT_NEGATIVE,
    POSITIVE,
    SYSTEMS,
)

# --- inbound events of the core (docs/integration.md) ---------------------------------------
# `data` of the events on `core.events` that credit owns. Extra fields are welcome (EXCLUDE);
# a missing field, an amount with more than two decimals or a negative one is refused. The bulk
# load (loans.csv, installments.csv, guarantors.csv) reads the same columns with these schemas.

APPLICATION_DECISIONS = (IN_ANALYSIS, APPROVED, DENIED)


class CoreDataSchema(PortalSchema):
    class Meta:
        unknown = EXCLUDE


def _text(max_length, error):
    return fields.String(
        required=True, validate=validate.Length(min=1, max=max_length, error=error)
    )


LOAN_NUMBER = dict(max_length=16, error="Número de crédito inválido.")
MEMBER_NUMBER = dict(max_length=12, error="Número de socio inválido.")
SEQUENCE = validate.Range(min=1, error="Debe ser un entero mayor o igual a 1.")


class ScheduleRowSchema(CoreDataSchema):
    """One row of the core's amortization table (also a line of installments.csv)."""

    number = Count(required=True, validate=SEQUENCE)
    due_date = IsoDate(required=True)
    principal = CoreMoney(required=True, validate=NOT_NEGATIVE)
    interest = CoreMoney(required=True, validate=NOT_NEGATIVE)
    insurance = CoreMoney(required=True, validate=NOT_NEGATIVE)
    installment = CoreMoney(required=True, validate=NOT_NEGATIVE)
    balance = CoreMoney(required=True, validate=NOT_NEGATIVE)


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
    amount = CoreMoney(required=True, validate=POSITIVE)
    annual_rate = CoreRate(required=True)
    system = fields.String(
        required=True, validate=validate.OneOf(SYSTEMS, error="Sistema de amortización inválido.")
    )
    frequency = fields.String(
        required=True,
        validate=validate.OneOf(list(FREQUENCIES), error="Frecuencia de pago inválida."),
    )
    term_months = Count(
        required=True, validate=validate.Range(min=1, max=600, error="Plazo inválido.")
    )
    disbursed_on = IsoDate(required=True)
    application_number = fields.String(
        required=True,
        allow_none=True,
        validate=validate.Length(min=1, max=20, error="Número de solicitud inválido."),
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
    loan_sequence = Count(required=True, validate=SEQUENCE)
    number = Count(required=True, validate=SEQUENCE)
    paid_on = IsoDate(required=True)
    reference = _text(60, "Referencia inválida.")
    principal = CoreMoney(required=True, validate=NOT_NEGATIVE)
    interest = CoreMoney(required=True, validate=NOT_NEGATIVE)
    insurance = CoreMoney(required=True, validate=NOT_NEGATIVE)
    late_interest = CoreMoney(required=True, validate=NOT_NEGATIVE)


class LoanSettledSchema(CoreDataSchema):
    loan_number = _text(**LOAN_NUMBER)
    loan_sequence = Count(required=True, validate=SEQUENCE)
    settled_on = IsoDate(required=True)


class ApplicationStatusChangedSchema(CoreDataSchema):
    application_number = _text(20, "Número de solicitud inválido.")
    status = fields.String(
        required=True,
        validate=validate.OneOf(
            APPLICATION_DECISIONS, error="Estado inválido: en_analisis, aprobada o negada."
        ),
    )
    reason = fields.String(
        required=True,
        allow_none=True,
        validate=validate.Length(max=500, error="Como máximo 500 caracteres."),
    )
    changed_at = fields.AwareDateTime(required=True, format="iso")
