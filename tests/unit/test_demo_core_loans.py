"""The demo core's word on a loan payment (scripts/demo_core.py; docs/payments.md, "The demo
core"): it honours exactly the quote its books give today, or rejects — never another amount."""

from datetime import date

from scripts.demo_core import Books, DemoCore, Ledger

TODAY = date(2026, 12, 7)
LOAN = {
    "member_number": "100234",
    "status": "activo",
    "last_sequence": 5,
    "unpaid": [
        {
            "number": n,
            "due_date": due,
            "principal": "80.00",
            "interest": "15.00",
            "insurance": "5.10",
            "installment": "100.10",
        }
        for n, due in ((6, "2026-11-05"), (7, "2026-12-20"), (8, "2027-01-20"))
    ],
    "due": {
        "as_of": "2026-12-06",
        "days_overdue": 31,
        "late_interest": "2.37",
        "other_charges": "0.00",
    },
}


def core():
    books = Books(
        lambda numbers: {
            "4100234001": {"member_number": "100234", "last_seq": 3, "balance": "500.00"}
        },
        Ledger(":memory:"),
        lambda numbers: {"CR-100234-02": dict(LOAN)},
    )
    return DemoCore(books, today=lambda: TODAY)


def request(request_id, amount, numbers=(6, 7), as_of="2026-12-06"):
    return {
        "request_id": request_id,
        "request_type": "loan_payment",
        "valid_until": "2999-01-01T00:00:00Z",
        "data": {
            "member_number": "100234",
            "from_account": "4100234001",
            "loan_number": "CR-100234-02",
            "installment_numbers": list(numbers),
            "amount": amount,
            "as_of": as_of,
            "confirmed_with": "totp",
        },
    }


def test_the_demo_core_honours_its_own_quote_and_rejects_any_other():
    demo = core()
    for wrong in (
        request("a", "200.20"),
        request("b", "202.57", numbers=(6,)),
        request("c", "202.57", as_of="2026-12-05"),
    ):
        (answer,) = demo.answer(wrong)
        assert answer["event_type"] == "request_rejected"
        assert answer["data"]["reason_code"] == "monto_invalido"

    events = demo.answer(request("d", "202.57"))  # 100.10 + 100.10 + 2.37
    assert [e["event_type"] for e in events] == [
        "movement_posted",
        "installment_paid",
        "installment_paid",
        "loan_due_updated",
        "request_completed",
    ]
    debit, sixth, seventh, out, done = (e["data"] for e in events)
    assert (debit["debit"], debit["balance"], debit["sequence"]) == ("202.57", "297.43", 4)
    assert (sixth["loan_sequence"], sixth["late_interest"]) == (6, "2.37")
    assert (seventh["loan_sequence"], seventh["late_interest"]) == (7, "0.00")
    assert {debit["request_id"], sixth["request_id"], done["request_id"]} == {"d"}
    assert (out["days_overdue"], out["overdue_installments"]) == (0, [])
    assert done["amount"] == "202.57"


def test_the_demo_core_reports_a_close_once_and_again_when_the_day_turns():
    """At start the close of yesterday; nothing more that day; the next day's close when the
    day turns (Ecuador's day, from the clock it is given). Late interest: 1.1 × 16 % on the
    overdue principal for the days late, on a 360-day year (the demo's stand-in rule)."""
    from datetime import timedelta

    from scripts.demo_core import DayCloses

    days = [TODAY]
    asked = []

    def read_arrears(as_of):
        asked.append(as_of)
        overdue = [dict(LOAN["unpaid"][0], number=6)]
        return {"CR-100234-02": {"annual_rate": "16.00", "overdue": overdue}}

    closes = DayCloses(read_arrears, lambda: days[0])
    [first] = closes.due()
    assert first["event_type"] == "loan_due_updated"
    assert {k: first["data"][k] for k in ("as_of", "days_overdue", "overdue_installments")} == {
        "as_of": "2026-12-06",
        "days_overdue": 31,
        "overdue_installments": [6],
    }
    # 80.00 × 16 × 1.1 / 100 × 31 / 360 = 1.2124…
    assert (first["data"]["late_interest"], first["data"]["total_due"]) == ("1.21", "101.31")
    assert closes.due() == []
    days[0] = TODAY + timedelta(days=1)
    [second] = closes.due()
    assert (second["data"]["as_of"], second["data"]["days_overdue"]) == ("2026-12-07", 32)
    assert asked == [date(2026, 12, 6), date(2026, 12, 7)]
