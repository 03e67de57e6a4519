"""Synthetic statements and loans of any size, balances consistent to the cent: data for the
reports service's tests and the benchmarks (bench/reports.py), not part of any service."""

from datetime import timedelta
from decimal import Decimal

from services.common.clock import CLOCK

DESCRIPTIONS = (
    "Depósito en ventanilla",
    "Transferencia recibida",
    "Retiro en cajero automático",
    "Pago de servicios básicos",
    "Transferencia a cuenta de otra institución financiera por pago de proveedores",
    "Interés ganado",
)


def synthetic_statement(count, date_to=None, opening="1500.00"):
    """A statement of `count` movements ending on `date_to`, balances consistent to the cent."""
    date_to = date_to or CLOCK.today() - timedelta(days=1)
    date_from = date_to - timedelta(days=365)
    balance = Decimal(opening)
    debits = credits = Decimal("0.00")
    movements = []
    for index in range(count):
        day = date_from + timedelta(days=(index * 365) // max(count, 1))
        amount = Decimal(10 + (index * 37) % 400) + Decimal(index % 100) / 100
        if index % 3 == 2 and balance > amount:
            debit, credit = amount, Decimal("0.00")
        else:
            debit, credit = Decimal("0.00"), amount
        balance += credit - debit
        debits += debit
        credits += credit
        movements.append(
            {
                "date": day.isoformat(),
                "posted_at": f"{day.isoformat()}T15:00:00Z",
                "description": f"{DESCRIPTIONS[index % len(DESCRIPTIONS)]} {index + 1}",
                "reference": f"MV-{index + 1:06d}",
                "debit": f"{debit:.2f}",
                "credit": f"{credit:.2f}",
                "balance": f"{balance:.2f}",
            }
        )
    return {
        "title": "Estado de cuenta",
        "member": {
            "display_name": "María Pérez",
            "member_number": "100234",
            "identification_masked": "17******75",
        },
        "account_number": "4100234001",
        "product_name": "Ahorro a la vista",
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "opening_balance": opening,
        "closing_balance": f"{balance:.2f}",
        "total_debits": f"{debits:.2f}",
        "total_credits": f"{credits:.2f}",
        "total_movements": count,
        "movements": movements,
    }


def synthetic_loan(installments=240, paid=30, overdue=1):
    """A loan as the loan-table PDF receives it: `installments` monthly rows (the first `paid`
    paid, the next `overdue` overdue), figures of the French system to the cent."""
    # the credit service's own rule, so the totals agree as in a real loan
    from services.credit import domain as credit

    paid = min(paid, max(installments - overdue - 1, 0))
    start = CLOCK.today() - timedelta(days=31 * (paid + overdue))
    schedule = credit.amortize(
        Decimal("85000.00"), Decimal("10.50"), installments, "french", "monthly", start
    )
    rows = []
    for row in schedule.rows:
        if row.number <= paid:
            status, paid_on = "pagada", row.due_date.isoformat()
        elif row.number <= paid + overdue:
            status, paid_on = "vencida", None
        else:
            status, paid_on = "pendiente", None
        rows.append(
            {
                "number": row.number,
                "due_date": row.due_date.isoformat(),
                "principal": f"{row.principal:.2f}",
                "interest": f"{row.interest:.2f}",
                "insurance": f"{row.insurance:.2f}",
                "installment": f"{row.installment:.2f}",
                "balance": f"{row.balance:.2f}",
                "status": status,
                "paid_on": paid_on,
            }
        )
    return {
        "title": "Tabla de amortización · Crédito CR-100234-09",
        "member": {
            "display_name": "María Pérez",
            "member_number": "100234",
            "identification_masked": "17******75",
        },
        "loan": {
            "loan_number": "CR-100234-09",
            "product_name": "Crédito de vivienda",
            "amount": "85000.00",
            "disbursed_on": start.isoformat(),
            "annual_rate": "10.50",
            "effective_annual_rate": "11.02",
            "term_months": installments,
            "system_name": "Francés (cuota fija)",
            "frequency_name": "Mensual",
            "status": "activo",
            "outstanding_principal": rows[paid - 1]["balance"] if paid else "85000.00",
            "overdue_installments": overdue,
            "next_due_date": rows[paid]["due_date"],
            "next_installment": rows[paid]["installment"],
            "total_principal": f"{schedule.total_principal:.2f}",
            "total_interest": f"{schedule.total_interest:.2f}",
            "total_insurance": f"{schedule.total_insurance:.2f}",
            "total_payment": f"{schedule.total_payment:.2f}",
            "rows": rows,
        },
    }
