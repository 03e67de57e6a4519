"""audit on the real broker, on SQLite and on PostgreSQL: every event once, a verifiable chain."""

import json
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from scripts import audit_chain
from services.audit import domain
from services.audit.service import AuditService
from services.common import config
from services.common.db import engine_for
from services.common.errors import ValidationError
from services.common.migrate import upgrade
from tests.service.event_tools import (
    counting_deliveries,
    emit,
    make_envelope,
    publish,
    wait_for_deliveries,
    wait_until,
)

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
        "application_withdrawn",
        {
            "application_number": "SOL-000002",
            "member_number": "100234",
            "withdrawn_at": "2026-11-26T16:00:00Z",
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
    (
        "payments",
        "order_created",
        {
            "order_id": "0b8f1c1e-7f1a-4a43-9d55-0a1f2e3d4c5b",
            "request_id": "5d2b7e8a-1c3f-4b6d-8e9f-0a1b2c3d4e5f",
            "request_type": "transfer",
            "member_number": "100234",
            "kind": "socio",
            "from_account": "4100234001",
            "to_account_masked": "****7001",
            "amount": "125.50",
            "status": "por_confirmar",
            "created_at": "2026-11-25T16:47:33Z",
            "evidence": {
                "created": {
                    "at": "2026-11-25T16:47:33Z",
                    "session_id": "9d1c",
                    "client_ip": "190.152.10.7",
                    "device": "Mozilla/5.0 (Linux; Android 14)",
                    "channel": "api",
                },
                "shown": {
                    "kind": "socio",
                    "amount": "125.50",
                    "from_account": "4100234001",
                    "to_account_masked": "****7001",
                    "description": "Arriendo",
                    "digest": "ab" * 32,
                },
            },
        },
    ),
    (
        "payments",
        "order_sent",
        {
            "order_id": "0b8f1c1e-7f1a-4a43-9d55-0a1f2e3d4c5b",
            "request_id": "5d2b7e8a-1c3f-4b6d-8e9f-0a1b2c3d4e5f",
            "request_type": "transfer",
            "member_number": "100234",
            "kind": "socio",
            "from_account": "4100234001",
            "to_account_masked": "****7001",
            "amount": "125.50",
            "status": "enviada",
            "reason_code": None,
            "reason": None,
            "confirmed_with": "totp",
            "alert": None,
        },
    ),
    (
        "payments",
        "order_completed",
        {
            "order_id": "0b8f1c1e-7f1a-4a43-9d55-0a1f2e3d4c5b",
            "request_id": "5d2b7e8a-1c3f-4b6d-8e9f-0a1b2c3d4e5f",
            "request_type": "transfer",
            "member_number": "100234",
            "kind": "socio",
            "from_account": "4100234001",
            "to_account_masked": "****7001",
            "amount": "125.50",
            "status": "completada",
            "reason_code": None,
            "reason": None,
            "confirmed_with": "totp",
            "alert": None,
        },
    ),
    (
        "payments",
        "order_rejected",
        {
            "order_id": "0b8f1c1e-7f1a-4a43-9d55-0a1f2e3d4c5b",
            "request_id": "5d2b7e8a-1c3f-4b6d-8e9f-0a1b2c3d4e5f",
            "request_type": "transfer",
            "member_number": "100234",
            "kind": "socio",
            "from_account": "4100234001",
            "to_account_masked": "****7001",
            "amount": "125.50",
            "status": "rechazada",
            "reason_code": None,
            "reason": None,
            "confirmed_with": "totp",
            "alert": None,
        },
    ),
    (
        "payments",
        "order_cancelled",
        {
            "order_id": "0b8f1c1e-7f1a-4a43-9d55-0a1f2e3d4c5b",
            "request_id": "5d2b7e8a-1c3f-4b6d-8e9f-0a1b2c3d4e5f",
            "request_type": "transfer",
            "member_number": "100234",
            "kind": "socio",
            "from_account": "4100234001",
            "to_account_masked": "****7001",
            "amount": "125.50",
            "status": "anulada",
            "reason_code": None,
            "reason": None,
            "confirmed_with": "totp",
            "alert": None,
        },
    ),
    (
        "payments",
        "order_in_verification",
        {
            "order_id": "0b8f1c1e-7f1a-4a43-9d55-0a1f2e3d4c5b",
            "request_id": "5d2b7e8a-1c3f-4b6d-8e9f-0a1b2c3d4e5f",
            "request_type": "transfer",
            "member_number": "100234",
            "kind": "socio",
            "from_account": "4100234001",
            "to_account_masked": "****7001",
            "amount": "125.50",
            "status": "en_verificacion",
            "reason_code": None,
            "reason": None,
            "confirmed_with": "totp",
            "alert": None,
        },
    ),
    (
        "payments",
        "order_resolved",
        {
            "order_id": "0b8f1c1e-7f1a-4a43-9d55-0a1f2e3d4c5b",
            "request_id": "5d2b7e8a-1c3f-4b6d-8e9f-0a1b2c3d4e5f",
            "request_type": "transfer",
            "member_number": "100234",
            "kind": "socio",
            "from_account": "4100234001",
            "to_account_masked": "****7001",
            "amount": "125.50",
            "status": "completada",
            "reason_code": None,
            "reason": None,
            "confirmed_with": "totp",
            "alert": None,
        },
    ),
    (
        "payments",
        "beneficiary_added",
        {
            "beneficiary_id": "2c4e6a8b-0d1f-4e3a-9b5c-7d9e1f3a5b7c",
            "member_number": "100234",
            "alias": "Juan",
            "account_number_masked": "****9001",
            "confirmed_with": "totp",
        },
    ),
    (
        "payments",
        "limits_raised",
        {
            "change_id": "7a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
            "member_number": "100234",
            "per_transfer": "800.00",
            "daily_to_others": "1500.00",
            "confirmed_with": "totp",
            "confirmed_at": "2026-11-25T16:47:33Z",
        },
    ),
    (
        "payments",
        "limits_lowered",
        {"member_number": "100234", "per_transfer": "500.00", "daily_to_others": "800.00"},
    ),
]


