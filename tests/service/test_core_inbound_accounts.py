"""accounts applies the core's events from `core.events` (docs/integration.md) on the real broker.

SQLite by default; `--db-backend postgres` runs the same tests on PostgreSQL.
"""

import json
import logging
import random
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, select

from scripts import dead_letters, reconciliation
from services.accounts.models import outbox
from services.accounts.service import AccountsService
from services.common.clock import CLOCK
from tests.service.core_tools import core_event, parked, publish_core
from tests.service.event_tools import wait_until

MEMBER = "200501"
CEDULA = "1710034065"
STATEMENT_RANGE = ("2026-01-01", "2026-11-30", 1, 500)  # the movements are of March 2026


def member(**overrides):
    data = {
        "member_number": MEMBER,
        "identification": CEDULA,
        "first_names": "Lucía Elena",
        "last_names": "Andrade Vera",
        "email": "lucia.andrade@example.com",
        "phone": None,
        "status": "activo",
    }
    return core_event("member_upserted", {**data, **overrides})


def opened(account, member_number=MEMBER, product="AHORRO_VISTA"):
    return core_event(
        "account_opened",
        {
            "account_number": account,
            "member_number": member_number,
            "product": product,
            "opened_on": "2026-03-02",
        },
    )


def movement(account, sequence, credit="0.00", debit="0.00", balance="0.00", reference=None):
    return core_event(
        "movement_posted",
        {
            "account_number": account,
            "sequence": sequence,
            "date": "2026-03-02",
            "posted_at": "2026-03-02T15:00:00Z",
            "description": "Depósito en ventanilla" if credit != "0.00" else "Retiro",
            "reference": reference or f"REF-{account}-{sequence}",
            "debit": debit,
            "credit": credit,
            "balance": balance,
        },
    )


def deposits(account, amounts):
    """Consecutive credit movements 1..n with the right balances."""
    balance, events = Decimal("0.00"), []
    for n, amount in enumerate(amounts, start=1):
        balance += Decimal(amount)
        events.append(movement(account, n, credit=amount, balance=f"{balance:.2f}"))
    return events


@pytest.fixture
def core_config(service_config):
    config = dict(service_config)
    config["CORE_RETRY_DELAYS"] = "0.2,0.4"
    config["CORE_NOT_YET_DELAYS"] = "0.2,0.4"
    return config


@pytest.fixture
def accounts(core_config, container_factory):
    container_factory(AccountsService, core_config).start()
    return core_config


@pytest.fixture
def rpc(accounts, rpc_proxy):
    return rpc_proxy("accounts")


def balance_of(rpc, account, member_number=MEMBER):
    for item in rpc.list_accounts(member_number):
        if item["account_number"] == account:
            return item["balance"]
    return None


def statement(rpc, account):
    return rpc.get_statement(MEMBER, account, *STATEMENT_RANGE)["movements"]


def with_member_and_account(config, rpc, account="4200501001"):
    publish_core(config["AMQP_URI"], member(), opened(account))
    wait_until(lambda: balance_of(rpc, account) == "0.00", message="account opened")


def outbox_types(config):
    engine = create_engine(
        config["ACCOUNTS_DATABASE_URL"].replace("postgresql:", "postgresql+psycopg2:", 1)
    )
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.event_type, outbox.c.payload)).all()
    engine.dispose()
    return rows


