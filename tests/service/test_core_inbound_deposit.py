"""deposit applies the core's events from `core.events` (docs/integration.md) on the real broker:
a term deposit opened at the counter appears in "Plazo fijo" and the position; closed (at
maturity, renewed or cancelled early) it leaves them.

SQLite by default; `--db-backend postgres` runs the same tests on PostgreSQL.
"""

from datetime import timedelta

import pytest
from sqlalchemy import select

from services.accounts.service import AccountsService
from services.common.db import session_scope
from services.deposit.models import TermDeposit, outbox
from services.deposit.service import DepositService
from tests.conftest import load_demo
from tests.service import event_tools
from tests.service.lifecycle_core import core_event, parked, publish_core


def wait_until(check, timeout=30, **kwargs):
    """event_tools.wait_until with room for a busy machine (a deadline, never a fixed sleep)."""
    return event_tools.wait_until(check, timeout=timeout, **kwargs)


JOSE = "100517"


@pytest.fixture
def core_config(service_config, today):
    load_demo(service_config, today, services=["accounts"], count=3)
    config = dict(service_config)
    config["CORE_RETRY_DELAYS"] = "0.2,0.4"
    config["CORE_NOT_YET_DELAYS"] = "0.5,1"
    return config


@pytest.fixture
def deposit(core_config, container_factory):
    for cls in (AccountsService, DepositService):
        container_factory(cls, core_config).start()
    return core_config


@pytest.fixture
def rpc(deposit, rpc_proxy):
    return rpc_proxy("deposit")


def opened(today, number, member=JOSE, amount="5000.00", term_days=181, days_ago=10, **changes):
    start = today - timedelta(days=days_ago)
    data = {
        "deposit_number": number,
        "member_number": member,
        "amount": amount,
        "annual_rate": "7.43",
        "term_days": term_days,
        "opened_on": start.isoformat(),
        "maturity_date": (start + timedelta(days=term_days)).isoformat(),
        "interest_payment": "maturity",
    }
    data.update(changes)
    return core_event("deposit_opened", data)


def closed(today, number, reason="precancelacion", renewed_as=None):
    data = {
        "deposit_number": number,
        "closed_on": today.isoformat(),
        "reason": reason,
        "renewed_as": renewed_as,
    }
    return core_event("deposit_closed", data)


def numbers(rpc, member=JOSE):
    return [d["deposit_number"] for d in rpc.list_deposits(member)]


def outbox_types(config):
    with session_scope(config["DEPOSIT_DATABASE_URL"]) as session:
        return session.scalars(select(outbox.c.event_type).order_by(outbox.c.id)).all()


def test_a_deposit_opened_appears_and_a_renewal_replaces_it(deposit, rpc, today):
    uri = deposit["AMQP_URI"]
    assert numbers(rpc) == []
    publish_core(uri, opened(today, "DPF-100517-01"))
    wait_until(lambda: numbers(rpc) == ["DPF-100517-01"], message="the deposit appears")
    [line] = rpc.deposits_summary(JOSE)
    assert (line["amount"], line["annual_rate"]) == ("5000.00", "7.43")
    assert line["opened_on"] == (today - timedelta(days=10)).isoformat()
    [shown] = rpc.list_deposits(JOSE)
    assert shown["maturity_date"] == (today + timedelta(days=171)).isoformat()

    publish_core(
        uri,
        closed(today, "DPF-100517-01", "renovacion", renewed_as="DPF-100517-02"),
        opened(today, "DPF-100517-02", amount="5185.00", term_days=90, days_ago=0),
    )
    wait_until(lambda: numbers(rpc) == ["DPF-100517-02"], message="the renewal replaces it")
    with session_scope(deposit["DEPOSIT_DATABASE_URL"]) as session:
        old = session.get(TermDeposit, "DPF-100517-01")
        assert (old.status, old.close_reason, old.renewed_as) == (
            "cerrado",
            "renovacion",
            "DPF-100517-02",
        )
    publish_core(uri, closed(today, "DPF-100517-02", "precancelacion"))
    wait_until(lambda: numbers(rpc) == [], message="the early cancellation")
    assert rpc.deposits_summary(JOSE) == []
    assert outbox_types(deposit) == [
        "deposit_opened",
        "deposit_closed",
        "deposit_opened",
        "deposit_closed",
    ]


@pytest.mark.pg  # row locks, savepoints and bulk SQL differ on PostgreSQL
def test_redelivered_and_repeated_events_apply_once(deposit, rpc, today):
    uri = deposit["AMQP_URI"]
    first = opened(today, "DPF-100517-03")
    again = {
        **first,
        "event_id": "2b1c5a54-2f55-4d2c-9b37-000000000003",
    }  # same deposit, told again
    publish_core(uri, first, first, again)
    wait_until(lambda: len(outbox_types(deposit)) == 1 and numbers(rpc) == ["DPF-100517-03"])
    close = closed(today, "DPF-100517-03")
    publish_core(uri, close, close, {**close, "event_id": "2b1c5a54-2f55-4d2c-9b37-000000000004"})
    wait_until(lambda: numbers(rpc) == [], message="closed")
    wait_until(lambda: len(outbox_types(deposit)) == 2)
    assert parked(uri, "deposit") == []


