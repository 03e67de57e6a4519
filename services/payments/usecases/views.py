"""An order as the API shows it (a transfer, a loan payment), its timeline and evidence, and the
`data` of its request to the core: pure functions of the stored order."""

import json
from typing import Any

from services.payments import domain
from services.payments.contracts import LoanPaymentSchema, TransferSchema
from services.payments.models import Order
from services.payments.usecases.base import known

TRANSFER = TransferSchema()
PAYMENT = LoanPaymentSchema()


def confirmation_view(challenge: dict[str, Any]) -> dict[str, Any]:
    """What a creation answers of its second-factor challenge (an order, a beneficiary, a limit
    raise): its id, the methods that may answer it, until when."""
    return {
        "challenge_id": challenge["challenge_id"],
        "methods": challenge.get("methods", []),
        "challenge_expires_at": challenge.get("challenge_expires_at"),
    }


def order_view(order: Order) -> dict[str, Any]:
    view = {
        column: getattr(order, column)
        for column in (
            "id",
            "request_id",
            "kind",
            "from_account",
            "amount",
            "description",
            "status",
            "reason_code",
            "reason",
            "core_reference",
            "created_at",
            "confirmed_at",
            "sent_at",
            "answered_at",
        )
    }
    view["to_account_masked"] = domain.mask_account(order.to_account)
    if order.request_type == domain.LOAN_PAYMENT:
        # the member's own loan, named whole; what is paid in words
        numbers = domain.numbers_of(order.installment_numbers)
        view["to_account_masked"] = f"Crédito {order.loan_number}"
        view["description"] = (
            "Cuota" + ("s" if len(numbers) > 1 else "") + " N° " + ", ".join(map(str, numbers))
        )
    view["timeline"] = order_timeline(order)
    return view


def order_timeline(order: Order) -> Any:
    return domain.timeline(
        {
            column: getattr(order, column)
            for column in (*(c for _s, c in domain.STATE_TIMES), "answered_at")
        },
        order.status,
    )


def evidence_of(order: Order) -> dict[str, Any]:
    """The order's evidence as stored (created, confirmed, shown), {} for an order from before."""
    return json.loads(order.evidence) if order.evidence else {}


def request_data(order: Order) -> dict[str, Any]:
    """The `data` of an order's request to the core (docs/integration.md)."""
    if order.request_type == domain.LOAN_PAYMENT:
        return domain.loan_payment_data(
            order.member_number,
            order.from_account,
            known(order.loan_number),
            domain.numbers_of(order.installment_numbers),
            order.amount,
            order.quote_as_of,
            order.confirmed_with or "",
        )
    return domain.transfer_data(
        order.member_number,
        order.kind,
        order.from_account,
        order.to_account,
        order.to_member_number,
        order.amount,
        order.description,
        order.confirmed_with or "",
    )


def payment_view(order: Order) -> dict[str, Any]:
    """A loan payment as the API shows it (LoanPaymentSchema): the quote it carries."""
    view = order_view(order)
    view.update(
        loan_number=order.loan_number,
        installment_numbers=list(domain.numbers_of(order.installment_numbers)),
        installments_amount=order.installments_amount,
        late_interest=order.late_interest,
        other_charges=order.other_charges,
        as_of=order.quote_as_of,
    )
    return view


def view_of(order: Order) -> dict[str, Any]:
    """The order in the shape of its kind (a transfer, or a loan payment)."""
    if order.request_type == domain.LOAN_PAYMENT:
        return PAYMENT.dump(payment_view(order))
    return TRANSFER.dump(order_view(order))
