"""The confirmation saga of a transfer and the core's answers (docs/payments.md), on the real
broker with the accounts and payments services and a stand-in auth (tests/service/payments_tools).

SQLite by default; `--db-backend postgres` runs the same tests on PostgreSQL.
"""

import eventlet
import pytest

from services.accounts.service import AccountsService
from services.common.errors import Conflict, RateLimited, ServiceUnavailable, ValidationError
from services.payments.service import PaymentsService
from tests.service.core_tools import core_event, member_with_savings, publish_core
from tests.service.event_tools import wait_until
from tests.service.payments_tools import (
    GOOD_CODE,
    AuthWithoutOrders,
    OrderChallengeAuth,
    core_queue,
    requests_received,
)

MEMBER = "200888"
SOURCE, TARGET = "4200888001", "4200888002"


def movement(account, sequence, credit="0.00", debit="0.00", balance="0.00", request_id=None):
    data = {
        "account_number": account,
        "sequence": sequence,
        "date": "2026-03-02",
        "posted_at": "2026-03-02T15:00:00Z",
        "description": "Transferencia" if debit != "0.00" else "Depósito",
        "reference": f"REF-{account}-{sequence}",
        "debit": debit,
        "credit": credit,
        "balance": balance,
    }
    if request_id:
        data["request_id"] = request_id
    return core_event("movement_posted", data)


def completed(request_id, amount):
    return core_event(
        "request_completed",
        {
            "request_id": request_id,
            "completed_at": "2026-03-02T15:00:01Z",
            "amount": amount,
            "core_reference": "CORE-1",
        },
    )


def rejected(request_id):
    return core_event(
        "request_rejected",
        {
            "request_id": request_id,
            "rejected_at": "2026-03-02T15:00:01Z",
            "reason_code": "cuenta_no_disponible",
            "reason": "La cuenta está bloqueada en la cooperativa.",
        },
    )


@pytest.fixture
def config(service_config):
    return {**service_config, "CORE_RETRY_DELAYS": "0.2,0.4", "CORE_NOT_YET_DELAYS": "0.2,0.4"}


def start_portal(config, container_factory, rpc_proxy):
    """accounts (Rosa with two savings accounts, 100.00 in the first), payments, a stand-in auth,
    and the core's queue on portal.requests."""
    core_queue(config["AMQP_URI"])
    for service in (AccountsService, PaymentsService, OrderChallengeAuth):
        container_factory(service, config).start()
    accounts, payments = rpc_proxy("accounts"), rpc_proxy("payments")
    publish_core(
        config["AMQP_URI"],
        *member_with_savings(MEMBER, SOURCE, TARGET),
        movement(SOURCE, 1, credit="100.00", balance="100.00"),
    )
    wait_until(lambda: balances(accounts) == ("100.00", "100.00"), message="deposit applied")
    return accounts, payments


@pytest.fixture
def portal(config, container_factory, rpc_proxy):
    return start_portal(config, container_factory, rpc_proxy)


def balances(accounts, number=SOURCE):
    """(balance, available_balance) as the member's list of accounts shows them."""
    for item in accounts.list_accounts(MEMBER):
        if item["account_number"] == number:
            return item["balance"], item["available_balance"]
    return None


def transfer(payments, amount="30.00"):
    return payments.create_transfer(
        member_number=MEMBER, from_account=SOURCE, to_account=TARGET, amount=amount
    )


def confirm(payments, order):
    return payments.confirm_transfer(
        member_number=MEMBER, order_id=order["transfer_id"], method="totp", code=GOOD_CODE
    )


def status(payments, order):
    return payments.get_transfer(MEMBER, order["transfer_id"])["status"]