@pytest.fixture
def audit(service_config, container_factory):
    cfg = dict(service_config)
    container = container_factory(counting_deliveries(AuditService), cfg)
    container.start()
    return cfg, container


@pytest.fixture
def audit_rpc(audit, rpc_proxy):
    return rpc_proxy("audit")


def verdict(rpc):
    """verify_chain's answer about the log itself (its `anchor` is checked where it matters)."""
    answer = rpc.verify_chain()
    return {key: answer[key] for key in ("valid", "entries", "first_broken_seq")}


@contextmanager
def insider(url):
    """A connection of someone who can write the audit database behind the service's back. On
    PostgreSQL the append-only trigger binds every role, so this is a superuser switching
    triggers off for the session (what only a database superuser can do)."""
    with engine_for(url).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        yield conn


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
    assert verdict(audit_rpc) == {
        "valid": True,
        "entries": len(events),
        "first_broken_seq": None,
    }


def test_a_redelivered_event_is_recorded_exactly_once(audit, audit_rpc):
    cfg, container = audit
    first = emit(cfg["AMQP_URI"], "auth", "login_succeeded", {"username": "luis"})
    publish(cfg["AMQP_URI"], first, first)  # the same event_id twice more
    marker = emit(cfg["AMQP_URI"], "auth", "logged_out", {"username": "luis", "reason": "logout"})
    recorded(audit_rpc, 1, event_type="logged_out")
    wait_for_deliveries(container, first, first, first, marker)  # every copy was handled
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
    assert verdict(audit_rpc) == {"valid": True, "entries": 40, "first_broken_seq": None}


def test_tampering_with_a_row_is_reported_at_its_seq(audit, audit_rpc):
    cfg, _ = audit
    publish(
        cfg["AMQP_URI"],
        *[make_envelope(source, kind, data) for source, kind, data in CATALOGUE[:5]],
    )
    recorded(audit_rpc, 5)
    assert audit_rpc.verify_chain()["valid"] is True
    with insider(cfg["AUDIT_DATABASE_URL"]) as conn:
        conn.execute(
            text("UPDATE audit_log SET data = :data WHERE seq = 3"),
            {"data": '{"username":"alguien-mas"}'},
        )
    assert verdict(audit_rpc) == {"valid": False, "entries": 3, "first_broken_seq": 3}


