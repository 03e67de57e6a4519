"""accounts on the real broker, on SQLite and on PostgreSQL."""

from datetime import timedelta
from decimal import Decimal

import pytest
from nameko.testing.services import entrypoint_waiter

from services.accounts.service import AccountsService
from services.common.errors import NotFound, ValidationError
from tests.conftest import load_demo

# also run on PostgreSQL (-m pg --db-backend postgres):
# statements, pagination and balances are SQL queries
pytestmark = pytest.mark.pg


@pytest.fixture
def accounts(service_config, container_factory, today):
    service_config = dict(service_config)
    load_demo(service_config, today, services=["accounts"], count=5)
    container = container_factory(AccountsService, service_config)
    container.start()
    return service_config


@pytest.fixture
def rpc(accounts, rpc_proxy):
    return rpc_proxy("accounts")


def test_verify_member_answers_yes_or_no_only(rpc):
    yes = rpc.verify_member("100781", "0104567896", "ana", "TORRES", "ana.torres@example.com")
    no = rpc.verify_member("100781", "0104567896", "ana", "Pérez", "ana.torres@example.com")
    assert yes == {"match": True}
    assert no == {"match": False}


def test_get_member_masks_identification(rpc):
    member = rpc.get_member("100234")
    assert member["display_name"] == "María Pérez"
    assert member["identification_masked"] == "17******75"
    assert "identification" not in member


def test_list_accounts_of_maria(rpc):
    accounts = rpc.list_accounts("100234")
    assert [a["account_number"] for a in accounts] == ["4100234001", "4100234002", "4100234003"]
    assert accounts[0]["product_name"] == "Ahorro a la vista"
    assert Decimal(accounts[0]["balance"]) > 0


def test_statement_balances_are_consistent_over_the_range_and_across_pages(rpc, today):
    frm, to = (today - timedelta(days=365)).isoformat(), today.isoformat()
    first = rpc.get_statement("100234", "4100234001", frm, to, 1, 50)
    assert first["total_movements"] > 200
    opening, closing = Decimal(first["opening_balance"]), Decimal(first["closing_balance"])
    debits, credits = Decimal(first["total_debits"]), Decimal(first["total_credits"])
    assert opening + credits - debits == closing
    seen, running = [], opening
    for page in range(1, first["total_pages"] + 1):
        stmt = rpc.get_statement("100234", "4100234001", frm, to, page, 50)
        for movement in stmt["movements"]:
            running = running + Decimal(movement["credit"]) - Decimal(movement["debit"])
            assert Decimal(movement["balance"]) == running
            seen.append(movement)
    assert len(seen) == first["total_movements"]
    assert running == closing
    assert sum(Decimal(m["debit"]) for m in seen) == debits


def test_daily_balances_are_the_statement_at_the_end_of_each_day(rpc, today):
    frm, to = (today - timedelta(days=365)).isoformat(), today.isoformat()
    whole = rpc.get_statement("100234", "4100234001", frm, to, 1, 5000)
    expected = {}
    for movement in whole["movements"]:
        expected[movement["date"]] = movement["balance"]  # the day's last movement wins
    line = rpc.daily_balances("100234", "4100234001", frm, to)
    assert line["opening_balance"] == whole["opening_balance"]
    assert [(d["date"], d["balance"]) for d in line["days"]] == sorted(expected.items())
    assert line["days"][-1]["balance"] == whole["closing_balance"]
    assert len(line["days"]) <= 366


def test_daily_balances_follow_the_statement_rules(rpc, today):
    with pytest.raises(NotFound):
        rpc.daily_balances("100517", "4100234001", today.isoformat(), today.isoformat())
    with pytest.raises(ValidationError) as err:
        rpc.daily_balances(
            "100234", "4100234001", (today - timedelta(days=3661)).isoformat(), today.isoformat()
        )
    assert err.value.fields


def test_whole_history_matches_the_fixture_counts(rpc, today):
    stmt = rpc.get_statement(
        "100234", "4100234001", (today - timedelta(days=365)).isoformat(), today.isoformat(), 1, 1
    )
    earlier = rpc.get_statement(
        "100234",
        "4100234001",
        (today - timedelta(days=730)).isoformat(),
        (today - timedelta(days=366)).isoformat(),
        1,
        1,
    )
    assert stmt["total_movements"] + earlier["total_movements"] == 480


