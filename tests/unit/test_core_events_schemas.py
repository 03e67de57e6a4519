"""The data of the core's inbound events that credit and deposit own (docs/integration.md):
what is accepted, what is refused and with which reason, and the application lifecycle rules."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from marshmallow import ValidationError

from services.credit import domain
from services.credit.schemas import (
    ApplicationStatusChangedSchema,
    InstallmentPaidSchema,
    LoanDisbursedSchema,
    LoanSettledSchema,
)
from services.deposit.schemas import DepositClosedSchema, DepositOpenedSchema

D = Decimal


def table(amount="1200.00", rate="12", months=12):
    schedule = domain.amortize(D(amount), D(rate), months, "french", "monthly", date(2026, 1, 5))
    return [
        {
            "number": r.number,
            "due_date": r.due_date.isoformat(),
            "principal": f"{r.principal:.2f}",
            "interest": f"{r.interest:.2f}",
            "insurance": f"{r.insurance:.2f}",
            "installment": f"{r.installment:.2f}",
            "balance": f"{r.balance:.2f}",
        }
        for r in schedule.rows
    ]


def disbursed(**changes):
    data = {
        "loan_number": "CR-900001-01",
        "member_number": "100234",
        "product_code": "CONSUMO",
        "amount": "1200.00",
        "annual_rate": "12.00",
        "system": "french",
        "frequency": "monthly",
        "term_months": 12,
        "disbursed_on": "2026-01-05",
        "application_number": None,
        "guarantors": [],
        "schedule": table(),
        "core_branch": "MATRIZ",  # extra fields are welcome
    }
    data.update(changes)
    return data


def refusal(schema, data):
    with pytest.raises(ValidationError) as caught:
        schema.load(data)
    return caught.value.messages


def test_a_loan_with_its_table_is_read_exactly_as_sent():
    loan = LoanDisbursedSchema().load(disbursed())
    assert loan["amount"] == D("1200.00")
    assert len(loan["schedule"]) == 12
    assert loan["schedule"][0]["installment"] == D("107.22")
    assert "core_branch" not in loan


def test_a_table_whose_principal_does_not_add_up_to_the_amount_is_refused():
    messages = refusal(LoanDisbursedSchema(), disbursed(amount="1300.00"))
    assert messages == {
        "schedule": ["La suma del capital de la tabla (1200.00) no es igual al monto (1300.00)."]
    }


def test_a_row_whose_installment_or_balance_does_not_add_up_is_refused():
    rows = table()
    rows[3]["installment"] = "999.99"
    assert "Cuota 4" in refusal(LoanDisbursedSchema(), disbursed(schedule=rows))["schedule"][0]
    rows = table()
    rows[2]["balance"] = "1.00"
    assert (
        "Cuota 3: el saldo"
        in refusal(LoanDisbursedSchema(), disbursed(schedule=rows))["schedule"][0]
    )


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("amount", "1200.001", "Use como máximo dos decimales."),
        ("amount", "-1200.00", "Debe ser mayor que 0."),
        ("amount", None, "Este campo no puede estar vacío."),
    ],
)
def test_bad_amounts_of_a_loan_are_refused(field, value, message):
    assert refusal(LoanDisbursedSchema(), disbursed(**{field: value}))[field] == [message]


def test_a_missing_field_is_refused():
    data = disbursed()
    del data["schedule"]
    assert refusal(LoanDisbursedSchema(), data) == {"schedule": ["Este campo es obligatorio."]}


def payment(**changes):
    data = {
        "loan_number": "CR-900001-01",
        "loan_sequence": 1,
        "number": 1,
        "paid_on": "2026-02-05",
        "reference": "CAJA-0001",
        "principal": "94.62",
        "interest": "12.00",
        "insurance": "0.60",
        "late_interest": "0.00",
    }
    data.update(changes)
    return data


def test_a_payment_with_a_negative_or_sub_cent_amount_is_refused():
    assert refusal(InstallmentPaidSchema(), payment(interest="-0.01")) == {
        "interest": ["No puede ser negativo."]
    }
    assert refusal(InstallmentPaidSchema(), payment(late_interest="0.005")) == {
        "late_interest": ["Use como máximo dos decimales."]
    }
    assert InstallmentPaidSchema().load(payment())["principal"] == D("94.62")


def test_sequences_start_at_one():
    assert "loan_sequence" in refusal(LoanSettledSchema(), {**payment(loan_sequence=0)})
    settled = {"loan_number": "CR-1", "loan_sequence": 3, "settled_on": "2026-03-01"}
    assert LoanSettledSchema().load(settled)["settled_on"] == date(2026, 3, 1)


def test_an_application_decision_is_one_the_member_may_see():
    data = {
        "application_number": "SC-2026-000001",
        "status": "aprobada",
        "reason": "Cumple la capacidad de pago.",
        "changed_at": "2026-12-01T15:04:05Z",
    }
    loaded = ApplicationStatusChangedSchema().load(data)
    assert loaded["changed_at"] == datetime(2026, 12, 1, 15, 4, 5, tzinfo=UTC)
    assert "status" in refusal(ApplicationStatusChangedSchema(), {**data, "status": "ingresada"})
    assert "changed_at" in refusal(ApplicationStatusChangedSchema(), {**data, "changed_at": "x"})


@pytest.mark.parametrize(
    "current, new, moves",
    [
        ("ingresada", "en_analisis", True),
        ("ingresada", "aprobada", True),
        ("en_analisis", "negada", True),
        ("aprobada", "desembolsada", True),
        ("en_analisis", "en_analisis", False),
    ],
)
def test_an_application_moves_forward(current, new, moves):
    assert domain.status_change(current, new) is moves


@pytest.mark.parametrize(
    "current, new, reason",
    [
        ("aprobada", "en_analisis", "La solicitud está aprobada: no puede volver a en análisis."),
        ("aprobada", "negada", "La solicitud está aprobada: no puede volver a negada."),
        ("desembolsada", "aprobada", "La solicitud está desembolsada: no puede volver a aprobada."),
        ("negada", "desembolsada", "La solicitud fue negada: no puede pasar a desembolsada."),
    ],
)
def test_an_application_never_goes_back(current, new, reason):
    with pytest.raises(domain.Refusal, match=reason):
        domain.status_change(current, new)


def test_a_payment_applies_once_to_an_existing_unpaid_installment_of_an_active_loan():
    numbers = set(range(1, 13))
    assert domain.payment_refusal("activo", 2, {1}, numbers) is None
    assert "ya está pagada" in domain.payment_refusal("activo", 1, {1}, numbers)
    assert "no existe" in domain.payment_refusal("activo", 13, set(), numbers)
    assert "cancelado" in domain.payment_refusal("cancelado", 2, set(), numbers)


def opened(**changes):
    data = {
        "deposit_number": "PF-900001",
        "member_number": "100234",
        "amount": "5000.00",
        "annual_rate": "7.43",
        "term_days": 181,
        "opened_on": "2026-11-02",
        "maturity_date": "2027-05-02",
        "interest_payment": "maturity",
    }
    data.update(changes)
    return data


def test_a_deposit_is_read_as_sent_and_its_maturity_must_match_its_term():
    assert DepositOpenedSchema().load(opened())["annual_rate"] == D("7.43")
    assert refusal(DepositOpenedSchema(), opened(maturity_date="2027-05-03")) == {
        "maturity_date": [
            "No corresponde al plazo: 181 días desde 2026-11-02 vencen el 2027-05-02."
        ]
    }
    assert refusal(DepositOpenedSchema(), opened(amount="-5.00"))["amount"] == [
        "Debe ser mayor que 0."
    ]


def test_a_renewal_names_the_new_deposit():
    closed = {"deposit_number": "PF-1", "closed_on": "2027-05-02", "reason": "renovacion"}
    assert refusal(DepositClosedSchema(), {**closed, "renewed_as": None}) == {
        "renewed_as": ["Una renovación indica el número del nuevo depósito."]
    }
    assert DepositClosedSchema().load({**closed, "renewed_as": "PF-2"})["renewed_as"] == "PF-2"
    assert "reason" in refusal(DepositClosedSchema(), {**closed, "reason": "x", "renewed_as": None})


NUMBER_MONEY = 'Escriba el monto como texto con dos decimales ("10.00"), no como número.'
RATE_TEXT = 'Escriba la tasa como texto en porcentaje con dos decimales ("16.77").'
INTEGER = "Debe ser un número entero."


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amount", 1200, NUMBER_MONEY),
        ("amount", 1200.0, NUMBER_MONEY),
        ("amount", "1200", "Escriba el monto con dos decimales, por ejemplo 1234.50."),
        ("annual_rate", 12, RATE_TEXT),
        ("annual_rate", "12.5", RATE_TEXT),
        ("annual_rate", "12.000", RATE_TEXT),
        ("annual_rate", "100.01", "Debe ser un porcentaje entre 0 y 100."),
        ("term_months", 12.0, INTEGER),
        ("term_months", "12", INTEGER),
        ("term_months", True, INTEGER),
        ("system", "americano", "Sistema de amortización inválido."),
        ("frequency", "weekly", "Frecuencia de pago inválida."),
        ("loan_number", "CR-12345678901-2", None),  # 16 characters: the most
        ("loan_number", "CR-123456789012-3", "Número de crédito inválido."),
        ("member_number", "1234567890123", "Número de socio inválido."),
        ("application_number", "S" * 21, "Número de solicitud inválido."),
    ],
)
def test_a_loan_is_read_only_in_the_contracts_shapes(field, value, message):
    if message is None:
        assert LoanDisbursedSchema().load(disbursed(**{field: value}))[field] == value
    else:
        assert refusal(LoanDisbursedSchema(), disbursed(**{field: value}))[field] == [message]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("number", "1", INTEGER),
        ("loan_sequence", 1.0, INTEGER),
        ("principal", 94.62, NUMBER_MONEY),
    ],
)
def test_a_payment_is_read_only_in_the_contracts_shapes(field, value, message):
    assert refusal(InstallmentPaidSchema(), payment(**{field: value}))[field] == [message]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amount", 5000, NUMBER_MONEY),
        ("annual_rate", "7.4325", RATE_TEXT),
        ("term_days", "181", INTEGER),
        ("deposit_number", "D" * 21, "Número de depósito inválido."),
    ],
)
def test_a_deposit_is_read_only_in_the_contracts_shapes(field, value, message):
    assert refusal(DepositOpenedSchema(), opened(**{field: value}))[field] == [message]
