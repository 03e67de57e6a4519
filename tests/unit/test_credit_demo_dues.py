"""The demo core's arrears snapshot (services/credit/demo.py `census_dues`, docs/credit.md "Demo
data"): late interest on each overdue installment's principal, for that installment's own days
late, at the agreed rate with the 10 % surcharge."""

from datetime import date

from services.credit.demo import census_dues

LOANS = [
    {"loan_number": "CR-1", "annual_rate": "15.00", "settled_on": ""},
    {"loan_number": "CR-2", "annual_rate": "15.00", "settled_on": "2026-10-01"},
]


def installment(loan, number, due, principal, paid_on=""):
    return {
        "loan_number": loan,
        "number": str(number),
        "due_date": due,
        "principal": principal,
        "interest": "50.00",
        "installment": "250.00",
        "paid_on": paid_on,
    }


def test_each_overdue_installment_bears_late_interest_from_its_own_due_date():
    rows = [
        installment("CR-1", 5, "2026-10-21", "198.00", paid_on="2026-10-21"),
        installment("CR-1", 7, "2026-12-21", "202.50"),
        installment("CR-1", 6, "2026-11-21", "200.00"),
        installment("CR-1", 8, "2027-01-21", "205.00"),  # not yet due
        installment("CR-2", 9, "2026-09-21", "100.00"),  # a settled loan: nothing owed
    ]
    (due,) = census_dues(LOANS, rows, date(2027, 1, 7))
    assert due["as_of"] == "2027-01-06"  # yesterday's close
    assert due["days_overdue"] == "46" and due["overdue_installments"] == "6 7"
    assert due["overdue_principal"] == "402.50" and due["overdue_interest"] == "100.00"
    # 200.00 × 15 % × 1.1 × 46/360 = 4.22 and 202.50 × 15 % × 1.1 × 16/360 = 1.49 (not the
    # whole 402.50 for 46 days: 8.49)
    assert due["late_interest"] == "5.71"
    assert due["other_charges"] == "0.00" and due["total_due"] == "505.71"
