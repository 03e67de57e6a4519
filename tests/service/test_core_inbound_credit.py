"""credit applies the core's events from `core.events` (docs/integration.md) on the real broker:
loans with the core's table, installments paid in `loan_sequence` order, settlements, and the
decisions on applications that the member sees and is e-mailed about.

SQLite by default; `--db-backend postgres` runs the same tests on PostgreSQL.
"""

import email
import email.policy
import random
from decimal import Decimal

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from services.accounts.service import AccountsService
from services.common.db import session_scope
from services.credit.models import Loan, LoanPayment, held_events, outbox
from services.credit.service import CreditService
from services.notifications.service import NotificationsService
from tests.conftest import _free_port, load_demo
from tests.service import event_tools
from tests.service.lifecycle_core import (
    core_event,
    decision,
    disbursed,
    paid,
    parked,
    publish_core,
    settled,
)


def wait_until(check, timeout=30, **kwargs):
    """event_tools.wait_until with room for a busy machine (a deadline, never a fixed sleep)."""
    return event_tools.wait_until(check, timeout=timeout, **kwargs)


D = Decimal
MARIA, JOSE = "100234", "100517"
NO_LOANS = {"loans": [], "message": "No posee créditos vigentes"}


@pytest.fixture
def core_config(service_config, today):
    load_demo(service_config, today, services=["accounts", "credit"], count=5)
    config = dict(service_config)
    config["CORE_RETRY_DELAYS"] = "0.2,0.4"
    config["CORE_NOT_YET_DELAYS"] = "0.2,0.4"
    return config


@pytest.fixture
def credit(core_config, container_factory):
    for cls in (AccountsService, CreditService):
        container_factory(cls, core_config).start()
    return core_config


@pytest.fixture
def rpc(credit, rpc_proxy):
    return rpc_proxy("credit")


def application(today):
    return {
        "product_code": "CONSUMO",
        "amount": "5000.00",
        "term_months": 24,
        "system": "french",
        "frequency": "monthly",
        "start_date": today.isoformat(),
        "purpose": "Compra de equipos para el negocio",
        "monthly_income": "1800.00",
        "monthly_expenses": "600.00",
        "guarantors": [],
    }


def the_application(rpc, member, number):
    return next(
        a
        for a in rpc.list_applications(member)["applications"]
        if a["application_number"] == number
    )


def loan_rows(rpc, member, loan_number):
    return rpc.get_loan(member, loan_number)["rows"]


def paid_rows(rpc, member, loan_number):
    """Which installments are `pagada` (the others are pendiente or vencida by date)."""
    return [r["status"] == "pagada" for r in loan_rows(rpc, member, loan_number)]


def outbox_events(config):
    with session_scope(config["CREDIT_DATABASE_URL"]) as session:
        return [
            (row.event_type, row.payload)
            for row in session.execute(select(outbox.c.event_type, outbox.c.payload))
        ]


def count(config, table):
    with session_scope(config["CREDIT_DATABASE_URL"]) as session:
        return session.scalar(select(func.count()).select_from(table))


def changed(event, **data):
    return {**event, "data": {**event["data"], **data}}


def disburse(credit, rpc, loan_event):
    publish_core(credit["AMQP_URI"], loan_event)
    number, member = loan_event["data"]["loan_number"], loan_event["data"]["member_number"]
    wait_until(
        lambda: number in [loan["loan_number"] for loan in rpc.list_loans(member)["loans"]],
        message=f"loan {number} disbursed",
    )