def test_every_accounts_event_type_is_applied(accounts, rpc):
    uri = accounts["AMQP_URI"]
    publish_core(uri, member())
    wait_until(
        lambda: rpc.verify_member(MEMBER, CEDULA, "lucía", "andrade", "lucia.andrade@example.com")[
            "match"
        ],
        message="the new member can register",
    )
    publish_core(uri, opened("4200501001"))
    wait_until(lambda: balance_of(rpc, "4200501001") == "0.00", message="account opened")

    publish_core(
        uri,
        movement("4200501001", 1, credit="250.10", balance="250.10"),
        movement("4200501001", 2, debit="50.05", balance="200.05"),
    )
    wait_until(lambda: balance_of(rpc, "4200501001") == "200.05", message="movements applied")
    lines = statement(rpc, "4200501001")
    assert [(m["reference"], m["debit"], m["credit"], m["balance"]) for m in lines] == [
        ("REF-4200501001-1", "0.00", "250.10", "250.10"),
        ("REF-4200501001-2", "50.05", "0.00", "200.05"),
    ]
    # the portal's own events, through the outbox
    types = [row.event_type for row in outbox_types(accounts)]
    assert types.count("movement_posted") == 2 and types.count("member_updated") == 1

    # a changed e-mail and status reach the record and go out as accounts.member_updated
    publish_core(uri, member(email="lucia.nueva@example.com", status="inactivo"))
    wait_until(lambda: rpc.get_member(MEMBER)["status"] == "inactivo", message="member updated")
    assert rpc.get_member(MEMBER)["email"] == "lucia.nueva@example.com"
    updates = [r.payload for r in outbox_types(accounts) if r.event_type == "member_updated"]
    assert len(updates) == 2 and "lucia.nueva@example.com" in updates[1]
    assert CEDULA not in updates[1]

    publish_core(
        uri,
        core_event("account_closed", {"account_number": "4200501001", "closed_on": "2026-03-03"}),
    )
    wait_until(lambda: rpc.list_accounts(MEMBER) == [], message="account left the position")
    assert len(statement(rpc, "4200501001")) == 2  # its statement stays readable


@pytest.mark.pg  # row locks, savepoints and bulk SQL differ on PostgreSQL
def test_redelivered_event_and_repeated_reference_apply_once(accounts, rpc):
    uri = accounts["AMQP_URI"]
    with_member_and_account(accounts, rpc)
    first = movement("4200501001", 1, credit="100.00", balance="100.00")
    again = core_event("movement_posted", first["data"])  # same movement, new event_id
    publish_core(uri, first, first, again)
    publish_core(uri, movement("4200501001", 2, credit="1.00", balance="101.00"))
    wait_until(lambda: balance_of(rpc, "4200501001") == "101.00", message="second movement")
    assert [m["balance"] for m in statement(rpc, "4200501001")] == ["100.00", "101.00"]
    # the same core reference under the next sequence: refused, applied once
    publish_core(
        uri,
        movement("4200501001", 3, credit="100.00", balance="201.00", reference="REF-4200501001-1"),
    )
    refused = wait_until(lambda: parked(uri, "accounts"), message="parked repeated reference")
    assert "REF-4200501001-1 ya fue aplicada" in refused[0][0]["x-portal-refusal"]
    assert balance_of(rpc, "4200501001") == "101.00"


@pytest.mark.pg  # row locks, savepoints and bulk SQL differ on PostgreSQL
def test_out_of_order_movements_are_held_then_applied(accounts, rpc):
    uri = accounts["AMQP_URI"]
    with_member_and_account(accounts, rpc)
    one, two, three = deposits("4200501001", ["10.00", "20.00", "30.00"])
    publish_core(uri, three)
    wait_until(lambda: rpc.inbound_status()["held"] == 1, message="movement 3 held")
    assert balance_of(rpc, "4200501001") == "0.00"
    publish_core(uri, one)
    wait_until(lambda: balance_of(rpc, "4200501001") == "10.00", message="movement 1")
    publish_core(uri, two)
    wait_until(lambda: balance_of(rpc, "4200501001") == "60.00", message="2 then the held 3")
    assert [m["reference"] for m in statement(rpc, "4200501001")] == [
        "REF-4200501001-1",
        "REF-4200501001-2",
        "REF-4200501001-3",
    ]
    assert rpc.inbound_status()["held"] == 0


def dated(event, day):
    return with_data(event, date=day)


def with_data(event, **changes):
    event["data"].update(changes)
    return event


