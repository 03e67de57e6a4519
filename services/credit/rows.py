"""The credit service's files of the bulk load (loans.csv, installments.csv, guarantors.csv,
loan_dues.csv; docs/integration.md): each row checked by the schema of the inbound event it
stands for (schemas.py), so a CSV row and an event are held to the same rules
(services/common/core_data.py).
"""

from services.common.core_data import Parsed, Parser, RawRow, SchemaParser
from services.credit.schemas import (
    GuarantorRowSchema,
    InstallmentRowSchema,
    LoanDueUpdatedSchema,
    LoanFieldsSchema,
)

_parse_loan = SchemaParser(
    LoanFieldsSchema,
    ints=("term_months",),
    optional=("application_number",),
    extra_dates=("settled_on",),
)
parse_installment = SchemaParser(InstallmentRowSchema, ints=("number",), optional=("paid_on",))
parse_guarantor = SchemaParser(GuarantorRowSchema)
_parse_loan_due = SchemaParser(LoanDueUpdatedSchema, ints=("days_overdue",))


def parse_loan_due(raw: RawRow) -> Parsed:
    """loan_dues.csv: `loan_due_updated`'s fields, the installment numbers space-separated."""
    numbers = (raw.get("overdue_installments") or "").split()
    if not all(n.isdigit() and len(n) < 10 for n in numbers):
        return None, ["overdue_installments: números de cuota separados por espacios."]
    data: dict[str, object] = {**raw, "overdue_installments": [int(n) for n in numbers]}
    return _parse_loan_due(data)  # type: ignore[arg-type]


def parse_loan(raw: RawRow) -> Parsed:
    """loans.csv: `loan_disbursed`'s fields, plus `settled_on` (a cancelled loan) and
    `loan_sequence`: the last one the core applied to the loan (empty: 0), so its next
    `installment_paid` / `loan_settled` event follows on."""
    clean, errors = _parse_loan(raw)
    sequence = raw.get("loan_sequence") or "0"
    if not (sequence.isdigit() and len(sequence) < 10):
        errors = [*errors, "loan_sequence: Debe ser un entero mayor o igual a 0."]
    if errors:
        return None, errors
    assert clean is not None  # no errors: clean
    clean["loan_sequence"] = int(sequence)
    if clean["settled_on"] and clean["settled_on"] < clean["disbursed_on"]:
        return None, ["settled_on: Es anterior a disbursed_on."]
    return clean, []


PARSERS: dict[str, Parser] = {
    "loans.csv": parse_loan,
    "installments.csv": parse_installment,
    "guarantors.csv": parse_guarantor,
    "loan_dues.csv": parse_loan_due,
}
