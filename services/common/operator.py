"""What operators do with a service's inbound core events, through the service that owns them.

`CoreOperations` is mixed into each service that consumes `core.events` (accounts, credit,
deposit): its RPCs are the only way `python -m scripts.portal held …` and `parked discard …`
reach a service's `held_events` table and its audit trail (one service's tables are touched by
its own process only). Each discard is published as `<service>.core_event_discarded` through the
service's outbox, in the same transaction, and the audit service records it.

    class AccountsService(CoreOperations):
        held_table = held_events

        def stream_last(self, stream): ...  # the stream's last applied sequence
"""

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, select

from services.common.entrypoints import rpc
from services.common.errors import NotFound, ValidationError
from services.common.events import iso_utc

DISCARDED = "core_event_discarded"
MAX_REASON = 300


def _when(moment: datetime) -> str:
    return iso_utc(moment)


def held_streams(session: Any, table: Table, last_of: Any) -> list[dict[str, Any]]:
    """[{stream, waiting_for, held: [{sequence, event_id, event_type, received_at}], since}] of
    every stream with a held event, the longest waiting first. `waiting_for` is the sequence
    whose arrival would let the stream go on (its last applied + 1)."""
    rows = session.execute(
        select(table.c.stream, table.c.sequence, table.c.event, table.c.received_at).order_by(
            table.c.stream, table.c.sequence
        )
    ).all()
    streams: dict[str, dict[str, Any]] = {}
    for row in rows:
        try:
            event = json.loads(row.event)
        except ValueError:
            event = {}
        entry = streams.setdefault(
            row.stream, {"stream": row.stream, "held": [], "since": row.received_at}
        )
        entry["since"] = min(entry["since"], row.received_at)
        entry["held"].append(
            {
                "sequence": row.sequence,
                "event_id": event.get("event_id"),
                "event_type": event.get("event_type"),
                "received_at": _when(row.received_at),
            }
        )
    out = []
    for stream, entry in streams.items():
        last = last_of(stream)
        entry["last_applied"] = last
        entry["waiting_for"] = None if last is None else last + 1
        entry["since"] = _when(entry["since"])
        out.append(entry)
    return sorted(out, key=lambda e: e["since"])


def _reason(reason: object) -> str:
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise ValidationError(fields={"reason": ["Indique el motivo del descarte."]})
    return text[:MAX_REASON]


class CoreOperations:
    """The operators' RPCs over a service's inbound core events (see the module)."""

    name: str
    db: Any
    events: Any
    # the service's `held_events` (None: its events are not ordered, nothing is ever held)
    held_table: Table | None = None

    def stream_last(self, stream: str) -> int | None:
        """The last applied sequence of `stream` (e.g. "account:4100234001"), None if unknown."""
        return None

    @rpc
    def held_streams(self) -> list[dict[str, Any]]:
        """Streams stuck behind a missing sequence: what each waits for, since when."""
        if self.held_table is None:
            return []
        return held_streams(self.db, self.held_table, self.stream_last)

    @rpc
    def discard_held(
        self, stream: str, sequence: int, reason: str, operator: str | None = None
    ) -> dict[str, Any]:
        """Drop one held event (it will never apply: e.g. a sequence the core never reaches);
        audited. Returns what was discarded."""
        why = _reason(reason)
        table = self.held_table
        if table is None or not isinstance(sequence, int) or not isinstance(stream, str):
            raise NotFound("No hay un evento retenido con esa secuencia en ese flujo.")
        row = self.db.execute(
            select(table.c.id, table.c.event).where(
                table.c.stream == stream, table.c.sequence == sequence
            )
        ).first()
        if row is None:
            raise NotFound("No hay un evento retenido con esa secuencia en ese flujo.")
        self.db.execute(delete(table).where(table.c.id == row.id))
        try:
            event = json.loads(row.event)
        except ValueError:
            event = {}
        record = {
            "service": self.name,
            "where": "held",
            "stream": stream,
            "sequence": sequence,
            "event_id": event.get("event_id"),
            "event_type": event.get("event_type"),
            "refusal": None,
            "reason": why,
            "operator": (operator or "")[:80] or None,
        }
        self.events.emit(DISCARDED, record)
        return record

    @rpc
    def record_parked_discard(
        self, parked: dict[str, Any], reason: str, operator: str | None = None
    ) -> dict[str, Any]:
        """Audit an operator's discard of an event parked in `core.<service>.dead` (the operator's
        tool removes it from the queue once this returned)."""
        why = _reason(reason)
        parked = parked if isinstance(parked, dict) else {}

        def text(key: str, limit: int) -> str | None:
            value = parked.get(key)
            return str(value)[:limit] if value not in (None, "", "-") else None

        sequence = parked.get("sequence")
        record = {
            "service": self.name,
            "where": "parked",
            "stream": text("stream", 60),
            "sequence": sequence if isinstance(sequence, int) else None,
            "event_id": text("event_id", 36),
            "event_type": text("event_type", 80),
            "refusal": text("reason", 500),
            "reason": why,
            "operator": (operator or "")[:80] or None,
        }
        self.events.emit(DISCARDED, record)
        return record
