"""Synthetic statements of any size (benchmarks and the reports service's own tests)."""

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
