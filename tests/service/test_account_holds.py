"""accounts holds the amount of a confirmed order (docs/payments.md) on the real broker: the saldo
disponible falls at once, the balance does not; the core's movement carrying the request_id ends
the hold once; a take is idempotent by request_id; two takes on the same funds, one succeeds.

SQLite by default; `--db-backend postgres` runs the same tests on PostgreSQL.
"""

import uuid

import eventlet
import pytest

from services.accounts.service import AccountsService
from services.common.errors import Conflict
from tests.service.core_tools import core_event, member_with_savings, publish_core
from tests.service.event_tools import wait_until

MEMBER = "200777"
ACCOUNT = "4200777001"


def movement(sequence, credit="0.00", debit="0.00", balance="0.00", request_id=None):
    data = {
        "account_number": ACCOUNT,
        "sequence": sequence,
        "date": "2026-03-02",
        "posted_at": "2026-03-02T15:00:00Z",
        "description": "Transferencia" if debit != "0.00" else "Depósito",
        "reference": f"REF-{sequence}",
        "debit": debit,
        "credit": credit,
        "balance": balance,
    }
    if request_id:
        data["request_id"] = request_id
    return core_event("movement_posted", data)


@pytest.fixture
def rpc(service_config, container_factory, rpc_proxy):
    config = {**service_config, "CORE_RETRY_DELAYS": "0.2,0.4", "CORE_NOT_YET_DELAYS": "0.2,0.4"}
    container_factory(AccountsService, config).start()
    proxy = rpc_proxy("accounts")
    publish_core(
        config["AMQP_URI"],
        *member_with_savings(MEMBER, ACCOUNT),
        movement(1, credit="100.00", balance="100.00"),
    )
    wait_until(lambda: balances(proxy) == ("100.00", "100.00"), message="deposit applied")
    return proxy


def balances(rpc):
    """(balance, available_balance) of the account as the member's list shows it."""
    for item in rpc.list_accounts(MEMBER):
        if item["account_number"] == ACCOUNT:
            return item["balance"], item["available_balance"]
    return None


def test_a_hold_lowers_available_and_the_core_movement_ends_it_once(rpc, service_config):
    request_id = str(uuid.uuid4())
    taken = rpc.take_hold(request_id, ACCOUNT, MEMBER, "30.00")
    assert (taken["status"], taken["available_balance"]) == ("taken", "70.00")
    assert balances(rpc) == ("100.00", "70.00")

    again = rpc.take_hold(request_id, ACCOUNT, MEMBER, "30.00")  # a retried take: no new hold
    assert (again["status"], again["amount"]) == ("taken", "30.00")
    assert balances(rpc) == ("100.00", "70.00")

    publish_core(
        service_config["AMQP_URI"],
        movement(2, debit="30.00", balance="70.00", request_id=request_id),
    )
    wait_until(lambda: balances(rpc) == ("70.00", "70.00"), message="movement applied")
    assert rpc.get_hold(request_id)["end_reason"] == "movement"

    # ended once: a release afterwards (a late rejection) gives nothing back
    released = rpc.release_hold(request_id, "rechazada")
    assert (released["status"], released["end_reason"]) == ("ended", "movement")
    # nor does a take again with the same id reserve anything
    assert rpc.take_hold(request_id, ACCOUNT, MEMBER, "30.00")["status"] == "ended"
    assert balances(rpc) == ("70.00", "70.00")


def test_release_ends_the_hold_once(rpc):
    request_id = str(uuid.uuid4())
    rpc.take_hold(request_id, ACCOUNT, MEMBER, "40.00")
    assert rpc.release_hold(request_id, "rechazada")["status"] == "ended"
    assert rpc.release_hold(request_id, "rechazada")["status"] == "ended"
    assert balances(rpc) == ("100.00", "100.00")
    assert rpc.release_hold(str(uuid.uuid4()), "rechazada")["status"] == "unknown"


def test_insufficient_funds_reserve_nothing(rpc):
    refused = rpc.take_hold(str(uuid.uuid4()), ACCOUNT, MEMBER, "100.01")
    assert (refused["status"], refused["reason_code"]) == ("refused", "fondos_insuficientes")
    assert "Fondos insuficientes" in refused["reason"]
    assert balances(rpc) == ("100.00", "100.00")


def test_a_request_id_reused_for_another_amount_is_a_conflict(rpc):
    request_id = str(uuid.uuid4())
    rpc.take_hold(request_id, ACCOUNT, MEMBER, "10.00")
    with pytest.raises(Conflict):
        rpc.take_hold(request_id, ACCOUNT, MEMBER, "20.00")
    assert balances(rpc) == ("100.00", "90.00")


def test_two_takes_on_the_same_funds_only_one_succeeds(rpc, rpc_proxy):
    other = rpc_proxy("accounts")
    pool = eventlet.GreenPool()
    takes = [
        pool.spawn(proxy.take_hold, str(uuid.uuid4()), ACCOUNT, MEMBER, "60.00")
        for proxy in (rpc, other)
    ]
    statuses = sorted(take.wait()["status"] for take in takes)
    assert statuses == ["refused", "taken"]
    assert balances(rpc) == ("100.00", "40.00")