def test_another_members_account_is_not_found(rpc, today):
    with pytest.raises(NotFound):
        rpc.get_statement("100517", "4100234001", today.isoformat(), today.isoformat())
    with pytest.raises(NotFound):
        rpc.get_statement("100234", "4999999999", today.isoformat(), today.isoformat())


def test_bad_ranges_are_422_with_fields(rpc, today):
    with pytest.raises(ValidationError) as err:
        rpc.get_statement(
            "100234", "4100234001", today.isoformat(), (today - timedelta(days=3)).isoformat()
        )
    assert "from" in err.value.fields
    with pytest.raises(ValidationError) as err:
        rpc.get_statement("100234", "4100234001", "2026-13-01", today.isoformat())
    assert err.value.fields["from"] == ["Fecha inválida: use el formato AAAA-MM-DD."]


def test_post_movement_updates_balance_and_emits_event(accounts, rpc, container_factory, today):
    from services.common.entrypoints import event_handler

    received = []

    class Listener:
        name = "listener"

        @event_handler("accounts", "movement_posted")
        def on_movement(self, payload):
            received.append(payload)

    listener = container_factory(Listener, accounts)
    listener.start()
    before = Decimal(rpc.list_accounts("100517")[0]["balance"])
    with entrypoint_waiter(listener, "on_movement", timeout=10):
        event = rpc.post_movement(
            "4100517001", today.isoformat(), "Depósito en ventanilla", "VT-1", None, "25.50"
        )
    assert Decimal(event["balance"]) == before + Decimal("25.50")
    assert Decimal(rpc.list_accounts("100517")[0]["balance"]) == before + Decimal("25.50")
    envelope = received[0]
    assert envelope["event_type"] == "movement_posted" and envelope["source"] == "accounts"
    assert envelope["data"]["credit"] == "25.50"
    assert set(envelope) == {"event_id", "event_type", "source", "occurred_at", "version", "data"}


def test_post_movement_refuses_overdraft_and_changes_nothing(rpc, today):
    before = rpc.list_accounts("100517")[0]["balance"]
    with pytest.raises(ValidationError):
        rpc.post_movement("4100517001", today.isoformat(), "Retiro", None, "99999999.00", None)
    assert rpc.list_accounts("100517")[0]["balance"] == before


def test_posting_the_same_reference_twice_has_one_effect(rpc, today):
    before = Decimal(rpc.list_accounts("100517")[0]["balance"])
    first = rpc.post_movement("4100517001", today.isoformat(), "Depósito", "DUP-1", None, "5.00")
    again = rpc.post_movement("4100517001", today.isoformat(), "Depósito", "DUP-1", None, "5.00")
    assert first == again
    assert Decimal(rpc.list_accounts("100517")[0]["balance"]) == before + Decimal("5.00")


def test_overview_gives_the_member_and_the_accounts_in_one_call(rpc):
    overview = rpc.overview("100234")
    assert overview["member"]["display_name"] == "María Pérez"
    assert [a["account_number"] for a in overview["accounts"]] == [
        "4100234001",
        "4100234002",
        "4100234003",
    ]
    # several members in one call (the gateway's coalesced position): each under their own
    # number, exactly as their own overview; an unknown member is left out
    together = rpc.overviews(["100517", "999999", "100234", "100517"])
    assert together == {"100517": rpc.overview("100517"), "100234": overview}
    with pytest.raises(ValidationError):
        rpc.overviews([str(n) for n in range(65)])  # at most 64 members in one call


def test_a_call_with_wrong_arguments_is_refused_and_the_service_keeps_answering(rpc):
    # the signature check is cached per entrypoint (services/common/entrypoints.py)
    with pytest.raises(Exception) as missing:
        rpc.get_member()
    assert (
        "IncorrectSignature" in repr(missing.value)
        or "IncorrectSignature" in type(missing.value).__name__
    )
    with pytest.raises(Exception) as extra:
        rpc.get_member("100234", "sobra", otro=1)
    assert (
        "IncorrectSignature" in repr(extra.value)
        or "IncorrectSignature" in type(extra.value).__name__
    )
    assert rpc.get_member("100234")["display_name"] == "María Pérez"
