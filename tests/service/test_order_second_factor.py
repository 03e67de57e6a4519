"""The second factor of an order, end to end on the real broker: payments asks the real auth
(docs/payments-auth-contract.md) — an e-mailed code naming the amount and the masked destination,
bound to the order; recovery codes never confirm an order; a wrong code confirms nothing.
(auth + accounts with the demo, payments, and the stand-in notifications that writes the codes
to var/mail.)"""

from decimal import Decimal

import pytest

from services.common.errors import ChallengeExpired, InvalidCode, ValidationError
from services.payments.service import PaymentsService
from tests.helpers import emailed_code, start_auth_stack

pytestmark = pytest.mark.pg

MARIA = "100234"


@pytest.fixture
def portal(service_config, container_factory, rpc_proxy, today):
    start_auth_stack(container_factory, service_config, today, catch_codes=True)
    container_factory(PaymentsService, service_config).start()
    return rpc_proxy("accounts"), rpc_proxy("payments"), rpc_proxy("auth")


def own_accounts(accounts):
    """Maria's AHORRO_VISTA with money (from) and another savings account of hers (to)."""
    items = accounts.list_accounts(MARIA)
    source = next(
        a for a in items if a["product"] == "AHORRO_VISTA" and Decimal(a["available_balance"]) > 20
    )
    target = next(
        a
        for a in items
        if a["account_number"] != source["account_number"] and a["product"] != "CERTIFICADOS"
    )
    return source, target


def test_an_emailed_code_bound_to_the_order_confirms_it_once(portal):
    accounts, payments, _auth = portal
    source, target = own_accounts(accounts)
    order = payments.create_transfer(
        member_number=MARIA,
        from_account=source["account_number"],
        to_account=target["account_number"],
        amount="12.50",
    )
    confirmation = order["confirmation"]
    assert confirmation["methods"] == ["email_code"]
    code = emailed_code(confirmation["challenge_id"])

    with pytest.raises(ValidationError):  # a recovery code never confirms an order
        payments.confirm_transfer(
            member_number=MARIA, order_id=order["transfer_id"], method="recovery_code", code=code
        )
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(InvalidCode):
        payments.confirm_transfer(
            member_number=MARIA, order_id=order["transfer_id"], method="email_code", code=wrong
        )
    assert payments.get_transfer(MARIA, order["transfer_id"])["status"] == "por_confirmar"

    sent = payments.confirm_transfer(
        member_number=MARIA, order_id=order["transfer_id"], method="email_code", code=code
    )
    assert sent["status"] == "enviada"
    held = next(
        a for a in accounts.list_accounts(MARIA) if a["account_number"] == source["account_number"]
    )
    assert Decimal(held["available_balance"]) == Decimal(source["available_balance"]) - Decimal(
        "12.50"
    )
    assert held["balance"] == source["balance"]


def test_a_code_of_one_order_does_not_confirm_another(portal):
    accounts, payments, auth = portal
    source, target = own_accounts(accounts)
    first, second = (
        payments.create_transfer(
            member_number=MARIA,
            from_account=source["account_number"],
            to_account=target["account_number"],
            amount=amount,
        )
        for amount in ("10.00", "11.00")
    )
    code = emailed_code(first["confirmation"]["challenge_id"])
    # the first order's challenge, asked for the second order's digest: voided, not accepted
    with pytest.raises(ChallengeExpired):
        auth.verify_order_code(first["confirmation"]["challenge_id"], "0" * 64, "email_code", code)
    with pytest.raises(ChallengeExpired):  # and that challenge is over for the first order too
        payments.confirm_transfer(
            member_number=MARIA, order_id=first["transfer_id"], method="email_code", code=code
        )
    assert payments.get_transfer(MARIA, second["transfer_id"])["status"] == "por_confirmar"
