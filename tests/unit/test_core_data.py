"""The bulk load's row rules are the inbound events' rules: a movement's fast path accepts exactly
what the event schema accepts, with the same values."""

from datetime import datetime
from decimal import Decimal

import pytest

from services.accounts import rows

GOOD = {
    "account_number": "4100234001",
    "sequence": "12",
    "date": "2026-01-02",
    "posted_at": "2026-01-02T15:11:00Z",
    "description": "Depósito de nómina",
    "reference": "NOM-12",
    "debit": "0.00",
    "credit": "123.45",
    "balance": "1000.00",
}


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"debit": "10.00", "credit": "0.00"},
        {"credit": "123.5"},  # one decimal: an amount with at most two
        {"credit": "123.456"},
        {"credit": "-1.00"},
        {"debit": "0.00", "credit": "0.00"},  # exactly one side
        {"debit": "5.00"},  # both sides
        {"sequence": "0"},
        {"sequence": "007"},
        {"sequence": "x"},
        {"date": "2026-02-30"},
        {"posted_at": "2026-01-02T15:11:00"},
        {"posted_at": "2026-01-02T15:11:00+00:00"},
        {"posted_at": "ayer"},
        {"reference": ""},
        {"description": "x" * 121},
        {"balance": "1e3"},
    ],
)
def test_a_movement_row_obeys_the_event_schema(change):
    raw = {**GOOD, **change}
    fast, fast_errors = rows.parse_movement(raw)
    slow, slow_errors = rows._movement_schema(raw)
    assert bool(fast_errors) == bool(slow_errors), (fast_errors, slow_errors)
    if not slow_errors:
        slow["posted_at"] = slow["posted_at"].replace(tzinfo=None)
        assert fast == slow


def test_a_good_movement_row_gives_decimals_dates_and_a_naive_utc_instant():
    clean, errors = rows.parse_movement(GOOD)
    assert errors == []
    assert clean["credit"] == Decimal("123.45") and clean["sequence"] == 12
    assert clean["posted_at"] == datetime(2026, 1, 2, 15, 11)


def test_a_bad_member_row_names_each_problem_in_spanish():
    clean, errors = rows.parse_member(
        {
            "member_number": "300001",
            "identification": "1710034065",
            "first_names": "",
            "last_names": "Lema",
            "email": "no-es-correo",
            "phone": "",
            "status": "jubilado",
            "joined_on": "2026-13-01",
        }
    )
    assert clean is None
    fields = sorted(e.split(":")[0] for e in errors)
    assert fields == ["email", "first_names", "joined_on", "status"]
