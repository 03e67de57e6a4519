"""A member's status and e-mail from the core take effect for login while a burst of movements is
being applied (docs/integration.md, "Member changes first"): accounts reads `member_upserted` from
its own queue and its outbox relays `member_updated` on a lane of its own.

accounts and auth on the real broker, with the demo cooperative loaded."""

from decimal import Decimal

import pytest
from sqlalchemy import create_engine, text

from services.accounts.service import AccountsService
from services.auth.service import AuthService
from services.auth.usecases import MEMBER_INACTIVE
from services.common.errors import Unauthenticated
from tests.conftest import load_demo
from tests.helpers import RememberingAuth
from tests.service.core_tools import core_event, publish_core
from tests.service.event_tools import wait_until

IP = "198.51.100.7"
LUIS = "101002"  # a demo member with a user: luis / Socio-2026!
ACCOUNT = "4101002999"
BURST = 3000


def member_record(config, member_number):
    """The member's record as the core knows it (the cédula, which no RPC hands out)."""
    engine = create_engine(config["ACCOUNTS_DATABASE_URL"])
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT identification, given_names, surnames, email, phone FROM members "
                "WHERE member_number = :n"
            ),
            {"n": member_number},
        ).one()
    engine.dispose()
    return {
        "member_number": member_number,
        "identification": row.identification,
        "first_names": row.given_names,
        "last_names": row.surnames,
        "email": row.email,
        "phone": row.phone,
        "status": "activo",
    }


def deposits(account, count):
    """`count` credit movements of 1.00, sequences 1…count, with their balances."""
    return [
        core_event(
            "movement_posted",
            {
                "account_number": account,
                "sequence": n,
                "date": "2026-03-02",
                "posted_at": "2026-03-02T15:00:00Z",
                "description": "Depósito",
                "reference": f"BURST-{n}",
                "debit": "0.00",
                "credit": "1.00",
                "balance": f"{n}.00",
            },
        )
        for n in range(1, count + 1)
    ]


@pytest.fixture
def stack(service_config, container_factory, today):
    load_demo(service_config, today, services=["accounts", "auth"], count=2)
    container_factory(AuthService, service_config).start()
    return service_config


def test_an_inactive_member_is_shut_out_while_a_burst_of_movements_is_still_being_applied(
    stack, container_factory, rpc_proxy
):
    uri = stack["AMQP_URI"]
    accounts = container_factory(AccountsService, stack)
    accounts.start()
    # luis logs in from his remembered device (the second factor is not what this tests)
    auth, accounts_rpc = RememberingAuth(rpc_proxy("auth")), rpc_proxy("accounts")
    publish_core(
        uri,
        core_event(
            "account_opened",
            {
                "account_number": ACCOUNT,
                "member_number": LUIS,
                "product": "AHORRO_VISTA",
                "opened_on": "2026-03-01",
            },
        ),
    )

    def balance():
        found = [a for a in accounts_rpc.list_accounts(LUIS) if a["account_number"] == ACCOUNT]
        return found and Decimal(found[0]["balance"])

    wait_until(lambda: balance() == Decimal("0.00"), message="the account opened")
    assert auth.login("luis", "Socio-2026!", IP)["token"]
    # the burst and, behind it, the core's word that luis is inactive: all waiting for accounts
    accounts.stop()
    publish_core(uri, *deposits(ACCOUNT, BURST))
    publish_core(
        uri, core_event("member_upserted", member_record(stack, LUIS) | {"status": "inactivo"})
    )
    container_factory(AccountsService, stack).start()

    def refused():
        try:
            auth.login("luis", "Socio-2026!", IP)
        except Unauthenticated as exc:
            return exc.message == MEMBER_INACTIVE
        return False

    wait_until(refused, timeout=60, interval=0.02, message="luis refused as inactive")
    # shut out while the burst was still being applied, not after it
    assert balance() < BURST
    wait_until(lambda: balance() == BURST, timeout=120, message="the whole burst applied")
