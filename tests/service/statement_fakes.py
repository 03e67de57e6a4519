"""Throwaway nameko services named "auth", "credit" and "deposit" for the statements tests.

They are real services on the test's broker vhost answering the RPCs the gateway calls with
fixed data (the real ones are built in parallel). Not mocks: the gateway talks AMQP to them.
"""

from services.common.entrypoints import rpc
from services.common.errors import Unauthenticated

SESSIONS = {
    "tok-maria": {"username": "maria", "member_number": "100234", "display_name": "María Pérez"},
    "tok-jose": {"username": "jose", "member_number": "100517", "display_name": "José Andrade"},
}

LOANS = {
    "100234": [
        {
            "loan_number": "CR-100234-01",
            "product_name": "Crédito de consumo",
            "amount": "12000.00",
            "outstanding_principal": "8123.45",
            "next_due_date": "2026-12-05",
            "next_installment": "421.88",
            "overdue_installments": 0,
        },
        {
            "loan_number": "CR-100234-02",
            "product_name": "Microcrédito minorista",
            "amount": "4000.00",
            "outstanding_principal": "2999.99",
            "next_due_date": "2026-11-20",
            "next_installment": "228.06",
            "overdue_installments": 1,
        },
    ]
}

DEPOSITS = {
    "100234": [
        {
            "deposit_number": "DPF-100234-01",
            "amount": "5000.00",
            "annual_rate": "7.43",
            "opened_on": "2026-09-26",
            "maturity_date": "2027-03-25",
            "accrued_interest": "61.92",
        }
    ]
}


class FakeAuth:
    name = "auth"

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def authenticate(self, token):
        if token not in SESSIONS:
            raise Unauthenticated()
        return {**SESSIONS[token], "must_change_password": False, "session_id": token}


class FakeCredit:
    name = "credit"
    batches: list[list[str]] = []  # the member numbers of each loans_summaries call

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def loans_summary(self, member_number):
        return LOANS.get(member_number, [])

    @rpc
    def loans_summaries(self, member_numbers):
        FakeCredit.batches.append(list(member_numbers))
        return {number: LOANS.get(number, []) for number in member_numbers}


class FakeDeposit:
    name = "deposit"

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def deposits_summary(self, member_number):
        return DEPOSITS.get(member_number, [])

    @rpc
    def deposits_summaries(self, member_numbers):
        return {number: DEPOSITS.get(number, []) for number in member_numbers}
