"""Two accounts processes on PostgreSQL apply 2 000 ordered core movements arriving a little out of
order; one is SIGKILLed midway. Every balance ends right, every sequence applied exactly once."""

import random
import signal
from decimal import Decimal

import eventlet
import pytest
from sqlalchemy import create_engine, func, select, text

from services.accounts.models import Movement, SavingsAccount
from tests.e2e.conftest import Portal, make_vhost
from tests.service.core_tools import core_event, parked, publish_core

ACCOUNTS = [f"43005010{n:02d}" for n in range(1, 6)]
PER_ACCOUNT = 400  # 2 000 movements in all


@pytest.fixture
def two_accounts(tmp_path, rabbit_manager, amqp_base, make_db):
    vhost, uri = make_vhost(rabbit_manager, amqp_base)
    db_url = make_db("accounts", backend="postgres", migrate=False)
    portal = Portal(
        tmp_path,
        uri,
        extra_env={
            "ACCOUNTS_DATABASE_URL": db_url,
            "DEMO_MEMBERS": "0",
            "CORE_RETRY_DELAYS": "0.2,0.5,1",
            "CORE_NOT_YET_DELAYS": "0.2,0.5,1",
        },
    )
    portal.setup()
    portal.start("accounts", instance="accounts-1")
    portal.start("accounts", instance="accounts-2")
    yield portal, db_url, vhost
    portal.stop_all()
    rabbit_manager.delete_vhost(vhost)


def consumers(rabbit_manager, vhost):
    queues = {q["name"]: q for q in rabbit_manager.get_queues(vhost)}
    return queues.get("core.accounts", {}).get("consumers", 0)


def movements():
    """Every account's movements 1..400 in order, interleaved, then shuffled in small windows
    (what a connector publishing from several threads may produce)."""
    events, balances = [], {}
    for seq in range(1, PER_ACCOUNT + 1):
        for number in ACCOUNTS:
            amount = Decimal(seq % 7 + 1) + Decimal("0.25")
            balance = balances.get(number, Decimal("0.00")) + amount
            balances[number] = balance
            events.append(
                core_event(
                    "movement_posted",
                    {
                        "account_number": number,
                        "sequence": seq,
                        "date": "2026-03-02",
                        "posted_at": "2026-03-02T15:00:00Z",
                        "description": "Depósito",
                        "reference": f"K-{number}-{seq}",
                        "debit": "0.00",
                        "credit": f"{amount:.2f}",
                        "balance": f"{balance:.2f}",
                    },
                )
            )
    rng = random.Random(14)
    for start in range(0, len(events), 12):
        window = events[start : start + 12]
        rng.shuffle(window)
        events[start : start + 12] = window
    return events, balances


def test_killed_instance_loses_and_doubles_no_core_movement(two_accounts, rabbit_manager):
    portal, db_url, vhost = two_accounts
    uri = portal.env["AMQP_URI"]
    engine = create_engine(db_url)

    def applied():
        with engine.connect() as conn:
            return conn.execute(
                select(func.count())
                .select_from(Movement)
                .where(Movement.account_number.in_(ACCOUNTS))
            ).scalar()

    with eventlet.Timeout(60):  # both instances consume core.accounts before the core publishes
        while consumers(rabbit_manager, vhost) < 2:
            eventlet.sleep(0.3)

    publish_core(
        uri,
        core_event(
            "member_upserted",
            {
                "member_number": "300501",
                "identification": "1710034065",
                "first_names": "Rosa",
                "last_names": "Mena",
                "email": "rosa.mena@example.com",
                "phone": None,
                "status": "activo",
            },
        ),
        *(
            core_event(
                "account_opened",
                {
                    "account_number": n,
                    "member_number": "300501",
                    "product": "AHORRO_VISTA",
                    "opened_on": "2026-03-01",
                },
            )
            for n in ACCOUNTS
        ),
    )
    events, balances = movements()
    with eventlet.Timeout(60):
        publish_core(uri, *events[:700])
        while applied() < 400:
            eventlet.sleep(0.1)
        portal.stop("accounts-2", sig=signal.SIGKILL)  # crash mid-stream
        publish_core(uri, *events[700:])

    with eventlet.Timeout(120, False):
        while applied() < len(events):
            eventlet.sleep(0.25)
    assert applied() == len(events), portal.log("accounts-1")[-3000:]
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                SavingsAccount.account_number, SavingsAccount.balance, SavingsAccount.last_seq
            ).where(SavingsAccount.account_number.in_(ACCOUNTS))
        ).all()
        seqs = conn.execute(
            text(
                "SELECT account_number, count(*), count(DISTINCT seq), min(seq), max(seq) "
                "FROM movements WHERE account_number LIKE '430050%' "
                "GROUP BY account_number ORDER BY account_number"
            )
        ).all()
        held = conn.execute(text("SELECT count(*) FROM held_events")).scalar()
    engine.dispose()
    assert {r.account_number: (r.balance, r.last_seq) for r in rows} == {
        n: (balances[n], PER_ACCOUNT) for n in ACCOUNTS
    }
    assert [tuple(s) for s in seqs] == [
        (n, PER_ACCOUNT, PER_ACCOUNT, 1, PER_ACCOUNT) for n in ACCOUNTS
    ]
    assert held == 0
    assert parked(uri, "accounts") == []
