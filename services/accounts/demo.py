"""The accounts part of the demo cooperative: member records, savings accounts, movements.

Deterministic (fixed seed per member), idempotent (a member already loaded is left as it is).
"""

from datetime import datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import insert

from services.accounts import bulk
from services.accounts.domain import PRODUCT_NAMES
from services.accounts.models import Member, Movement, SavingsAccount
from services.common.db import session_scope
from services.common.demo import census, days_ago, member_rng

ZERO = Decimal("0.00")


def _cents(rng, low, high):
    return Decimal(rng.randint(int(low * 100), int(high * 100))) / 100


def _kinds_for(product):
    if product == "AHORRO_PROGRAMADO":
        return [("Aporte programado mensual", "credit", 50, 150, 1)]
    if product == "CERTIFICADOS":
        return [("Aportación de certificados", "credit", 10, 50, 1)]
    return [
        ("Depósito de nómina", "credit", 450, 1800, 5),
        ("Retiro cajero automático", "debit", 20, 200, 6),
        ("Transferencia recibida", "credit", 15, 400, 2),
        ("Transferencia enviada", "debit", 10, 350, 3),
        ("Pago de servicios básicos", "debit", 12, 90, 2),
        ("Depósito en ventanilla", "credit", 20, 500, 2),
        ("Interés ganado", "credit", Decimal("0.10"), 6, 1),
        ("Comisión mantenimiento de cuenta", "debit", Decimal("0.50"), 2, 1),
    ]


def movements_for(account_number, product, opened_on, today, count, rng):
    """An opening deposit on the day the account was opened, then `count` movements spread over
    the last 730 days (or since opening, when it is more recent), balance never below zero."""
    window_start = max(opened_on + timedelta(days=1), days_ago(today, 730))
    span = max((today - window_start).days, 1)
    days = sorted(window_start + timedelta(days=rng.randrange(span + 1)) for _ in range(count))
    kinds = _kinds_for(product)
    weights = [k[4] for k in kinds]
    balance = _cents(rng, 100, 1500) if product == "AHORRO_VISTA" else _cents(rng, 50, 300)
    rows = [
        _row(
            account_number,
            1,
            opened_on,
            "Depósito de apertura",
            f"AP-{account_number[-6:]}",
            ZERO,
            balance,
            balance,
            rng,
        )
    ]
    for seq, day in enumerate(days, start=2):
        description, side, low, high, _ = rng.choices(kinds, weights)[0]
        amount = _cents(rng, low, high)
        if side == "debit" and amount > balance:
            side, description = "credit", "Depósito en ventanilla"
        debit, credit = (amount, ZERO) if side == "debit" else (ZERO, amount)
        balance = balance + credit - debit
        rows.append(
            _row(
                account_number,
                seq,
                day,
                description,
                f"{day:%y%m%d}{seq:05d}",
                debit,
                credit,
                balance,
                rng,
            )
        )
    return rows, balance


def _row(account_number, seq, day, description, reference, debit, credit, balance, rng):
    return {
        "account_number": account_number,
        "seq": seq,
        "date": day,
        "posted_at": datetime.combine(day, time(rng.randint(7, 19), rng.randint(0, 59))),
        "description": description,
        "reference": reference,
        "debit": debit,
        "credit": credit,
        "balance": balance,
    }


