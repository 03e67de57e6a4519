"""Consumption of the cooperative core's events (exchange `core.events`, docs/integration.md).

    HANDLERS = HandlerTable({"account_opened": usecases.account_opened, ...})

    class AccountsService:
        @core_events("accounts", HANDLERS.event_types)
        def on_core_event(self, event):
            if not claim(self.db, processed_events, event, CONSUMER):  # the inbox (events.py)
                return
            HANDLERS.dispatch(event["event_type"], ...)

One module per job:

- `envelope`: what a message must be before a handler sees it (sent by the core's broker user,
  JSON of at most 64 KiB, an envelope of a type the queue takes, under its own routing key), and
  `load_data` of an event's `data` with its schema;
- `refusals`: the per-kind counts of refused events, in the service's `inbound_refusals` table;
- `ordering`: a sequenced stream applied in order (`lock_owner`, `apply_in_order`, held events);
- `consumer`: the `core_events` entrypoint and its queue consumer;
- `batching`: `CoreBatch`, events applied together in one transaction (`batch=N`);
- `parking`: retry (`NotYet`, unexpected errors) or park (`Refused`) after the worker.

What a handler raises decides the message's fate: `Refused(reason, kind)` (the event is wrong:
rolled back, parked at once, counted), `NotYet(reason, kind)` (what it needs may still be in
flight: retried a few times with a short backoff, then parked), anything else (retried with the
platform's backoff, then parked). The claim is the inbox's (services/common/events.py), the
ordering rule and the refusals themselves pure (services/common/ordering.py).
"""

from services.common.events import already_handled, claim, content_digest, reused
from services.common.inbound.batching import CoreBatch
from services.common.inbound.consumer import CoreEventConsumer, CoreQueueConsumer, core_events
from services.common.inbound.envelope import (
    CORE_EXCHANGE,
    CORE_USER_KEY,
    DEFAULT_CORE_USER,
    MAX_MESSAGE_BYTES,
    CoreEvent,
    envelope_problem,
    load_data,
    routing_problem,
    sender_is_core,
    transport_problem,
)
from services.common.inbound.ordering import (
    apply_in_order,
    held_count,
    held_events_table,
    held_in,
    hold_event,
    lock_owner,
    lock_owners,
    park_after,
    take_held,
)
from services.common.inbound.parking import (
    EVENT_TYPE_HEADER,
    KIND_HEADER,
    NOT_YET_DELAYS,
    PARKED_AT_HEADER,
    REFUSAL_HEADER,
)
from services.common.inbound.refusals import count_refusal, refusal_counts, refusals_table
from services.common.ordering import (
    APPLY,
    HOLD,
    KIND_CONFLICT,
    KIND_ENVELOPE,
    KIND_ERROR,
    KIND_INVALID,
    KIND_NOT_JSON,
    KIND_REUSED,
    KIND_SENDER,
    KIND_UNKNOWN,
    PAST,
    NotYet,
    Refused,
    order_decision,
)

__all__ = [
    "APPLY",
    "CORE_EXCHANGE",
    "CORE_USER_KEY",
    "DEFAULT_CORE_USER",
    "EVENT_TYPE_HEADER",
    "HOLD",
    "KIND_CONFLICT",
    "KIND_ENVELOPE",
    "KIND_ERROR",
    "KIND_HEADER",
    "KIND_INVALID",
    "KIND_NOT_JSON",
    "KIND_REUSED",
    "KIND_SENDER",
    "KIND_UNKNOWN",
    "MAX_MESSAGE_BYTES",
    "NOT_YET_DELAYS",
    "PARKED_AT_HEADER",
    "PAST",
    "REFUSAL_HEADER",
    "CoreBatch",
    "CoreEvent",
    "CoreEventConsumer",
    "CoreQueueConsumer",
    "NotYet",
    "Refused",
    "already_handled",
    "apply_in_order",
    "claim",
    "content_digest",
    "core_events",
    "count_refusal",
    "envelope_problem",
    "held_count",
    "held_events_table",
    "held_in",
    "hold_event",
    "load_data",
    "lock_owner",
    "lock_owners",
    "order_decision",
    "park_after",
    "refusal_counts",
    "refusals_table",
    "reused",
    "routing_problem",
    "sender_is_core",
    "take_held",
    "transport_problem",
]