@pytest.mark.parametrize("answer_first", [True, False])
def test_a_confirmed_transfer_holds_is_sent_and_completes_once(portal, config, answer_first):
    accounts, payments = portal
    order = transfer(payments)
    assert order["status"] == "por_confirmar" and order["confirmation"]["methods"] == ["totp"]
    assert order["to_account_masked"] == "****8002"

    sent = confirm(payments, order)
    assert sent["status"] == "enviada"
    assert balances(accounts) == ("100.00", "70.00")  # available falls, balance does not
    ((key, request),) = wait_until(lambda: requests_received(config["AMQP_URI"]), message="request")
    assert key == "transfer" and request["request_id"] == sent["request_id"]
    assert request["data"]["amount"] == "30.00" and request["data"]["kind"] == "propia"

    request_id = sent["request_id"]
    money = (
        movement(SOURCE, 2, debit="30.00", balance="70.00", request_id=request_id),
        movement(TARGET, 1, credit="30.00", balance="30.00", request_id=request_id),
    )
    answer = completed(request_id, "30.00")
    events = (answer, *money) if answer_first else (*money, answer)
    publish_core(config["AMQP_URI"], *events, answer)  # the answer twice: applied once
    wait_until(lambda: status(payments, order) == "completada", message="completada")
    wait_until(lambda: balances(accounts) == ("70.00", "70.00"), message="hold ended")
    # the credit is another account's movement: it may be applied a moment after the debit
    wait_until(lambda: balances(accounts, TARGET) == ("30.00", "30.00"), message="credited")


def test_two_confirmations_at_once_take_effect_once(portal, config, rpc_proxy):
    accounts, payments = portal
    order = transfer(payments)
    other = rpc_proxy("payments")
    pool = eventlet.GreenPool()
    calls = [pool.spawn(confirm, proxy, order) for proxy in (payments, other)]
    outcomes = []
    for call in calls:
        try:
            outcomes.append(call.wait()["status"])
        except Conflict:
            outcomes.append("conflict")
    assert sorted(outcomes) == ["conflict", "enviada"]
    assert balances(accounts) == ("100.00", "70.00")
    assert len(wait_until(lambda: requests_received(config["AMQP_URI"]))) == 1


def test_funds_taken_by_another_order_reject_at_confirmation(portal):
    accounts, payments = portal
    first, second = transfer(payments, "60.00"), transfer(payments, "60.00")
    assert confirm(payments, first)["status"] == "enviada"
    refused = confirm(payments, second)
    assert (refused["status"], refused["reason_code"]) == ("rechazada", "fondos_insuficientes")
    assert balances(accounts) == ("100.00", "40.00")


def test_a_core_rejection_ends_the_hold_and_money_moved_still_wins(portal, config):
    accounts, payments = portal
    order = confirm(payments, transfer(payments))
    publish_core(config["AMQP_URI"], rejected(order["request_id"]))
    wait_until(lambda: status(payments, order) == "rechazada", message="rechazada")
    assert payments.get_transfer(MEMBER, order["transfer_id"])["reason"].startswith("La cuenta")
    assert balances(accounts) == ("100.00", "100.00")

    # the core posts the debit for it after all: the order is completada, the hold not given twice
    publish_core(
        config["AMQP_URI"],
        movement(SOURCE, 2, debit="30.00", balance="70.00", request_id=order["request_id"]),
    )
    wait_until(lambda: status(payments, order) == "completada", message="money moved wins")
    assert balances(accounts) == ("70.00", "70.00")


def test_an_unanswered_request_is_resent_with_the_same_id(config, container_factory, rpc_proxy):
    # a resend delay of 0: every sweep sends what the core has not answered, unchanged
    config = {**config, "CORE_REQUEST_RESEND_SECONDS": "0"}
    _accounts, payments = start_portal(config, container_factory, rpc_proxy)
    order = confirm(payments, transfer(payments))
    first = wait_until(lambda: requests_received(config["AMQP_URI"]), message="request")
    assert payments.sweep() >= 1
    again = wait_until(lambda: requests_received(config["AMQP_URI"]), message="resent")
    assert {r["request_id"] for _key, r in again} == {order["request_id"]}
    assert again[0][1] == first[0][1]

    # answered: nothing is sent any more
    publish_core(config["AMQP_URI"], completed(order["request_id"], "30.00"))
    wait_until(lambda: status(payments, order) == "completada", message="completada")
    assert payments.sweep() == 0