def accounts_for(member, today):
    """[(account_number, product, product_name, opened_on, movement count)] of a member."""
    if member.reference:
        return [
            (
                a["account_number"],
                a["product"],
                a["product_name"],
                days_ago(today, a["opened_days_ago"]),
                a["movements_last_730_days"],
            )
            for a in member.reference["savings"]
        ]
    rng = member_rng(member.member_number, "accounts")
    base = f"4{member.member_number}"
    out = [
        (
            base + "001",
            "AHORRO_VISTA",
            PRODUCT_NAMES["AHORRO_VISTA"],
            member.joined_on,
            rng.randint(30, 110),
        )
    ]
    if rng.random() < 0.35:
        out.append(
            (
                base + "003",
                "CERTIFICADOS",
                PRODUCT_NAMES["CERTIFICADOS"],
                member.joined_on,
                rng.randint(1, 3),
            )
        )
    if rng.random() < 0.15:
        opened = max(member.joined_on, days_ago(today, rng.randint(60, 700)))
        out.append(
            (
                base + "002",
                "AHORRO_PROGRAMADO",
                PRODUCT_NAMES["AHORRO_PROGRAMADO"],
                opened,
                min(24, (today - opened).days // 30),
            )
        )
    return out


def census_rows(today, count=None):
    """The accounts side of the census as bulk-load rows (docs/integration.md's columns):
    (members, accounts, movements), each a list of dicts of strings."""
    members: list[dict[str, str]] = []
    accounts: list[dict[str, str]] = []
    movements: list[dict[str, str]] = []
    for member in census(today, count):
        members.append(
            {
                "member_number": member.member_number,
                "identification": member.identification,
                "first_names": member.given_names,
                "last_names": member.surnames,
                "email": member.email,
                "phone": member.phone,
                "status": "activo",
                "joined_on": member.joined_on.isoformat(),
            }
        )
        for number, product, _name, opened, count_movements in accounts_for(member, today):
            rng = member_rng(number, "movements")
            rows, _balance = movements_for(number, product, opened, today, count_movements, rng)
            accounts.append(
                {
                    "account_number": number,
                    "member_number": member.member_number,
                    "product": product,
                    "opened_on": opened.isoformat(),
                }
            )
            movements.extend(_wire_movement(row) for row in rows)
    return members, accounts, movements


def _wire_movement(row):
    return {
        "account_number": row["account_number"],
        "sequence": str(row["seq"]),
        "date": row["date"].isoformat(),
        # stored as given (naive); the demo's instants are written with the contract's Z
        "posted_at": row["posted_at"].isoformat() + "Z",
        "description": row["description"],
        "reference": row["reference"],
        "debit": f"{row['debit']:.2f}",
        "credit": f"{row['credit']:.2f}",
        "balance": f"{row['balance']:.2f}",
    }


def load(url, today, count=None):
    """Load the census through the accounts bulk load (services/accounts/bulk.py) on `url`;
    returns how many members were created. The test suite's quick way in; `scripts.portal setup`
    writes the same rows as CSV files and imports them (scripts/bulk_import.py)."""
    members, accounts, movements = census_rows(today, count)
    created = 0
    with session_scope(url) as session:
        created = bulk.import_rows(session, "members", members)["created"]
        bulk.import_rows(session, "accounts", accounts)
    for start in range(0, len(movements), 20000):
        with session_scope(url) as session:
            bulk.import_rows(session, "movements", movements[start : start + 20000])
    return created


def load_long_history(url, today, member_number="109999", movements=100_000, years=10):
    """A member whose main account has `movements` movements over `years` years (benchmarks)."""
    account_number = f"4{member_number}001"
    with session_scope(url) as session:
        if session.get(Member, member_number) is not None:
            return 0
    rng = member_rng(member_number, "long-history")
    opened = days_ago(today, 365 * years + 1)
    rows, balance = movements_for(account_number, "AHORRO_VISTA", opened, today, 0, rng)
    span = 365 * years
    days = sorted(opened + timedelta(days=1 + rng.randrange(span)) for _ in range(movements))
    kinds = _kinds_for("AHORRO_VISTA")
    for seq, day in enumerate(days, start=2):
        description, side, low, high, _ = rng.choices(kinds, [k[4] for k in kinds])[0]
        amount = _cents(rng, low, high)
        if side == "debit" and amount > balance:
            side = "credit"
        debit, credit = (amount, ZERO) if side == "debit" else (ZERO, amount)
        balance = balance + credit - debit
        rows.append(
            _row(account_number, seq, day, description, f"H{seq:07d}", debit, credit, balance, rng)
        )
    with session_scope(url) as session:
        session.execute(
            insert(Member),
            [
                {
                    "member_number": member_number,
                    "identification": "1716520000",
                    "given_names": "Historia Larga",
                    "surnames": "Prueba Rendimiento",
                    "email": "historia.larga@example.com",
                    "phone": "0990000000",
                    "joined_on": opened,
                    "status": "activo",
                }
            ],
        )
        session.execute(
            insert(SavingsAccount),
            [
                {
                    "account_number": account_number,
                    "member_number": member_number,
                    "product": "AHORRO_VISTA",
                    "product_name": PRODUCT_NAMES["AHORRO_VISTA"],
                    "balance": balance,
                    "available_balance": balance,
                    "status": "activa",
                    "opened_on": opened,
                    "last_seq": len(rows),
                }
            ],
        )
        for start in range(0, len(rows), 20000):
            session.execute(insert(Movement), rows[start : start + 20000])
    return 1