def test_a_closing_that_overtakes_its_opening_waits_for_it(deposit, rpc, today):
    uri = deposit["AMQP_URI"]
    publish_core(uri, closed(today, "DPF-100517-05"), opened(today, "DPF-100517-05"))
    wait_until(lambda: outbox_types(deposit) == ["deposit_opened", "deposit_closed"])
    assert numbers(rpc) == []
    assert parked(uri, "deposit") == []


@pytest.mark.pg  # row locks, savepoints and bulk SQL differ on PostgreSQL
def test_each_refusal_is_parked_with_its_reason_and_the_next_event_applies(deposit, rpc, today):
    uri = deposit["AMQP_URI"]
    first = opened(today, "DPF-100517-06")
    publish_core(uri, first, closed(today, "DPF-100517-06"))
    wait_until(lambda: len(outbox_types(deposit)) == 2)
    missing = opened(today, "DPF-100517-10")
    del missing["data"]["interest_payment"]
    maturity = (today + timedelta(days=200)).isoformat()
    bad = [
        opened(today, "DPF-100517-07", amount="5000.005"),
        opened(today, "DPF-100517-08", amount="-5000.00"),
        missing,
        opened(today, "DPF-100517-11", maturity_date=maturity),
        opened(today, "DPF-100517-06", amount="9000.00"),  # the same number, other content
        closed(today, "DPF-100517-06", "vencimiento"),  # already closed otherwise
        closed(today, "DPF-100517-06", "renovacion"),
        closed(today, "DPF-NO-EXISTE"),
        opened(today, "DPF-999999-01", member="999999"),
        # strict shapes (docs/integration.md, "Strict shapes")
        opened(today, "DPF-100517-13", amount=5000.0),
        opened(today, "DPF-100517-14", annual_rate=7.43),
        opened(today, "DPF-100517-15", annual_rate="7.4325"),
        opened(today, "DPF-100517-16", term_days=181.0),
        opened(today, "DPF-100517-1234567890"),  # 21 characters: at most 20
        {**opened(today, "DPF-100517-17"), "event_id": first["event_id"]},  # an id reused
    ]
    publish_core(uri, *bad)
    reasons = {}
    wait_until(
        lambda: (
            reasons.update({e["event_id"]: r for r, e in parked(uri, "deposit")})
            or len(reasons) == len(bad)
        ),
        timeout=30,
        message="every bad event parked",
    )
    start = today - timedelta(days=10)
    assert [reasons[event["event_id"]] for event in bad] == [
        "deposit_opened rechazado: amount: Use como máximo dos decimales.",
        "deposit_opened rechazado: amount: Debe ser mayor que 0.",
        "deposit_opened rechazado: interest_payment: Este campo es obligatorio.",
        f"deposit_opened rechazado: maturity_date: No corresponde al plazo: 181 días desde "
        f"{start:%Y-%m-%d} vencen el {start + timedelta(days=181):%Y-%m-%d}.",
        "El depósito DPF-100517-06 ya existe con otros datos.",
        "El depósito DPF-100517-06 ya fue cerrado con otros datos.",
        "deposit_closed rechazado: renewed_as: Una renovación indica el número del nuevo depósito.",
        "El depósito DPF-NO-EXISTE no existe en el portal.",
        "El socio 999999 no existe en el portal.",
        'deposit_opened rechazado: amount: Escriba el monto como texto con dos decimales ("10.00"),'
        " no como número.",
        "deposit_opened rechazado: annual_rate: Escriba la tasa como texto en porcentaje con dos "
        'decimales ("16.77").',
        "deposit_opened rechazado: annual_rate: Escriba la tasa como texto en porcentaje con dos "
        'decimales ("16.77").',
        "deposit_opened rechazado: term_days: Debe ser un número entero.",
        "deposit_opened rechazado: deposit_number: Número de depósito inválido.",
        f"event_id reutilizado con otro contenido: {first['event_id']} ya se aplicó a un evento "
        "distinto de este deposit_opened.",
    ]
    assert numbers(rpc) == [] and len(outbox_types(deposit)) == 2  # nothing of them applied
    expected = {"dato_invalido": 10, "conflicto": 2, "desconocido": 2, "id_reutilizado": 1}
    wait_until(
        lambda: {r["kind"]: r["count"] for r in rpc.inbound_status()["refusals"]} == expected
    )
    publish_core(uri, opened(today, "DPF-100517-12"))
    wait_until(lambda: numbers(rpc) == ["DPF-100517-12"], message="the next good event applies")


@pytest.mark.pg  # row locks, savepoints and bulk SQL differ on PostgreSQL
def test_two_instances_apply_every_deposit_once(core_config, container_factory, rpc_proxy, today):
    container_factory(AccountsService, core_config).start()
    for _ in range(2):
        container_factory(DepositService, core_config).start()
    rpc = rpc_proxy("deposit")
    events = []
    for n in range(1, 21):
        number = f"DPF-100517-{n + 20:02d}"
        events.append(opened(today, number, amount=f"{1000 + n}.00"))
        if n % 2:
            events.append(closed(today, number))
    publish_core(core_config["AMQP_URI"], *events, *events)  # every event delivered twice
    expected = [f"DPF-100517-{n + 20:02d}" for n in range(2, 21, 2)]
    wait_until(lambda: numbers(rpc) == expected, timeout=60, message="ten deposits open")
    wait_until(lambda: len(outbox_types(core_config)) == 30, message="each event applied once")
    assert sorted(outbox_types(core_config)) == ["deposit_closed"] * 10 + ["deposit_opened"] * 20
