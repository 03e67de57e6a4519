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
from tests.service.core_tools import (
    core_event,
    member_with_savings,
    parked,
    publish_core,
    rosa,
)

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

    publish_core(uri, *member_with_savings("300501", *ACCOUNTS))
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


@pytest.fixture
def one_accounts(tmp_path, rabbit_manager, amqp_base, make_db):
    vhost, uri = make_vhost(rabbit_manager, amqp_base)
    db_url = make_db("accounts", backend="postgres", migrate=False)
    portal = Portal(tmp_path, uri, extra_env={"ACCOUNTS_DATABASE_URL": db_url, "DEMO_MEMBERS": "0"})
    portal.setup()
    portal.start("accounts")
    yield portal, db_url, vhost
    portal.stop_all()
    rabbit_manager.delete_vhost(vhost)


def wait_for(check, what, timeout=60):
    with eventlet.Timeout(timeout, AssertionError(f"timed out waiting for {what}")):
        while not check():
            eventlet.sleep(0.2)


def test_a_batch_killed_before_its_commit_applies_nothing_and_comes_back_whole(
    one_accounts, rabbit_manager
):
    """Three movements that waited are applied as one batch. The process is SIGKILLed while
    that batch's transaction is open (the movements' accounts being locked): nothing of it is
    applied, all three come back, and the next process applies each once. The member change
    that waited with them has a queue of its own (core.accounts.members): it never waited for
    the batch, and is applied once too."""
    portal, db_url, vhost = one_accounts
    uri = portal.env["AMQP_URI"]
    engine = create_engine(db_url)
    first, last = "4300502001", "4300502009"

    ours = "WHERE account_number LIKE '4300502%'"
    rosa_email = "SELECT email FROM members WHERE member_number = '300502'"

    def scalar(sql, conn=None):
        if conn is not None:
            return conn.execute(text(sql)).scalar()
        with engine.connect() as own:
            return own.execute(text(sql)).scalar()

    def deposit(number, seq, balance):
        return core_event(
            "movement_posted",
            {
                "account_number": number,
                "sequence": seq,
                "date": "2026-03-02",
                "posted_at": "2026-03-02T15:00:00Z",
                "description": "Depósito",
                "reference": f"B-{number}-{seq}",
                "debit": "0.00",
                "credit": "5.00",
                "balance": balance,
            },
        )

    wait_for(lambda: consumers(rabbit_manager, vhost) == 1, "accounts to consume")
    publish_core(
        uri,
        core_event("member_upserted", rosa("300502")),
        *(
            core_event(
                "account_opened",
                {
                    "account_number": n,
                    "member_number": "300502",
                    "product": "AHORRO_VISTA",
                    "opened_on": "2026-03-01",
                },
            )
            for n in (first, last)
        ),
    )
    wait_for(
        lambda: scalar(f"SELECT count(*) FROM savings_accounts {ours}") == 2, "accounts opened"
    )
    portal.stop("accounts")  # the batch waits in the queue
    publish_core(
        uri,
        core_event("member_upserted", rosa("300502", email="rosa.nueva@example.com")),
        deposit(first, 1, "5.00"),
        deposit(first, 2, "10.00"),
        deposit(last, 1, "5.00"),
    )
    with engine.connect() as blocker:
        blocker.execute(
            text(f"SELECT 1 FROM savings_accounts WHERE account_number = '{last}' FOR UPDATE")
        )
        portal.start("accounts")
        wait_for(
            lambda: (
                scalar(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                == 1
            ),
            "the batch to wait for the account's lock",
        )
        portal.stop("accounts", sig=signal.SIGKILL)
        blocker.rollback()

    def ready():
        queues = {q["name"]: q for q in rabbit_manager.get_queues(vhost)}
        return queues.get("core.accounts", {}).get("messages_ready", 0)

    wait_for(lambda: ready() == 3, "the three movements back in the queue")
    # its transaction never committed: nothing of the batch is there
    assert scalar(f"SELECT count(*) FROM movements {ours}") == 0
    portal.start("accounts")
    wait_for(lambda: scalar(f"SELECT count(*) FROM movements {ours}") == 3, "the batch applied")
    assert scalar(rosa_email) == "rosa.nueva@example.com"
    # balances are stored in cents: $ 10,00 and $ 5,00, each movement applied once
    assert scalar(f"SELECT balance FROM savings_accounts WHERE account_number = '{first}'") == 1000
    assert scalar(f"SELECT balance FROM savings_accounts WHERE account_number = '{last}'") == 500
    engine.dispose()
    assert parked(uri, "accounts") == []
