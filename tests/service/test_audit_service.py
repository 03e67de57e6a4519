"""audit on the real broker, on SQLite and on PostgreSQL: every event once, a verifiable chain."""

import eventlet
import pytest
from sqlalchemy import text

from services.audit.service import AuditService
from services.common.db import engine_for
from services.common.errors import ValidationError
from tests.service.event_tools import emit, make_envelope, publish, wait_until

# also run on PostgreSQL (-m pg --db-backend postgres):
# search, ordering and retention are SQL queries
pytestmark = pytest.mark.pg

CATALOGUE = [
    (
        "accounts",
        "movement_posted",
        {
            "account_number": "4100234001",
            "member_number": "100234",
            "date": "2026-11-25",
            "description": "Depósito en ventanilla",
            "reference": "VT-1",
            "debit": "0.00",
            "credit": "25.50",
            "balance": "1025.50",
        },
    ),
    (
        "auth",
        "user_registered",
        {
            "username": "ana",
            "member_number": "100781",
            "email": "ana.torres@example.com",
            "display_name": "Ana Torres",
        },
    ),
    ("auth", "login_succeeded", {"username": "maria", "member_number": "100234", "client_ip": "1"}),
    ("auth", "login_failed", {"username": "maria", "client_ip": "10.0.0.1", "reason": "password"}),
    (
        "auth",
        "account_locked",
        {
            "username": "maria",
            "member_number": "100234",
            "email": "maria.perez@example.com",
            "display_name": "María Pérez",
            "locked_until": "2026-11-25T17:02:33Z",
        },
    ),
    (
        "auth",
        "password_changed",
        {"username": "jose", "member_number": "100517", "email": None, "display_name": "José"},
    ),
    (
        "auth",
        "password_reset_requested",
        {
            "username": "maria",
            "member_number": "100234",
            "email": "maria.perez@example.com",
            "display_name": "María Pérez",
            "code_shown": True,
        },
    ),
    ("auth", "logged_out", {"username": "maria", "member_number": "100234", "reason": "logout"}),
    (
        "credit",
        "application_submitted",
        {
            "application_number": "SOL-000001",
            "member_number": "100234",
            "email": "maria.perez@example.com",
            "display_name": "María Pérez",
            "product_code": "CONSUMO",
            "amount": "5000.00",
            "term_months": 24,
            "submitted_at": "2026-11-25T16:47:33Z",
        },
    ),
    (
        "deposit",
        "rates_configured",
        {"chart_id": 2, "valid_from": "2026-12-01", "withholding_rate": "2.00"},
    ),
    (
        "credit",
        "application_status_changed",
        {
            "application_number": "SOL-000001",
            "member_number": "100234",
            "status": "aprobada",
            "reason": "Cumple la capacidad de pago.",
            "loan_number": None,
            "changed_at": "2026-11-26T15:00:00Z",
        },
    ),
    (
        "credit",
        "installment_paid",
        {
            "loan_number": "CR-100234-01",
            "member_number": "100234",
            "number": 14,
            "paid_on": "2026-11-26",
            "reference": "CAJA-1",
            "principal": "150.00",
            "interest": "30.00",
            "insurance": "1.00",
            "late_interest": "0.00",
            "outstanding_principal": "1850.00",
        },
    ),
    (
        "credit",
        "loan_settled",
        {"loan_number": "CR-100234-01", "member_number": "100234", "settled_on": "2026-11-26"},
    ),
    (
        "deposit",
        "deposit_opened",
        {
            "deposit_number": "DPF-100234-02",
            "member_number": "100234",
            "amount": "1000.00",
            "annual_rate": "7.43",
            "term_days": 90,
            "opened_on": "2026-11-26",
            "maturity_date": "2027-02-24",
            "interest_payment": "maturity",
        },
    ),
    (
        "deposit",
        "deposit_closed",
        {
            "deposit_number": "DPF-100234-01",
            "member_number": "100234",
            "closed_on": "2026-11-26",
            "reason": "vencimiento",
            "renewed_as": None,
        },
    ),
]