def test_without_the_order_challenge_of_auth_nothing_is_ordered(
    config, container_factory, rpc_proxy
):
    for service in (AccountsService, PaymentsService, AuthWithoutOrders):
        container_factory(service, config).start()
    accounts, payments = rpc_proxy("accounts"), rpc_proxy("payments")
    publish_core(
        config["AMQP_URI"],
        *member_with_savings(MEMBER, SOURCE, TARGET),
        movement(SOURCE, 1, credit="100.00", balance="100.00"),
    )
    wait_until(lambda: balances(accounts) == ("100.00", "100.00"), message="deposit applied")
    with pytest.raises(ServiceUnavailable, match="segundo factor"):
        transfer(payments)
    assert payments.list_transfers(MEMBER) == {"transfers": []}


def test_operators_list_late_requests_and_resolve_one_with_the_cores_word(
    config, container_factory, rpc_proxy, monkeypatch, capsys
):
    from scripts import core_requests

    # late at once, and past its validity at once: the operator may resolve it
    config = {**config, "CORE_REQUEST_TIMEOUT_MINUTES": "0", "CORE_REQUEST_VALID_HOURS": "0"}
    accounts, payments = start_portal(config, container_factory, rpc_proxy)
    order = confirm(payments, transfer(payments))
    payments.sweep()
    assert status(payments, order) == "en_verificacion"
    monkeypatch.setenv("AMQP_URI", config["AMQP_URI"])

    assert core_requests.main(["--pending"]) == 1
    listed = capsys.readouterr().out
    assert order["request_id"] in listed and "en verificación" in listed and "30.00" in listed

    assert (
        core_requests.main(["resolve", order["transfer_id"], "rejected", "--operator", "ana"]) == 0
    )
    assert status(payments, order) == "rechazada"
    assert balances(accounts) == ("100.00", "100.00")  # the hold ended with the resolution
    assert core_requests.main(["--pending"]) == 0
    assert "No hay solicitudes" in capsys.readouterr().out
    # a second resolution is refused: the order has its answer
    assert core_requests.main(["resolve", order["transfer_id"], "completed"]) == 2


OTHER_MEMBER, OTHER_ACCOUNT, OTHER_CEDULA = "200999", "4200999001", "0102030405"


def other_member(config, accounts):
    """Juan Carlos, another member with an AHORRO_VISTA account (a beneficiary to be)."""
    publish_core(
        config["AMQP_URI"],
        core_event(
            "member_upserted",
            {
                "member_number": OTHER_MEMBER,
                "identification": OTHER_CEDULA,
                "first_names": "Juan Carlos",
                "last_names": "Pérez Loor",
                "email": "juan.perez@example.com",
                "phone": None,
                "status": "activo",
            },
        ),
        core_event(
            "account_opened",
            {
                "account_number": OTHER_ACCOUNT,
                "member_number": OTHER_MEMBER,
                "product": "AHORRO_VISTA",
                "opened_on": "2026-03-01",
            },
        ),
    )
    wait_until(lambda: accounts.list_accounts(OTHER_MEMBER), message="other member's account")