def raw(event, key=None, content_type="application/json"):
    """How publish_core sends an envelope as raw bytes, under another routing key or type."""
    body = json.dumps(event, ensure_ascii=False).encode()
    return {"raw": body, "routing_key": key or event["event_type"], "content_type": content_type}


TOMORROW = (CLOCK.today() + timedelta(days=1)).isoformat()  # later than the core's business day

REFUSALS = [
    ("no_json", None, "El mensaje no es JSON válido"),
    (
        "dato_invalido",
        dated(movement("4200501001", 1, credit="10.00", balance="10.00"), TOMORROW),
        f"La fecha {TOMORROW} es posterior a la fecha de negocio del core",
    ),
    (
        "sobre_invalido",
        {"event_type": "movement_posted", "data": {}},
        "Faltan campos del sobre: event_id",
    ),
    ("dato_invalido", movement("4200501001", 1, credit="10.005", balance="10.01"), "dos decimales"),
    ("dato_invalido", movement("4200501001", 1, credit="-10.00", balance="10.00"), "negativo"),
    (
        "dato_invalido",
        movement("4200501001", 1, credit="10.00", balance="12.00"),
        "El saldo no cuadra: saldo anterior 0.00 + crédito 10.00 − débito 0.00 ≠ 12.00",
    ),
    (
        "desconocido",
        movement("4299999999", 1, credit="10.00", balance="10.00"),
        "La cuenta 4299999999 no existe",
    ),
    # strict shapes (docs/integration.md, "Strict shapes")
    (
        "dato_invalido",
        movement("4200501001", 1, credit=10.0, balance="10.00"),
        'credit: Escriba el monto como texto con dos decimales ("10.00"), no como número.',
    ),
    (
        "dato_invalido",
        with_data(movement("4200501001", 1, credit="10.00", balance="10.00"), sequence="1"),
        "sequence: Debe ser un número entero.",
    ),
    (
        "sobre_invalido",
        raw(movement("4200501001", 1, credit="10.00", balance="10.00"), content_type="text/plain"),
        "Tipo de contenido no admitido: text/plain (se espera application/json).",
    ),
    (
        "sobre_invalido",
        with_data(movement("4200501001", 1, credit="10.00", balance="10.00"), note="x" * 64 * 1024),
        "bytes; el máximo es 65536 (64 KiB).",
    ),
    (
        "sobre_invalido",  # bound to core.accounts too: it would be applied as what it says
        raw(movement("4200501001", 1, credit="10.00", balance="10.00"), key="account_closed"),
        "La clave de ruteo account_closed no es el event_type movement_posted.",
    ),
]


@pytest.mark.parametrize(("kind", "bad", "reason"), REFUSALS, ids=[r[2][:20] for r in REFUSALS])
def test_refused_event_is_parked_with_its_reason_counted_and_the_next_applies(
    accounts, rpc, kind, bad, reason
):
    uri = accounts["AMQP_URI"]
    with_member_and_account(accounts, rpc)
    if bad is None:
        publish_core(uri, raw=b"{not json", routing_key="movement_posted")
    elif "raw" in bad:
        publish_core(uri, **bad)
    else:
        publish_core(uri, bad)
    publish_core(uri, movement("4200501001", 1, credit="10.00", balance="10.00"))
    wait_until(lambda: balance_of(rpc, "4200501001") == "10.00", message="good event applied")
    dead = wait_until(lambda: parked(uri, "accounts"), message="refused event parked")
    assert len(dead) == 1
    headers, _ = dead[0]
    assert reason in headers["x-portal-refusal"]
    assert headers["x-portal-refusal-kind"] == kind
    assert headers["x-portal-event-type"] == "movement_posted"
    counts = wait_until(
        lambda: {r["kind"]: r["count"] for r in rpc.inbound_status()["refusals"]},
        message="the refusal counted",
    )
    assert counts == {kind: 1}