@pytest.fixture
def audit(service_config, container_factory):
    cfg = dict(service_config)
    container = container_factory(AuditService, cfg)
    container.start()
    return cfg, container


@pytest.fixture
def audit_rpc(audit, rpc_proxy):
    return rpc_proxy("audit")


def recorded(rpc, count, **filters):
    return wait_until(
        lambda: (entries := rpc.query(limit=1000, **filters)) and len(entries) >= count and entries,
        message=f"{count} audit entries",
    )


def test_ping(audit_rpc):
    assert audit_rpc.ping() == "pong"


def test_every_event_of_the_catalogue_is_recorded_once_with_a_valid_chain(audit, audit_rpc):
    cfg, _ = audit
    events = [make_envelope(source, kind, data) for source, kind, data in CATALOGUE]
    publish(cfg["AMQP_URI"], *events)
    entries = recorded(audit_rpc, len(events))
    assert {(e["source"], e["event_type"]) for e in entries} == {(s, k) for s, k, _ in CATALOGUE}
    assert {e["event_id"] for e in entries} == {e["event_id"] for e in events}
    by_id = {e["event_id"]: e for e in entries}
    for event in events:
        entry = by_id[event["event_id"]]
        assert entry["data"] == event["data"]
        assert entry["occurred_at"] == event["occurred_at"]
        assert entry["member_number"] == event["data"].get("member_number")
    assert sorted(e["seq"] for e in entries) == list(range(1, len(events) + 1))
    assert audit_rpc.verify_chain() == {
        "valid": True,
        "entries": len(events),
        "first_broken_seq": None,
    }


def test_a_redelivered_event_is_recorded_exactly_once(audit, audit_rpc):
    cfg, _ = audit
    first = emit(cfg["AMQP_URI"], "auth", "login_succeeded", {"username": "luis"})
    publish(cfg["AMQP_URI"], first, first)  # the same event_id twice more
    marker = emit(cfg["AMQP_URI"], "auth", "logged_out", {"username": "luis", "reason": "logout"})
    recorded(audit_rpc, 1, event_type="logged_out")
    eventlet.sleep(0.5)  # any late duplicate would land by now
    entries = audit_rpc.query(limit=1000)
    assert [e["event_id"] for e in entries].count(first["event_id"]) == 1
    assert len(entries) == 2 and entries[0]["event_id"] == marker["event_id"]
    assert audit_rpc.verify_chain()["valid"] is True


def test_concurrent_events_do_not_fork_the_chain(audit, audit_rpc):
    cfg, _ = audit
    events = []
    for n in range(40):
        source, kind, data = CATALOGUE[n % len(CATALOGUE)]
        events.append(make_envelope(source, kind, dict(data)))
    publish(cfg["AMQP_URI"], *events)
    recorded(audit_rpc, 40)
    entries = audit_rpc.query(limit=1000)
    assert sorted(e["seq"] for e in entries) == list(range(1, 41))
    assert len({e["prev_hash"] for e in entries}) == 40
    assert audit_rpc.verify_chain() == {"valid": True, "entries": 40, "first_broken_seq": None}


def test_tampering_with_a_row_is_reported_at_its_seq(audit, audit_rpc):
    cfg, _ = audit
    publish(
        cfg["AMQP_URI"],
        *[make_envelope(source, kind, data) for source, kind, data in CATALOGUE[:5]],
    )
    recorded(audit_rpc, 5)
    assert audit_rpc.verify_chain()["valid"] is True
    with engine_for(cfg["AUDIT_DATABASE_URL"]).begin() as conn:
        conn.execute(
            text("UPDATE audit_log SET data = :data WHERE seq = 3"),
            {"data": '{"username":"alguien-mas"}'},
        )
    assert audit_rpc.verify_chain() == {"valid": False, "entries": 3, "first_broken_seq": 3}


