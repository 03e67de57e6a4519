"""The core's close of a business day compared with the accounts (docs/integration.md)."""

import json
from collections.abc import Sequence
from datetime import date
from typing import Any, cast

from sqlalchemy.orm import Session

from services.accounts import domain, store
from services.accounts.contracts import (
    ReconciliationFailedEventSchema,
)
from services.accounts.models import (
    ReconciliationChunk,
    ReconciliationDay,
    ReconciliationDifference,
)
from services.accounts.schemas import (
    DayClosedSchema,
)
from services.accounts.usecases import core_event_data
from services.common.clock import Clock
from services.common.errors import NotFound, ValidationError
from services.common.inbound import CoreEvent, NotYet, Refused
from services.common.ordering import KIND_CONFLICT
from services.common.ports import Outbox

# how long a day_closed waits for movements still on their way (the NotYet retries go past it)
RECONCILIATION_GRACE_SECONDS = 10

CORE_DAY_CLOSED = DayClosedSchema()
BAD_DATE = "Fecha inválida: use el formato AAAA-MM-DD."


def day_closed(db: Session, outbox: Outbox, clock: Clock, event: CoreEvent) -> None:
    data = core_event_data(CORE_DAY_CLOSED, event)
    day = store.lock_reconciliation_day(db, data["business_date"], data["chunks"])
    compared = db.get(ReconciliationChunk, (data["business_date"], data["chunk"]))
    if compared is not None or (day.complete and day.chunks != data["chunks"]):
        # a new day_closed (a redelivery has the same event_id and stops at the inbox) for
        # a chunk already compared, or a whole new close of a complete day: the core closes
        # the day again, and this comparison replaces the earlier one
        store.restart_reconciliation_day(db, day, data["chunks"])
    elif day.chunks != data["chunks"]:
        raise Refused(
            f"El cierre del {data['business_date']} se anunció en {day.chunks} partes, "
            f"no en {data['chunks']}.",
            KIND_CONFLICT,
        )
    portal = store.reconciliation_accounts(
        db, [a["account_number"] for a in data["accounts"]], data["business_date"]
    )
    late = domain.movements_in_flight(portal, data["accounts"])
    if late and domain.recently(
        event.get("occurred_at"), clock.now(), RECONCILIATION_GRACE_SECONDS
    ):
        # the day's last movements may be a few messages behind the close (held, retried):
        # wait for them rather than record a difference that is not one
        raise NotYet(
            f"El cierre del {data['business_date']} espera movimientos en camino "
            f"de {len(late)} cuenta(s), p. ej. {late[0]}."
        )
    db.add(
        ReconciliationChunk(
            business_date=data["business_date"],
            chunk=data["chunk"],
            received_at=clock.utcnow(),
            # the core's figures as sent: an operator's redo compares them again
            accounts=json.dumps(event["data"]["accounts"], ensure_ascii=False),
        )
    )
    day.received += 1
    day.differences += _compare_close(db, data["business_date"], data["accounts"], portal)
    if day.received >= day.chunks and not day.complete:
        _close_complete(outbox, clock, day)


def _compare_close(
    db: Session,
    business_date: date,
    accounts: Sequence[Any],  # the core's figures (CoreAccountFigures), loaded
    portal: dict[str, Any],
) -> int:
    """Record every difference between the core's figures of one chunk and the portal's
    accounts at the close of `business_date`; returns how many."""
    found = 0
    for core in accounts:
        for kind, portal_value, core_value in domain.reconciliation_differences(
            portal.get(core["account_number"]), core
        ):
            found += 1
            db.add(
                ReconciliationDifference(
                    business_date=business_date,
                    account_number=core["account_number"],
                    kind=kind,
                    portal_value=portal_value,
                    core_value=core_value,
                )
            )
    return found


def _close_complete(outbox: Outbox, clock: Clock, day: ReconciliationDay) -> None:
    day.complete = True
    day.completed_at = clock.utcnow()
    if day.differences:
        outbox.emit(
            "reconciliation_failed",
            ReconciliationFailedEventSchema().dump(
                {"business_date": day.business_date, "differences": day.differences}
            ),
        )


# --- redone by an operator, and read ----------------------------------------------------


def _business_date(value: Any) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationError(fields={"business_date": [BAD_DATE]}) from None


def redo_reconciliation(
    db: Session, outbox: Outbox, clock: Clock, business_date: Any
) -> dict[str, Any]:
    """Compare a closed day again: the core's figures of each chunk as it sent them against the
    portal's accounts now; the new differences replace the day's earlier ones."""
    day_value = _business_date(business_date)
    day = store.lock_reconciliation_day_if_any(db, day_value)
    if day is None:
        raise NotFound(f"No hay cierre del core para {business_date}.")
    chunks = store.reconciliation_chunks(db, day_value)
    if any(c.accounts is None for c in chunks):
        raise ValidationError(
            fields={
                "business_date": [
                    "Este cierre se recibió antes de guardar las cifras del core: "
                    "pida al core que envíe el day_closed de nuevo."
                ]
            }
        )
    store.delete_reconciliation_differences(db, day_value)
    day.differences = 0
    day.complete = False
    for chunk in chunks:
        data = core_event_data(
            CORE_DAY_CLOSED,
            {
                "event_type": "day_closed",
                "data": {
                    "business_date": business_date,
                    "chunk": chunk.chunk,
                    "chunks": day.chunks,
                    # none is None: checked above
                    "accounts": json.loads(cast(str, chunk.accounts)),
                },
            },
        )
        portal = store.reconciliation_accounts(
            db, [a["account_number"] for a in data["accounts"]], day_value
        )
        day.differences += _compare_close(db, day_value, data["accounts"], portal)
    if day.received >= day.chunks:
        _close_complete(outbox, clock, day)
    db.flush()
    return reconciliation(db, business_date)


def reconciliation(db: Session, business_date: Any = None) -> dict[str, Any]:
    """The differences of a closed day (the last one when no date is given)."""
    day_value = _business_date(business_date) if business_date else None
    day = store.reconciliation_day(db, day_value)
    if day is None:
        return {"business_date": business_date, "found": False, "differences": []}
    return {
        "business_date": day.business_date.isoformat(),
        "found": True,
        "chunks": day.chunks,
        "received": day.received,
        "complete": day.complete,
        "differences": [
            {
                "account_number": d.account_number,
                "kind": d.kind,
                "portal": d.portal_value,
                "core": d.core_value,
            }
            for d in store.reconciliation_differences(db, day.business_date)
        ],
    }
