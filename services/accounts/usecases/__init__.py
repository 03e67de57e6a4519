"""The accounts service's application layer: each use case takes the unit of work (the worker's
database session `db`), the outbox (`outbox.emit`) and the clock as arguments, and returns what
the RPC answers (a contract's shape); service.py only wires them to nameko.

- `members`: the member record, the accounts, statements and daily balances, transfer targets;
- `movements`: `apply_movements`, the one way to write movements (the core's, a batch of any
  size from 1 up, and the `post_movement` RPC's);
- `from_core`: the core's events, applied through `HANDLERS` (event type → use case), the
  table that also declares the queues' bindings (service.py);
- `reconciliation`: the core's day close compared with the accounts, and redone;
- `holds`: holds of confirmed orders (docs/payments.md).
"""

from typing import Any

from marshmallow import Schema

from services.accounts.schemas import CoreMovementSchema
from services.common import inbound
from services.common.inbound import CoreEvent

ACCOUNT_NOT_FOUND = "La cuenta no existe."
# the inbox's consumer name of the core's events, whichever queue brought them
CORE_CONSUMER = "accounts.on_core_event"
CORE_MOVEMENT = CoreMovementSchema()


def core_event_data(schema: Schema, event: CoreEvent) -> Any:
    """The event's `data` loaded with its schema; a wrong one is refused with every reason."""
    # str(): the same words in the refusal as the f-string gave None
    return inbound.load_data(schema, event.get("data"), str(event.get("event_type")))


def core_movement(event: CoreEvent) -> Any:
    return core_event_data(CORE_MOVEMENT, event)