def test_operators_see_parked_core_events_with_their_reason(accounts, rpc, monkeypatch, capsys):
    uri = accounts["AMQP_URI"]
    with_member_and_account(accounts, rpc)
    bad = movement("4200501001", 1, credit="10.00", balance="12.00")
    publish_core(uri, bad)
    monkeypatch.setenv("AMQP_URI", uri)

    def listed():
        dead_letters.main()
        out = capsys.readouterr().out
        return out if bad["event_id"] in out else None

    out = wait_until(listed, message="the parked event listed")
    assert "core.accounts.dead" in out
    assert "movement_posted" in out and "El saldo no cuadra" in out


@pytest.mark.pg  # row locks, savepoints and bulk SQL differ on PostgreSQL
def test_a_movement_dated_before_its_predecessor_is_refused_and_the_next_applies(accounts, rpc):
    uri = accounts["AMQP_URI"]
    with_member_and_account(accounts, rpc)
    publish_core(uri, movement("4200501001", 1, credit="10.00", balance="10.00"))
    wait_until(lambda: balance_of(rpc, "4200501001") == "10.00", message="movement 1")
    back = dated(movement("4200501001", 2, credit="5.00", balance="15.00"), "2026-03-01")
    publish_core(uri, back)
    dead = wait_until(lambda: parked(uri, "accounts"), message="back-dated movement parked")
    assert (
        "La fecha 2026-03-01 es anterior a la del movimiento anterior (2026-03-02) "
        "(cuenta 4200501001, secuencia 2)" in dead[0][0]["x-portal-refusal"]
    )
    assert back["event_id"] in dead[0][1] and balance_of(rpc, "4200501001") == "10.00"
    # the core posts it again with its posting date: applied, the statement in sequence order
    corrected = dated(movement("4200501001", 2, credit="5.00", balance="15.00"), "2026-03-03")
    publish_core(uri, corrected)
    wait_until(lambda: balance_of(rpc, "4200501001") == "15.00", message="movement 2")
    assert [(m["date"], m["balance"]) for m in statement(rpc, "4200501001")] == [
        ("2026-03-02", "10.00"),
        ("2026-03-03", "15.00"),
    ]


@pytest.mark.pg  # row locks, savepoints and bulk SQL differ on PostgreSQL
def test_an_event_id_reused_with_other_content_is_parked_and_counted(accounts, rpc):
    uri = accounts["AMQP_URI"]
    with_member_and_account(accounts, rpc)
    first = movement("4200501001", 1, credit="10.00", balance="10.00")
    publish_core(uri, first)
    wait_until(lambda: balance_of(rpc, "4200501001") == "10.00", message="movement 1")
    reuse = movement("4200501001", 2, credit="5.00", balance="15.00")
    reuse["event_id"] = first["event_id"]
    publish_core(uri, reuse, first)  # the other content is refused; the same again does nothing
    dead = wait_until(lambda: parked(uri, "accounts"), message="the reused event_id parked")
    assert len(dead) == 1 and '"REF-4200501001-2"' in dead[0][1]
    assert dead[0][0]["x-portal-refusal"].startswith(
        f"event_id reutilizado con otro contenido: {first['event_id']}"
    )
    counts = wait_until(
        lambda: {r["kind"]: r["count"] for r in rpc.inbound_status()["refusals"]},
        message="the refusal counted",
    )
    assert counts == {"id_reutilizado": 1}
    # the core sends movement 2 under its own event_id: applied
    publish_core(uri, movement("4200501001", 2, credit="5.00", balance="15.00"))
    wait_until(lambda: balance_of(rpc, "4200501001") == "15.00", message="movement 2")
    assert [m["balance"] for m in statement(rpc, "4200501001")] == ["10.00", "15.00"]
    assert parked(uri, "accounts") == []


