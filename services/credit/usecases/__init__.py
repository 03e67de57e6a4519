"""credit's use cases, the application layer between the nameko entrypoints (`service.py`) and
the pure rules (`domain.py`). Each takes the unit of work (the worker's session), the outbox, the
clock and the accounts proxy it needs as arguments, reads and writes through `store.py` and
`catalog.py`, and answers its contract:

    products.py      list_products, simulate
    applications.py  project_application, submit_application, list_applications,
                     withdraw_application
    loans.py         list_loans, get_loan, loans_summary, guarantees
    from_core.py     the core's events: HANDLERS (event type → use case, the same table binds
                     the queue core.credit), core_event, inbound_status
"""

from services.credit.usecases.from_core import HANDLERS

__all__ = ["HANDLERS"]
