"""The deposit part of the demo cooperative: the members' term deposits.

The reference members' deposits are exactly those of fixtures/reference_members.json (maria's
DPF-100234-01 at maturity, Ana's DPF-100781-01 with monthly payments); about 15 % of the generated
members get one or two realistic deposits. Each deposit takes its rate and withholding from the
chart band of its term in force on its opening date (the chart is seeded by the migration).
Deterministic (fixed seed per member) and idempotent (a deposit already loaded is left as it is).
"""

from datetime import timedelta
from decimal import Decimal

from services.common.db import session_scope
from services.common.demo import census, days_ago, member_rng
from services.deposit import bulk, domain, store

SHARE_WITH_DEPOSITS = 0.15
TERMS = (30, 60, 90, 120, 180, 181, 270, 360, 361, 540, 720, 1080)
TERM_WEIGHTS = (3, 5, 8, 4, 10, 3, 6, 8, 6, 3, 2, 1)


def deposits_for(member, today):
    """[(deposit_number, amount, term_days, opened_on, interest_payment)] of a census member."""
    if member.reference:
        return [
            (
                d["deposit_number"],
                Decimal(d["amount"]),
                d["term_days"],
                days_ago(today, d["opened_days_ago"]),
                d["interest_payment"],
            )
            for d in member.reference.get("deposits", [])
        ]
    rng = member_rng(member.member_number, "deposit")
    if rng.random() >= SHARE_WITH_DEPOSITS:
        return []
    out = []
    for index in range(1, 3 if rng.random() < 0.25 else 2):
        term = rng.choices(TERMS, TERM_WEIGHTS)[0]
        # at least the minimum of 100.00 (5 × 20)
        amount = Decimal(rng.choice((5, 10, 20, 50, 100)) * rng.randint(20, 300))
        opened = max(member.joined_on, today - timedelta(days=rng.randrange(term)))
        mode = domain.MONTHLY if term >= 60 and rng.random() < 0.4 else domain.MATURITY
        out.append((f"DPF-{member.member_number}-{index:02d}", amount, term, opened, mode))
    return out


def census_rows(session, today, count=None):
    """The census's deposits as bulk-load rows (docs/integration.md's columns), each at the rate
    of the chart in force on its opening date (read from `session`, the deposit database)."""
    charts, rows = {}, []
    for member in census(today, count):
        for number, amount, term, opened, mode in deposits_for(member, today):
            if opened not in charts:
                charts[opened] = store.chart_in_force(session, opened)
            chart = charts[opened]
            if chart is None:
                raise RuntimeError("deposit: no rate chart in force (run the migrations)")
            rows.append(
                {
                    "deposit_number": number,
                    "member_number": member.member_number,
                    "amount": f"{amount:.2f}",
                    # the core sends a rate with two decimals
                    "annual_rate": f"{chart.rate_for(term, amount):.2f}",
                    "term_days": str(term),
                    "opened_on": opened.isoformat(),
                    "maturity_date": domain.maturity_date(opened, term).isoformat(),
                    "interest_payment": mode,
                }
            )
    return rows


def load(url, today, count=None):
    """Load the census's deposits through the deposit bulk load (services/deposit/bulk.py) on
    `url`; returns how many were created. The test suite's quick way in; `scripts.portal setup`
    writes the same rows as CSV files and imports them (scripts/bulk_import.py)."""
    with session_scope(url) as session:
        rows = census_rows(session, today, count)
    with session_scope(url) as session:
        return bulk.import_rows(session, "deposits", rows)["created"]
