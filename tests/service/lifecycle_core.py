"""Playing the cooperative's core for credit and deposit tests: events on `core.events` with
plain kombu, the dead-letter queue of a service, and the loan events of one disbursement."""

import json
import uuid
from datetime import date
from decimal import Decimal

from kombu import Connection, Exchange, Producer

from services.credit import domain

CORE = Exchange("core.events", type="topic", durable=True)


def core_event(event_type, data, event_id=None):
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "event_type": event_type,
        "source": "core",
        "occurred_at": "2026-03-02T15:00:00Z",
        "version": 1,
        "data": data,
    }


def publish_core(amqp_uri, *events):
    """Publish envelopes persistently, with publisher confirms, routing key = event_type."""
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        CORE(channel).declare()
        producer = Producer(channel)
        for event in events:
            producer.publish(
                json.dumps(event, ensure_ascii=False),
                exchange=CORE,
                routing_key=event["event_type"],
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
            )
    return events


def parked(amqp_uri, service):
    """Every message parked in `core.<service>.dead` as (reason, event) (consumed)."""
    out = []
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        while True:
            message = channel.basic_get(f"core.{service}.dead", no_ack=True)
            if message is None:
                return out
            headers = dict(message.headers or {})
            out.append((headers.get("x-portal-refusal"), json.loads(message.body)))


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