@pytest.mark.pg  # row locks, savepoints and bulk SQL differ on PostgreSQL
def test_same_sequence_with_other_content_is_refused(accounts, rpc):
    uri = accounts["AMQP_URI"]
    with_member_and_account(accounts, rpc)
    publish_core(uri, movement("4200501001", 1, credit="10.00", balance="10.00"))
    wait_until(lambda: balance_of(rpc, "4200501001") == "10.00", message="movement 1")
    publish_core(uri, movement("4200501001", 1, credit="99.00", balance="99.00", reference="X"))
    dead = wait_until(lambda: parked(uri, "accounts"), message="conflict parked")
    assert (
        "secuencia 1 de account:4200501001 ya fue aplicada con otro contenido"
        in (dead[0][0]["x-portal-refusal"])
    )
    assert balance_of(rpc, "4200501001") == "10.00"


@pytest.mark.pg  # row locks, savepoints and bulk SQL differ on PostgreSQL
def test_two_instances_keep_each_account_in_order(core_config, container_factory, rpc_proxy):
    for _ in range(2):
        container_factory(AccountsService, core_config).start()
    rpc = rpc_proxy("accounts")
    uri = core_config["AMQP_URI"]
    numbers = ["4200501001", "4200501002", "4200501003"]
    publish_core(uri, member(), *(opened(n) for n in numbers))
    wait_until(lambda: len(rpc.list_accounts(MEMBER)) == 3, message="accounts opened")
    events = []
    for number in numbers:
        events += deposits(number, [f"{n}.01" for n in range(1, 31)])
    random.Random(7).shuffle(events)
    publish_core(uri, *events)
    expected = f"{sum(Decimal(f'{n}.01') for n in range(1, 31)):.2f}"
    wait_until(
        lambda: all(balance_of(rpc, n) == expected for n in numbers),
        timeout=60,
        message="every movement applied",
    )
    for number in numbers:
        lines = statement(rpc, number)
        assert [m["reference"] for m in lines] == [f"REF-{number}-{n}" for n in range(1, 31)]
    assert rpc.inbound_status()["held"] == 0
    assert parked(uri, "accounts") == []


def day_closed(business_date, accounts_, chunk=1, chunks=1):
    return core_event(
        "day_closed",
        {"business_date": business_date, "chunk": chunk, "chunks": chunks, "accounts": accounts_},
    )


def test_reconciliation_without_differences_says_so(accounts, rpc, monkeypatch, capsys):
    uri = accounts["AMQP_URI"]
    with_member_and_account(accounts, rpc)
    publish_core(uri, *deposits("4200501001", ["10.00", "5.50"]))
    wait_until(lambda: balance_of(rpc, "4200501001") == "15.50", message="movements")
    publish_core(
        uri,
        day_closed(
            "2026-03-02", [{"account_number": "4200501001", "balance": "15.50", "last_sequence": 2}]
        ),
    )
    day = wait_until(
        lambda: rpc.reconciliation("2026-03-02")["found"] and rpc.reconciliation("2026-03-02")
    )
    assert day["complete"] and day["differences"] == []
    assert "reconciliation_failed" not in [r.event_type for r in outbox_types(accounts)]
    monkeypatch.setenv("AMQP_URI", accounts["AMQP_URI"])
    assert reconciliation.main("2026-03-02") == 0
    assert "Sin diferencias" in capsys.readouterr().out


def test_a_close_that_overtakes_the_days_last_movement_waits_for_it(accounts, rpc):
    """The core closes the day right after its last movement; the portal may receive the close
    first. It waits for the movement instead of recording a difference that is not one, and a
    movement of the next day applied already is no difference either."""
    uri = accounts["AMQP_URI"]
    with_member_and_account(accounts, rpc)
    first, last = deposits("4200501001", ["10.00", "5.50"])
    publish_core(uri, first)
    wait_until(lambda: balance_of(rpc, "4200501001") == "10.00", message="first movement")
    close = day_closed(
        "2026-03-02", [{"account_number": "4200501001", "balance": "15.50", "last_sequence": 2}]
    )
    close["occurred_at"] = CLOCK.now().strftime("%Y-%m-%dT%H:%M:%SZ")  # just closed
    next_day = movement("4200501001", 3, credit="1.00", balance="16.50")
    next_day["data"]["date"] = "2026-03-03"
    publish_core(uri, close)
    publish_core(uri, last, next_day)
    day = wait_until(
        lambda: (r := rpc.reconciliation("2026-03-02")).get("complete") and r, message="day closed"
    )
    assert day["differences"] == []
    assert balance_of(rpc, "4200501001") == "16.50"