def test_deleting_the_last_row_is_reported(audit, audit_rpc):
    cfg, _ = audit
    publish(
        cfg["AMQP_URI"],
        *[make_envelope(source, kind, data) for source, kind, data in CATALOGUE[:3]],
    )
    recorded(audit_rpc, 3)
    with insider(cfg["AUDIT_DATABASE_URL"]) as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    assert verdict(audit_rpc) == {"valid": False, "entries": 2, "first_broken_seq": 3}


def rehash_from(conn, seq, data):
    """The insider's forgery: row `seq` gets `data`, and it and every later row, and the head,
    are recomputed with the published formula (plain sha256: the key is not in the database)."""
    rows = conn.execute(text("SELECT * FROM audit_log WHERE seq >= :s ORDER BY seq"), {"s": seq})
    prev = conn.execute(text("SELECT hash FROM audit_log WHERE seq = :s"), {"s": seq - 1}).scalar()
    for row in rows.mappings().all():
        content = data if row["seq"] == seq else json.loads(row["data"])
        digest = domain.entry_hash(
            prev,
            row["event_id"],
            row["source"],
            row["event_type"],
            domain.parse_instant(row["occurred_at"]),  # SQLite answers text here
            content,
        )
        conn.execute(
            text("UPDATE audit_log SET data = :d, prev_hash = :p, hash = :h WHERE seq = :s"),
            {"d": domain.canonical_json(content), "p": prev, "h": digest, "s": row["seq"]},
        )
        prev, last = digest, row["seq"]
    conn.execute(text("UPDATE chain_head SET seq = :s, hash = :h"), {"s": last, "h": prev})


def test_a_row_edited_and_rehashed_without_the_key_fails_against_the_anchor(
    audit, audit_rpc, monkeypatch, capsys
):
    cfg, _ = audit
    uri = cfg["AMQP_URI"]
    publish(uri, *[make_envelope(s, k, d) for s, k, d in CATALOGUE[:6]])
    recorded(audit_rpc, 6)
    anchored = audit_rpc.anchor_chain()
    assert anchored["seq"] == 6 and anchored["legacy_seq"] == 0
    publish(uri, *[make_envelope(s, k, d) for s, k, d in CATALOGUE[6:14]])
    recorded(audit_rpc, 14)
    assert audit_rpc.verify_chain()["valid"] is True
    with insider(cfg["AUDIT_DATABASE_URL"]) as conn:
        rehash_from(conn, 3, {"username": "maria", "member_number": None, "client_ip": "1"})
    answer = audit_rpc.verify_chain()
    assert answer["valid"] is False and answer["first_broken_seq"] == 3
    # it names the anchor it checked against: the file outside the database, its latest anchor
    assert answer["anchor"]["source"] == str(config.var_dir() / "audit-anchors.jsonl")
    assert answer["anchor"]["seq"] == 6 and answer["anchor"]["hash"] == anchored["hash"]
    assert answer["anchor"]["rejected"] == 0
    # the operator's command says the same
    monkeypatch.setenv("AMQP_URI", cfg["AMQP_URI"])
    assert audit_chain.main() == 1
    printed = capsys.readouterr().out
    assert "Bitácora ALTERADA: la entrada 3 no corresponde" in printed
    assert f"Ancla: {answer['anchor']['source']}, la última en seq 6" in printed


def test_the_anchor_file_is_appended_to_only_when_the_head_moved(audit, audit_rpc):
    cfg, _ = audit
    path = config.var_dir() / "audit-anchors.jsonl"
    first = audit_rpc.anchor_chain()  # the service anchored the empty log when it started
    assert first["seq"] == 0 and len(path.read_text().splitlines()) == 1
    emit(cfg["AMQP_URI"], "auth", "login_failed", {"username": "x"})
    recorded(audit_rpc, 1)
    second = audit_rpc.anchor_chain()
    assert second["seq"] == 1 and audit_rpc.anchor_chain() == second
    lines = path.read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [0, 1]
    assert audit_rpc.verify_chain()["anchor"]["checked"] == 2