def test_every_credit_event_type_is_applied(credit, rpc, today):
    uri = credit["AMQP_URI"]
    number = rpc.submit_application(JOSE, application(today))["application_number"]

    publish_core(uri, decision(number, "en_analisis", changed_at="2026-12-01T14:00:00Z"))
    wait_until(lambda: the_application(rpc, JOSE, number)["status"] == "en_analisis")
    publish_core(
        uri,
        decision(number, "aprobada", "Cumple la capacidad de pago.", "2026-12-02T16:30:00Z"),
    )
    wait_until(lambda: the_application(rpc, JOSE, number)["status"] == "aprobada")
    assert the_application(rpc, JOSE, number)["status_reason"] == "Cumple la capacidad de pago."

    loan = disbursed(
        "CR-100517-09", JOSE, "5000.00", 24, application_number=number, guarantors=[MARIA]
    )
    disburse(credit, rpc, loan)
    detail = rpc.get_loan(JOSE, "CR-100517-09")
    sent = loan["data"]["schedule"]
    assert [{k: r[k] for k in sent[0]} for r in detail["rows"]] == sent  # the core's table
    assert detail["amount"] == "5000.00" and detail["outstanding_principal"] == "5000.00"
    assert [g["name"] for g in detail["guarantors"]] == ["María Pérez"]
    given = rpc.guarantees(MARIA)["guaranteed_by_me"]
    assert "CR-100517-09" in [g["loan_number"] for g in given]
    applied = the_application(rpc, JOSE, number)
    assert (applied["status"], applied["loan_number"]) == ("desembolsada", "CR-100517-09")
    assert [(h["status"], h["at"]) for h in applied["history"][:3]] == [
        ("ingresada", applied["submitted_at"]),
        ("en_analisis", "2026-12-01T14:00:00Z"),
        ("aprobada", "2026-12-02T16:30:00Z"),
    ]
    assert [h["status"] for h in applied["history"]][3:] == ["desembolsada"]

    publish_core(uri, paid(loan, 1))
    wait_until(lambda: loan_rows(rpc, JOSE, "CR-100517-09")[0]["status"] == "pagada")
    first = loan_rows(rpc, JOSE, "CR-100517-09")[0]
    assert first["paid_on"] == sent[0]["due_date"]
    outstanding = D("5000.00") - D(sent[0]["principal"])
    assert rpc.get_loan(JOSE, "CR-100517-09")["outstanding_principal"] == f"{outstanding:.2f}"

    publish_core(uri, settled("CR-100517-09", 2))
    wait_until(lambda: rpc.list_loans(JOSE) == NO_LOANS, message="the loan settled")

    emitted = outbox_events(credit)
    kinds = [kind for kind, _ in emitted]
    assert kinds.count("application_status_changed") == 3
    assert kinds.count("installment_paid") == 1 and kinds.count("loan_settled") == 1
    for kind, payload in emitted:
        if kind != "application_submitted":
            assert "@" not in payload  # no e-mail address travels in these events


@pytest.mark.pg  # row locks, savepoints and bulk SQL differ on PostgreSQL
def test_redelivered_event_and_repeated_reference_apply_once(credit, rpc):
    loan = disbursed("CR-100517-10", JOSE)
    disburse(credit, rpc, loan)
    first = paid(loan, 1)
    # the same event twice, then the same payment told again under a new event (next sequence)
    again = paid(loan, 1, sequence=2, reference=first["data"]["reference"])
    publish_core(credit["AMQP_URI"], first, first, again, paid(loan, 2, sequence=3))
    wait_until(lambda: loan_rows(rpc, JOSE, "CR-100517-10")[1]["status"] == "pagada")
    assert paid_rows(rpc, JOSE, "CR-100517-10")[:3] == [True, True, False]
    assert count(credit, LoanPayment.__table__) == 2
    assert [k for k, _ in outbox_events(credit)].count("installment_paid") == 2
    assert parked(credit["AMQP_URI"], "credit") == []


@pytest.mark.pg  # row locks, savepoints and bulk SQL differ on PostgreSQL
def test_out_of_order_payments_are_held_then_applied(credit, rpc):
    loan = disbursed("CR-100517-11", JOSE)
    disburse(credit, rpc, loan)
    publish_core(credit["AMQP_URI"], paid(loan, 3), paid(loan, 2))
    wait_until(lambda: rpc.inbound_status()["held"] == 2, message="two payments held")
    assert paid_rows(rpc, JOSE, "CR-100517-11")[:3] == [False] * 3
    publish_core(credit["AMQP_URI"], paid(loan, 1))
    wait_until(lambda: loan_rows(rpc, JOSE, "CR-100517-11")[2]["status"] == "pagada")
    assert paid_rows(rpc, JOSE, "CR-100517-11")[:4] == [True, True, True, False]
    assert count(credit, held_events) == 0