@pytest.mark.pg  # row locks, savepoints and bulk SQL differ on PostgreSQL
def test_reconciliation_records_every_difference_across_chunks(accounts, rpc, monkeypatch, capsys):
    uri = accounts["AMQP_URI"]
    with_member_and_account(accounts, rpc)
    publish_core(uri, *deposits("4200501001", ["10.00", "5.50"]))
    wait_until(lambda: balance_of(rpc, "4200501001") == "15.50", message="movements")
    first = day_closed(
        "2026-03-02",
        [{"account_number": "4200501001", "balance": "20.50", "last_sequence": 3}],
        chunk=1,
        chunks=2,
    )
    second = day_closed(
        "2026-03-02",
        [{"account_number": "4200509999", "balance": "1.00", "last_sequence": 1}],
        chunk=2,
        chunks=2,
    )
    publish_core(uri, first)
    wait_until(lambda: rpc.reconciliation("2026-03-02")["found"], message="first chunk")
    assert rpc.reconciliation("2026-03-02")["complete"] is False
    publish_core(uri, second, first)  # a chunk sent twice counts once
    day = wait_until(
        lambda: (r := rpc.reconciliation("2026-03-02"))["complete"] and r, message="complete"
    )
    assert sorted(
        (d["account_number"], d["kind"], d["portal"], d["core"]) for d in day["differences"]
    ) == [
        ("4200501001", "balance", "15.50", "20.50"),
        ("4200501001", "sequence_behind", "2", "3"),
        ("4200509999", "unknown_account", None, "1.00"),
    ]
    failed = wait_until(
        lambda: [
            r.payload for r in outbox_types(accounts) if r.event_type == "reconciliation_failed"
        ],
        message="reconciliation_failed emitted",
    )
    assert len(failed) == 1 and '"differences": 3' in failed[0]
    monkeypatch.setenv("AMQP_URI", accounts["AMQP_URI"])
    assert reconciliation.main() == 1  # the last closed day
    printed = capsys.readouterr().out
    assert "3 diferencia(s)" in printed
    assert "4200501001" in printed and "saldo distinto" in printed and "20.50" in printed


def test_refusals_appear_in_the_gateway_metrics(
    accounts, container_factory, http_session, monkeypatch
):
    from gateway.service import GatewayService

    token = "ops-" + "m" * 40  # /metrics is for operators only (docs/operations.md, "Metrics")
    monkeypatch.setenv("METRICS_TOKEN", token)
    container_factory(GatewayService, accounts).start()
    publish_core(accounts["AMQP_URI"], movement("4200501001", 1, credit="1.001", balance="1.00"))
    counted = 'portal_core_refusals_total{kind="dato_invalido",service="accounts"} 1.0'

    def metrics_with_refusal():
        page = http_session.get("/metrics", headers={"Authorization": f"Bearer {token}"}).text
        return page if counted in page else None

    text = wait_until(metrics_with_refusal, message="the refusal counted in /metrics")
    assert 'portal_core_inbound_status_up{service="accounts"} 1.0' in text
    # credit and deposit do not run here: the page still answers and says so
    assert 'portal_core_inbound_status_up{service="credit"} 0.0' in text


