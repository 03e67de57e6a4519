"""Playing the cooperative's core for credit and deposit tests: events on `core.events` with
plain kombu, the dead-letter queue of a service, and the loan events of one disbursement."""

import json
from datetime import date
from decimal import Decimal

from services.credit import domain
from tests.service.core_tools import core_event, publish_core, take_all

__all__ = ["core_event", "publish_core"]


def parked(amqp_uri, service):
    """Every message parked in `core.<service>.dead` as (reason, event) (consumed)."""
    return [
        ((message.headers or {}).get("x-portal-refusal"), json.loads(message.body))
        for message in take_all(amqp_uri, f"core.{service}.dead")
    ]


def money(value):
    return f"{Decimal(value):.2f}"


def schedule(amount, months, start, rate="15.60"):
    table = domain.amortize(Decimal(amount), Decimal(rate), months, "french", "monthly", start)
    return [
        {
            "number": r.number,
            "due_date": r.due_date.isoformat(),
            "principal": money(r.principal),
            "interest": money(r.interest),
            "insurance": money(r.insurance),
            "installment": money(r.installment),
            "balance": money(r.balance),
        }
        for r in table.rows
    ]


def disbursed(loan_number, member_number, amount="1200.00", months=12, **changes):
    start = date(2026, 1, 5)
    data = {
        "loan_number": loan_number,
        "member_number": member_number,
        "product_code": "CONSUMO",
        "amount": amount,
        "annual_rate": "15.60",
        "system": "french",
        "frequency": "monthly",
        "term_months": months,
        "disbursed_on": start.isoformat(),
        "application_number": None,
        "guarantors": [],
        "schedule": schedule(amount, months, start),
    }
    data.update(changes)
    return core_event("loan_disbursed", data)


def paid(loan_event, number, sequence=None, reference=None, **changes):
    """installment_paid of row `number` of the loan of `loan_event`, as the table says."""
    row = loan_event["data"]["schedule"][number - 1]
    data = {
        "loan_number": loan_event["data"]["loan_number"],
        "loan_sequence": sequence or number,
        "number": number,
        "paid_on": row["due_date"],
        "reference": reference or f"PAGO-{loan_event['data']['loan_number']}-{number}",
        "principal": row["principal"],
        "interest": row["interest"],
        "insurance": row["insurance"],
        "late_interest": "0.00",
    }
    data.update(changes)
    return core_event("installment_paid", data)


def settled(loan_number, sequence, settled_on="2027-01-05"):
    return core_event(
        "loan_settled",
        {"loan_number": loan_number, "loan_sequence": sequence, "settled_on": settled_on},
    )


def decision(application_number, status, reason=None, changed_at="2026-12-01T15:04:05Z"):
    return core_event(
        "application_status_changed",
        {
            "application_number": application_number,
            "status": status,
            "reason": reason,
            "changed_at": changed_at,
        },
    )
