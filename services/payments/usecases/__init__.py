"""payments' use cases: transfers, their confirmation saga, the requests to the core and its
answers, limits, beneficiaries (docs/payments.md).

The application layer between the nameko entrypoints (`service.py`) and the pure rules
(`domain.py`): it reads and writes through `store.py`, asks accounts (holds) and auth (the second
factor) over RPC, writes events and requests through outboxes, and takes "now" from the clock.
The confirmation is a saga of local transactions, each committed before the next step and each
idempotent by the order's request_id, so a crash between two is finished by the sweeper.

`PaymentsUseCases` (what service.py builds for each worker) is composed of one class a
capability, each in its module:

    base.py           Settings, OrderConfirmation (auth's second factor), UseCasesBase (what
                      every use case is given: the session, outboxes, proxies, clock)
    idempotency.py    once_per_key: every creation at most once per Idempotency-Key
    views.py          an order as the API shows it (order_view, payment_view, view_of), its
                      timeline and evidence, request_data (its request to the core)
    limits.py         get_limits, lower_limits, change_limits, get_limit_change,
                      confirm_limit_change; the limits and today's use an order is checked against
    saga.py           the steps of a confirmed order (confirmando, the hold, enviada and its
                      request), an order's cancel and its events
    beneficiaries.py  list_beneficiaries, add_beneficiary (the daily attempt cap),
                      confirm_beneficiary, delete_beneficiary
    orders.py         create_transfer, create_loan_payment (the quote), confirm, list_transfers,
                      get_transfer, order_evidence
    from_core.py      the core's answers: HANDLERS (event type → use case, the same table binds
                      the queue core.payments), on_core_event, on_movement_posted; sweep;
                      pending_requests, resolve
"""

from services.payments.usecases.base import OrderConfirmation, Settings
from services.payments.usecases.beneficiaries import BeneficiariesUseCases
from services.payments.usecases.from_core import HANDLERS, FromCoreUseCases
from services.payments.usecases.orders import OrdersUseCases


class PaymentsUseCases(OrdersUseCases, BeneficiariesUseCases, FromCoreUseCases):
    """Every use case of payments, on one worker's dependencies (UseCasesBase's constructor)."""


__all__ = ["HANDLERS", "OrderConfirmation", "PaymentsUseCases", "Settings"]