def test_deleting_the_last_row_is_reported(audit, audit_rpc):
    cfg, _ = audit
    publish(
        cfg["AMQP_URI"],
        *[make_envelope(source, kind, data) for source, kind, data in CATALOGUE[:3]],
    )
    recorded(audit_rpc, 3)
    with engine_for(cfg["AUDIT_DATABASE_URL"]).begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    assert audit_rpc.verify_chain() == {"valid": False, "entries": 2, "first_broken_seq": 3}


def test_query_filters_by_member_type_source_and_time(audit, audit_rpc):
    cfg, _ = audit
    uri = cfg["AMQP_URI"]
    emit(
        uri,
        "auth",
        "login_succeeded",
        {"member_number": "100234"},
        occurred_at="2026-01-10T10:00:00Z",
    )
    emit(uri, "auth", "login_failed", {"username": "x"}, occurred_at="2026-01-11T10:00:00Z")
    emit(uri, "auth", "logged_out", {"member_number": "100517"}, occurred_at="2026-01-12T10:00:00Z")
    emit(
        uri,
        "accounts",
        "movement_posted",
        {"member_number": "100234", "credit": "1.00"},
        occurred_at="2026-01-13T10:00:00Z",
    )
    recorded(audit_rpc, 4)
    assert [e["event_type"] for e in audit_rpc.query(member_number="100234")] == [
        "movement_posted",
        "login_succeeded",
    ]
    assert [e["source"] for e in audit_rpc.query(source="accounts")] == ["accounts"]
    assert len(audit_rpc.query(event_type="auth.login_failed")) == 1
    assert len(audit_rpc.query(event_type="login_failed", source="accounts")) == 0
    window = audit_rpc.query(since="2026-01-11", until="2026-01-12")
    assert [e["event_type"] for e in window] == ["logged_out", "login_failed"]
    assert len(audit_rpc.query(until="2026-01-10T10:00:00Z")) == 1
    assert len(audit_rpc.query(limit=2)) == 2


def test_bad_query_arguments_are_422_in_spanish(audit_rpc):
    with pytest.raises(ValidationError) as err:
        audit_rpc.query(since="ayer", limit=0)
    assert err.value.fields["since"] == ["Fecha inválida: use AAAA-MM-DD o AAAA-MM-DDTHH:MM:SSZ."]
    assert err.value.fields["limit"] == ["Debe estar entre 1 y 1000."]
    with pytest.raises(ValidationError) as err:
        audit_rpc.query(since="2026-02-01", until="2026-01-01")
    assert "since" in err.value.fields


def test_events_published_while_audit_is_down_are_recorded_when_it_returns(
    audit, audit_rpc, container_factory
):
    cfg, container = audit
    emit(cfg["AMQP_URI"], "auth", "login_succeeded", {"member_number": "100234"})
    recorded(audit_rpc, 1)
    container.stop()
    while_down = [
        emit(cfg["AMQP_URI"], "auth", "login_failed", {"username": "maria", "reason": "password"}),
        emit(cfg["AMQP_URI"], "auth", "account_locked", {"member_number": "100234"}),
    ]
    again = container_factory(AuditService, cfg)
    again.start()
    entries = recorded(audit_rpc, 3)
    assert {e["event_id"] for e in while_down} <= {e["event_id"] for e in entries}
    assert audit_rpc.verify_chain() == {"valid": True, "entries": 3, "first_broken_seq": None}


def test_an_unusable_envelope_is_refused_without_blocking_the_queue(audit, audit_rpc):
    cfg, _ = audit
    broken = make_envelope("auth", "login_failed", {"username": "x"})
    broken["occurred_at"] = "el martes"
    publish(cfg["AMQP_URI"], broken)
    good = emit(cfg["AMQP_URI"], "auth", "login_failed", {"username": "y"})
    entries = recorded(audit_rpc, 1)
    eventlet.sleep(0.3)
    assert [e["event_id"] for e in audit_rpc.query()] == [good["event_id"]]
    assert entries[0]["data"] == {"username": "y"}