def test_a_beneficiary_confirmed_receives_within_the_daily_limit_confirmed_once(
    portal, config, rpc_proxy
):
    accounts, payments = portal
    other_member(config, accounts)
    with pytest.raises(ValidationError):  # the pair must match: a wrong cédula
        payments.add_beneficiary(MEMBER, "Juan", OTHER_ACCOUNT, "1710034065")
    added = payments.add_beneficiary(MEMBER, "Juan", OTHER_ACCOUNT, OTHER_CEDULA)
    assert (added["status"], added["holder_name_masked"]) == (
        "por_confirmar",
        "J*** C*** P*** L***",
    )
    assert added["account_number_masked"] == "****9001"
    active = payments.confirm_beneficiary(MEMBER, added["beneficiary_id"], "totp", GOOD_CODE)
    assert active["status"] == "activo"

    # 60.00 a day to other members: two orders of 40.00 pass creation, one confirmation wins
    payments.lower_limits(MEMBER, "50.00", "60.00")
    orders = [
        payments.create_transfer(
            member_number=MEMBER,
            from_account=SOURCE,
            beneficiary_id=added["beneficiary_id"],
            amount="40.00",
        )
        for _ in range(2)
    ]
    assert {o["kind"] for o in orders} == {"socio"}
    with pytest.raises(ValidationError) as refused:
        payments.create_transfer(
            member_number=MEMBER,
            from_account=SOURCE,
            beneficiary_id=added["beneficiary_id"],
            amount="50.01",
        )
    assert "límite por transferencia" in refused.value.fields["amount"][0]
    other = rpc_proxy("payments")
    pool = eventlet.GreenPool()
    calls = [
        pool.spawn(confirm, proxy, o) for proxy, o in zip((payments, other), orders, strict=True)
    ]
    outcomes = []
    for call in calls:
        try:
            outcomes.append(call.wait()["status"])
        except ValidationError as exc:
            outcomes.append("limite" if "límite diario" in str(exc.fields) else str(exc))
    assert sorted(outcomes) == ["enviada", "limite"]
    assert payments.get_limits(MEMBER)["used_today"] == "40.00"
    assert balances(accounts) == ("100.00", "60.00")


def test_a_confirmation_left_half_done_is_finished_by_the_sweeper(
    config, container_factory, rpc_proxy
):
    # accounts away at the confirmation: the order stays confirmando, nothing held or sent
    config = {**config, "RPC_TIMEOUT": "1", "PAYMENTS_SAGA_RETRY_SECONDS": "0"}
    core_queue(config["AMQP_URI"])
    accounts_container = container_factory(AccountsService, config)
    accounts_container.start()
    for service in (PaymentsService, OrderChallengeAuth):
        container_factory(service, config).start()
    accounts, payments = rpc_proxy("accounts"), rpc_proxy("payments")
    publish_core(
        config["AMQP_URI"],
        *member_with_savings(MEMBER, SOURCE, TARGET),
        movement(SOURCE, 1, credit="100.00", balance="100.00"),
    )
    wait_until(lambda: balances(accounts) == ("100.00", "100.00"), message="deposit applied")
    order = transfer(payments)
    accounts_container.stop()
    assert confirm(payments, order)["status"] == "confirmando"
    assert requests_received(config["AMQP_URI"]) == []

    container_factory(AccountsService, config).start()
    payments.sweep()  # (the timer may do it first: either finishes it once)
    wait_until(lambda: status(payments, order) == "enviada", message="finished")
    assert balances(accounts) == ("100.00", "70.00")
    ((_key, request),) = wait_until(lambda: requests_received(config["AMQP_URI"]), message="sent")
    assert request["request_id"] == order["request_id"]