def test_a_log_of_the_previous_release_stays_verifiable_after_the_upgrade(
    service_config, container_factory, make_db, rpc_proxy
):
    url = make_db("audit", migrate=False)
    upgrade("audit", url, revision="b4463955e069")  # the release before the key
    prev = domain.GENESIS_HASH
    with engine_for(url).begin() as conn:
        for seq, (source, kind, data) in enumerate(CATALOGUE[:3], start=1):
            record = domain.record_from_envelope(make_envelope(source, kind, data))
            digest = domain.entry_hash(
                prev,
                *(record[k] for k in ("event_id", "source", "event_type", "occurred_at")),
                record["data"],
            )
            conn.execute(
                text(
                    "INSERT INTO audit_log VALUES (:seq, :event_id, :source, :event_type, "
                    ":occurred_at, :occurred_at, :member_number, :data, :prev, :hash)"
                ),
                {
                    **record,
                    "seq": seq,
                    "data": domain.canonical_json(record["data"]),
                    "prev": prev,
                    "hash": digest,
                },
            )
            prev = digest
        conn.execute(text("UPDATE chain_head SET seq = 3, hash = :h"), {"h": prev})
    upgrade("audit", url)
    cfg = {**service_config, "AUDIT_DATABASE_URL": url}
    container_factory(AuditService, cfg).start()
    audit_rpc = rpc_proxy("audit")
    emit(cfg["AMQP_URI"], "auth", "logged_out", {"username": "ana", "reason": "logout"})
    entries = recorded(audit_rpc, 4)
    answer = audit_rpc.verify_chain()
    assert verdict(audit_rpc) == {"valid": True, "entries": 4, "first_broken_seq": None}
    # the old entries were anchored as they were found, before anything new was keyed
    assert answer["anchor"]["checked"] >= 1
    first_anchor = json.loads((config.var_dir() / "audit-anchors.jsonl").read_text().split()[0])
    assert (first_anchor["seq"], first_anchor["legacy_seq"]) == (3, 3)
    assert entries[0]["prev_hash"] == prev


def test_the_audit_role_cannot_update_or_delete_entries_on_postgresql(audit, audit_rpc):
    cfg, _ = audit
    url = cfg["AUDIT_DATABASE_URL"]
    if not url.startswith("postgres"):
        pytest.skip("the append-only trigger is PostgreSQL's (run with --db-backend postgres)")
    emit(cfg["AMQP_URI"], "auth", "login_failed", {"username": "x"})
    recorded(audit_rpc, 1)
    # the deployments connect as the role that owns the tables (and ran the migrations)
    role = f"portal_audit_{uuid.uuid4().hex[:8]}"
    admin = engine_for(url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(text(f"ALTER TABLE audit_log OWNER TO {role}"))
    owner = create_engine(
        url.replace("postgres@", f"{role}@", 1).replace(
            "postgresql://", "postgresql+psycopg2://", 1
        )
    )
    try:
        for statement in (
            "UPDATE audit_log SET data = '{}'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
        ):
            with pytest.raises(DBAPIError, match="append-only"), owner.begin() as conn:
                conn.execute(text(statement))
        with owner.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar() == 1
    finally:
        owner.dispose()
        with admin.begin() as conn:
            conn.execute(text("ALTER TABLE audit_log OWNER TO CURRENT_USER"))
            conn.execute(text(f"DROP ROLE {role}"))
    assert audit_rpc.verify_chain()["valid"] is True


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
    assert verdict(audit_rpc) == {"valid": True, "entries": 3, "first_broken_seq": None}


def test_an_unusable_envelope_is_refused_without_blocking_the_queue(audit, audit_rpc):
    cfg, container = audit
    broken = make_envelope("auth", "login_failed", {"username": "x"})
    broken["occurred_at"] = "el martes"
    publish(cfg["AMQP_URI"], broken)
    good = emit(cfg["AMQP_URI"], "auth", "login_failed", {"username": "y"})
    entries = recorded(audit_rpc, 1)
    wait_for_deliveries(container, broken, good)  # the broken one was handled too
    assert [e["event_id"] for e in audit_rpc.query()] == [good["event_id"]]
    assert entries[0]["data"] == {"username": "y"}