@pytest.mark.pg  # row locks, savepoints and bulk SQL differ on PostgreSQL
def test_each_refusal_is_parked_with_its_reason_and_the_next_event_applies(credit, rpc, today):
    uri = credit["AMQP_URI"]
    loan = disbursed("CR-100517-12", JOSE)
    disburse(credit, rpc, loan)
    number = rpc.submit_application(JOSE, application(today))["application_number"]
    publish_core(uri, decision(number, "aprobada", "Aprobada por el comité."), paid(loan, 1))
    wait_until(lambda: loan_rows(rpc, JOSE, "CR-100517-12")[0]["status"] == "pagada")
    wait_until(lambda: the_application(rpc, JOSE, number)["status"] == "aprobada")
    no_reference = paid(loan, 2, sequence=2)
    del no_reference["data"]["reference"]
    bad = [
        changed(disbursed("CR-100517-13", JOSE), amount="1200.001"),
        changed(disbursed("CR-100517-14", JOSE), amount="1300.00"),
        paid(loan, 2, sequence=2, principal="-1.00"),
        no_reference,
        decision(number, "en_analisis"),
        decision("SC-2026-999999", "aprobada"),
        paid(loan, 2, sequence=1),  # sequence 1 again, other content
        paid(loan, 2, sequence=2, reference=paid(loan, 1)["data"]["reference"]),
        paid(loan, 1, sequence=2, reference="OTRA-REF"),  # installment 1 is already paid
        core_event(
            "loan_settled",
            {"loan_number": "CR-NO-EXISTE", "loan_sequence": 1, "settled_on": "2026-06-01"},
        ),
        disbursed("CR-999999-01", "999999"),
        # strict shapes (docs/integration.md, "Strict shapes")
        changed(disbursed("CR-100517-15", JOSE), amount=1200.0),
        changed(disbursed("CR-100517-16", JOSE), annual_rate=15.6),
        changed(disbursed("CR-100517-17", JOSE), term_months="12"),
        changed(disbursed("CR-100517-18", JOSE), frequency="weekly"),
        disbursed("CR-100517-19-LARGO", JOSE),  # 18 characters: at most 16
        paid(loan, 2, sequence=2, interest=0),
    ]
    publish_core(uri, *bad)
    reasons = {}
    wait_until(
        lambda: (
            reasons.update({e["event_id"]: r for r, e in parked(uri, "credit")})
            or len(reasons) == len(bad)
        ),
        timeout=30,
        message="every bad event parked",
    )
    said = [reasons[event["event_id"]] for event in bad]
    assert said == [
        "loan_disbursed rechazado: amount: Use como máximo dos decimales.",
        "loan_disbursed rechazado: schedule: La suma del capital de la tabla (1200.00) no es "
        "igual al monto (1300.00).",
        "installment_paid rechazado: principal: No puede ser negativo.",
        "installment_paid rechazado: reference: Este campo es obligatorio.",
        "La solicitud está aprobada: no puede volver a en análisis.",
        "La solicitud SC-2026-999999 no existe.",
        "La secuencia 1 de loan:CR-100517-12 ya fue aplicada con otro contenido.",
        f"La referencia {paid(loan, 1)['data']['reference']} ya se aplicó a otro pago.",
        "CR-100517-12: La cuota 1 ya está pagada con otra referencia.",
        "El crédito CR-NO-EXISTE no existe en el portal.",
        "El socio 999999 no existe en el portal.",
        'loan_disbursed rechazado: amount: Escriba el monto como texto con dos decimales ("10.00"),'
        " no como número.",
        "loan_disbursed rechazado: annual_rate: Escriba la tasa como texto en porcentaje con dos "
        'decimales ("16.77").',
        "loan_disbursed rechazado: term_months: Debe ser un número entero.",
        "loan_disbursed rechazado: frequency: Frecuencia de pago inválida.",
        "loan_disbursed rechazado: loan_number: Número de crédito inválido.",
        "installment_paid rechazado: interest: Escriba el monto como texto con dos decimales "
        '("10.00"), no como número.',
    ]
    # nothing of them applied
    assert [loan["loan_number"] for loan in rpc.list_loans(JOSE)["loans"]] == ["CR-100517-12"]
    assert the_application(rpc, JOSE, number)["status"] == "aprobada"
    assert paid_rows(rpc, JOSE, "CR-100517-12")[:2] == [True, False]
    expected = {"dato_invalido": 10, "conflicto": 4, "desconocido": 3}  # counted for /metrics
    wait_until(
        lambda: {r["kind"]: r["count"] for r in rpc.inbound_status()["refusals"]} == expected
    )
    # the service keeps consuming: the right sequence 2 applies
    publish_core(uri, paid(loan, 2, sequence=2))
    wait_until(lambda: loan_rows(rpc, JOSE, "CR-100517-12")[1]["status"] == "pagada")