def test_held_movement_that_does_not_add_up_is_parked_when_its_turn_comes(accounts, rpc):
    uri = accounts["AMQP_URI"]
    with_member_and_account(accounts, rpc)
    wrong_two = movement("4200501001", 2, credit="5.00", balance="99.00")
    publish_core(uri, wrong_two)
    wait_until(lambda: rpc.inbound_status()["held"] == 1, message="movement 2 held")
    publish_core(uri, movement("4200501001", 1, credit="10.00", balance="10.00"))
    dead = wait_until(lambda: parked(uri, "accounts"), message="held movement 2 parked")
    assert (
        "El saldo no cuadra: saldo anterior 10.00 + crédito 5.00" in dead[0][0]["x-portal-refusal"]
    )
    assert wrong_two["event_id"] in dead[0][1]
    assert balance_of(rpc, "4200501001") == "10.00" and rpc.inbound_status()["held"] == 0
    # the core sends the corrected movement 2: applied
    publish_core(uri, movement("4200501001", 2, credit="5.00", balance="15.00"))
    wait_until(lambda: balance_of(rpc, "4200501001") == "15.00", message="corrected movement 2")


@pytest.mark.pg  # row locks, savepoints and bulk SQL differ on PostgreSQL
def test_a_refused_event_in_the_middle_of_a_batch_is_parked_alone(
    core_config, container_factory, rpc_proxy, caplog
):
    """Events that waited while accounts was down arrive together and are applied in one batch:
    the wrong one in the middle is parked with its reason; the others (a repeated delivery, a
    member change between movements included) are applied once each."""
    first = container_factory(AccountsService, core_config)
    first.start()
    rpc = rpc_proxy("accounts")
    uri = core_config["AMQP_URI"]
    publish_core(uri, member(), opened("4200501001"), opened("4200501002"))
    wait_until(lambda: len(rpc.list_accounts(MEMBER)) == 2, message="accounts opened")
    first.stop()
    two = movement("4200501001", 2, debit="0.50", balance="9.50")
    wrong = movement("4200501002", 1, credit="5.00", balance="6.00")
    publish_core(
        uri,
        movement("4200501001", 1, credit="10.00", balance="10.00"),
        two,
        wrong,
        member(email="lucia.nueva@example.com"),
        two,
        movement("4200501002", 2, credit="1.00", balance="1.00", reference="held-behind-wrong"),
        movement("4200501001", 3, credit="0.75", balance="10.25"),
    )
    caplog.set_level(logging.DEBUG, logger="services.common.inbound")
    container_factory(AccountsService, core_config).start()
    dead = wait_until(lambda: parked(uri, "accounts"), message="the wrong movement parked")
    wait_until(lambda: balance_of(rpc, "4200501001") == "10.25", message="the others applied")
    assert [(m["reference"], m["balance"]) for m in statement(rpc, "4200501001")] == [
        ("REF-4200501001-1", "10.00"),
        ("REF-4200501001-2", "9.50"),
        ("REF-4200501001-3", "10.25"),
    ]
    assert rpc.get_member(MEMBER)["email"] == "lucia.nueva@example.com"
    assert len(dead) == 1 and wrong["event_id"] in dead[0][1]
    assert (
        "El saldo no cuadra: saldo anterior 0.00 + crédito 5.00 − débito 0.00 ≠ 6.00"
        in dead[0][0]["x-portal-refusal"]
    )
    # the wrong one applied nothing; its successor waits for a corrected movement 1
    assert balance_of(rpc, "4200501002") == "0.00"
    status = rpc.inbound_status()
    assert status["held"] == 1
    assert {r["kind"]: r["count"] for r in status["refusals"]} == {"dato_invalido": 1}
    types = [row.event_type for row in outbox_types(core_config)]
    assert types.count("movement_posted") == 3 and types.count("member_updated") == 2
    # in batches (the six of core.accounts were waiting; a quorum queue may hand them over in
    # two deliveries), which did not fall back to one at a time; the member change came through
    # its own queue (core.accounts.members)
    batches = [r.args[0] for r in caplog.records if r.msg.startswith("applying a batch")]
    assert sum(batches) == 6 and len(batches) <= 2, batches
    assert not [r for r in caplog.records if "one by one" in r.getMessage()]