def test_each_order_keeps_its_evidence_and_audit_records_every_step(
    portal, config, container_factory, rpc_proxy, monkeypatch, capsys
):
    from scripts import core_requests
    from services.audit.service import AuditService

    container_factory(AuditService, config).start()
    audit = rpc_proxy("audit")
    accounts, payments = portal
    order = payments.create_transfer(
        member_number=MEMBER,
        from_account=SOURCE,
        to_account=TARGET,
        amount="30.00",
        description="Ahorro",
        client_ip="190.152.10.7",
        session_id="session-a",
        user_agent="Mozilla/5.0 (Linux; Android 14) Chrome/120",
        channel="web",
    )
    payments.confirm_transfer(
        member_number=MEMBER,
        order_id=order["transfer_id"],
        method="totp",
        code=GOOD_CODE,
        client_ip="190.152.10.8",
        session_id="session-b",
        user_agent="PortalApp/2.1 (iOS 17)",
        channel="api",
    )
    publish_core(config["AMQP_URI"], completed(order["request_id"], "30.00"))
    wait_until(lambda: status(payments, order) == "completada", message="completada")

    # the member sees each state's time, in order
    seen = payments.get_transfer(MEMBER, order["transfer_id"])["timeline"]
    assert [s["status"] for s in seen] == ["por_confirmar", "confirmando", "enviada", "completada"]
    assert [s["at"] for s in seen] == sorted(s["at"] for s in seen)

    # operators read who, from where, with what, what was shown and confirmed
    evidence = payments.order_evidence(order["transfer_id"])
    assert evidence == payments.order_evidence(order["request_id"])
    created, confirmed = evidence["created"], evidence["confirmed"]
    assert (created["session_id"], created["client_ip"], created["channel"]) == (
        "session-a",
        "190.152.10.7",
        "web",
    )
    assert created["device"].startswith("Mozilla/5.0 (Linux; Android 14)")
    assert (confirmed["session_id"], confirmed["client_ip"], confirmed["method"]) == (
        "session-b",
        "190.152.10.8",
        "totp",
    )
    assert confirmed["device"] == "PortalApp/2.1 (iOS 17)" and confirmed["channel"] == "api"
    shown = evidence["shown"]
    assert (shown["kind"], shown["amount"], shown["from_account"]) == ("propia", "30.00", SOURCE)
    assert shown["to_account_masked"] == "****8002" and len(shown["digest"]) == 64
    assert [s["status"] for s in evidence["timeline"]] == [s["status"] for s in seen]
    monkeypatch.setenv("AMQP_URI", config["AMQP_URI"])
    assert core_requests.main(["evidence", order["transfer_id"]]) == 0
    printed = capsys.readouterr().out
    assert "sesión session-b dirección 190.152.10.8 canal api método totp" in printed
    assert "hacia ****8002" in printed and TARGET not in printed

    # audit keeps every step of it with the evidence; no code, the destination masked
    def steps():
        entries = audit.query(member_number=MEMBER, source="payments", limit=100)
        mine = [e for e in entries if e["data"].get("order_id") == order["transfer_id"]]
        return len(mine) == 3 and mine

    entries = wait_until(steps, message="the order's steps in the audit log")
    assert sorted(e["event_type"] for e in entries) == [
        "order_completed",
        "order_created",
        "order_sent",
    ]
    for entry in entries:
        assert TARGET not in str(entry["data"]) and GOOD_CODE not in str(entry["data"])
    sent = next(e for e in entries if e["event_type"] == "order_sent")["data"]
    assert sent["evidence"]["confirmed"]["client_ip"] == "190.152.10.8"
    assert sent["evidence"]["shown"]["digest"] == shown["digest"]
    done = next(e for e in entries if e["event_type"] == "order_completed")["data"]
    assert done["core_reference"] == "CORE-1" and done["answered_at"]


def test_a_member_has_five_attempts_a_day_to_add_a_beneficiary(portal, config):
    accounts, payments = portal
    other_member(config, accounts)
    for guess in ("1710034065", "1710034066", "1710034067", "1710034068"):
        with pytest.raises(ValidationError):
            payments.add_beneficiary(MEMBER, "Juan", OTHER_ACCOUNT, guess)
    assert payments.add_beneficiary(MEMBER, "Juan", OTHER_ACCOUNT, OTHER_CEDULA)["status"] == (
        "por_confirmar"
    )
    # the sixth attempt of the day is refused before the pair is checked, even a right one
    with pytest.raises(RateLimited) as refused:
        payments.add_beneficiary(MEMBER, "Juan", OTHER_ACCOUNT, OTHER_CEDULA)
    assert "5 intentos" in refused.value.message
    assert 0 < refused.value.extra["retry_after"] <= 24 * 3600
    assert len(payments.list_beneficiaries(MEMBER)["beneficiaries"]) == 1