@pytest.mark.pg  # row locks, savepoints and bulk SQL differ on PostgreSQL
def test_two_instances_keep_each_loan_in_order(core_config, container_factory, rpc_proxy):
    container_factory(AccountsService, core_config).start()
    for _ in range(2):
        container_factory(CreditService, core_config).start()
    rpc = rpc_proxy("credit")
    loan = disbursed("CR-100517-15", JOSE, "6000.00", 24)
    disburse(core_config, rpc, loan)
    payments = [paid(loan, n) for n in range(1, 25)]
    random.Random(14).shuffle(payments)
    publish_core(core_config["AMQP_URI"], *payments)
    wait_until(
        lambda: rpc.get_loan(JOSE, "CR-100517-15")["paid_installments"] == 24,
        timeout=60,
        message="every installment paid",
    )
    with session_scope(core_config["CREDIT_DATABASE_URL"]) as session:
        assert session.get(Loan, "CR-100517-15").last_sequence == 24
        sequences = session.scalars(
            select(LoanPayment.loan_sequence).order_by(LoanPayment.id)
        ).all()
    assert sequences == list(range(1, 25))  # applied in order, each once
    assert count(core_config, held_events) == 0
    assert rpc.get_loan(JOSE, "CR-100517-15")["outstanding_principal"] == "0.00"


class SmtpInbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.rcpt_tos, message))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    inbox = SmtpInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


def test_a_decision_is_emailed_to_the_members_current_address(
    credit, rpc, today, container_factory, smtp_server, rpc_proxy
):
    uri = credit["AMQP_URI"]
    container_factory(
        NotificationsService, {**credit, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp_server.port}
    ).start()
    number = rpc.submit_application(JOSE, application(today))["application_number"]
    # the core changes José's e-mail after he applied: the decision goes to the new one
    publish_core(
        uri,
        core_event(
            "member_upserted",
            {
                "member_number": JOSE,
                "identification": "0918765439",
                "first_names": "José Luis",
                "last_names": "Andrade Mora",
                "email": "jose.nuevo@example.com",
                "phone": None,
                "status": "activo",
            },
        ),
    )
    accounts = rpc_proxy("accounts")
    wait_until(lambda: accounts.get_member(JOSE)["email"] == "jose.nuevo@example.com")
    publish_core(
        uri, decision(number, "negada", "Supera el endeudamiento.", "2026-12-01T15:04:05Z")
    )

    def decision_mail():
        return [m for m in smtp_server.messages if "negada" in m[1]["Subject"]]

    [(recipients, message)] = wait_until(decision_mail, message="the decision e-mail")
    assert recipients == ["jose.nuevo@example.com"]
    assert message["Subject"] == f"Su solicitud de crédito {number} fue negada"
    text = message.get_body(("plain",)).get_content()
    assert "Negada" in text and "Supera el endeudamiento." in text
    assert "01/12/2026 10:04 (hora de Ecuador)" in text
