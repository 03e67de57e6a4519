"""Applying a sequenced stream's events in order (an account's, a loan's: 1, 2, 3…): the owner's
row locked, an early event held in `held_events` until its predecessor is applied, a past one
compared with what was applied. The rule itself is pure: services/common/ordering.py."""

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    BindParameter,
    Column,
    DateTime,
    Delete,
    Integer,
    MetaData,
    Row,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    Update,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from services.common.clock import CLOCK
from services.common.inbound.envelope import CoreEvent
from services.common.ordering import (
    APPLY,
    HOLD,
    KIND_CONFLICT,
    PAST,
    Decision,
    Refused,
    order_decision,
)

# the session.info key of held events refused when their turn came (parked after the commit)
PARKS_KEY = "core_parks"


def held_events_table(metadata: MetaData) -> Table:
    """Events that arrived before their predecessor: held (acked, not applied) until it comes."""
    return Table(
        "held_events",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("stream", String(60), nullable=False),  # e.g. "account:1234", "loan:56"
        Column("sequence", Integer, nullable=False),
        Column("event", Text, nullable=False),
        Column("received_at", DateTime, nullable=False),
        UniqueConstraint("stream", "sequence", name="uq_held_events_stream_sequence"),
    )


_LOCKS: dict[tuple[Column[Any], bool], tuple[Update | None, Select[Any]]] = {}


def lock_owner(session: Session, column: Column[Any], value: object) -> Row[Any] | None:
    """The stream owner's row (e.g. the account), locked until commit; None when unknown.

    PostgreSQL: SELECT … FOR UPDATE. SQLite: a no-op UPDATE first takes the database's write
    lock, so nothing read afterwards can change before the commit.
    """
    rows = lock_owners(session, column, [value])
    return rows[0] if rows else None


def lock_owners(session: Session, column: Column[Any], values: list[Any]) -> list[Row[Any]]:
    """`lock_owner` for several owners at once (sorted: two instances never deadlock)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    statements = _LOCKS.get((column, sqlite))
    if statements is None:  # built once per column: this runs for every sequenced event
        table = column.table
        keys: BindParameter[Any] = bindparam("owner_keys", expanding=True)
        read = select(table).where(column.in_(keys)).order_by(column)
        statements = _LOCKS[(column, sqlite)] = (
            update(table).where(column.in_(keys)).values({column.name: column}) if sqlite else None,
            read if sqlite else read.with_for_update(),
        )
    take_lock, read = statements
    params = {"owner_keys": sorted(values)}
    if take_lock is not None:
        session.execute(take_lock, params)
    return list(session.execute(read, params).all())


def hold_event(
    session: Session, table: Table, stream: str, sequence: int, event: CoreEvent
) -> bool:
    """Keep an early event. The same event held again is a no-op; other content is refused."""
    payload = json.dumps(event, sort_keys=True, ensure_ascii=False)
    held = session.execute(
        select(table.c.event).where(table.c.stream == stream, table.c.sequence == sequence)
    ).scalar()
    if held is not None:
        if json.loads(held).get("data") != event.get("data"):
            raise Refused(
                f"La secuencia {sequence} de {stream} ya espera con otro contenido.", KIND_CONFLICT
            )
        return False
    session.execute(
        insert(table).values(
            stream=stream, sequence=sequence, event=payload, received_at=CLOCK.utcnow()
        )
    )
    return True


_HELD: dict[Table, Select[Any]] = {}


def held_in(session: Session, table: Table, streams: list[str]) -> set[tuple[str, int]]:
    """{(stream, sequence)} of the events held for `streams` (one query for a batch)."""
    query = _HELD.get(table)
    if query is None:
        query = _HELD[table] = select(table.c.stream, table.c.sequence).where(
            table.c.stream.in_(bindparam("streams", expanding=True))
        )
    return {(r.stream, r.sequence) for r in session.execute(query, {"streams": streams})}


_TAKE: dict[Table, tuple[Select[Any], Delete]] = {}


def take_held(session: Session, table: Table, stream: str, sequence: int) -> CoreEvent | None:
    """The held event `sequence` of `stream` (removed from the table), or None."""
    statements = _TAKE.get(table)
    if statements is None:  # built once: asked after every applied event
        statements = _TAKE[table] = (
            select(table.c.id, table.c.event).where(
                table.c.stream == bindparam("stream"), table.c.sequence == bindparam("sequence")
            ),
            delete(table).where(table.c.id == bindparam("held_id")),
        )
    find, remove = statements
    held = session.execute(find, {"stream": stream, "sequence": sequence}).first()
    if held is None:
        return None
    session.execute(remove, {"held_id": held.id})
    event: CoreEvent = json.loads(held.event)
    return event


def held_count(session: Session, table: Table) -> int:
    """How many events wait for a predecessor (for the status RPC)."""
    return session.execute(select(func.count()).select_from(table)).scalar_one()


def conflict(stream: str, sequence: int) -> Refused:
    return Refused(
        f"La secuencia {sequence} de {stream} ya fue aplicada con otro contenido.", KIND_CONFLICT
    )


def apply_in_order(
    session: Session,
    table: Table,
    stream: str,
    last: int,
    sequence: int,
    event: CoreEvent,
    apply: Callable[[CoreEvent], object],
    same: Callable[[CoreEvent], bool],
    held: set[tuple[str, int]] | None = None,
    savepoint: bool = True,
) -> Decision:
    """Apply `event` (number `sequence` of `stream`) in order; returns APPLY, HOLD or PAST.

    The caller holds the owner's lock (`lock_owner`) and passes its `last` applied sequence.
    - `sequence == last + 1`: `apply(event)`, then every held successor in turn;
    - later: held, acked, applied when the gap fills;
    - earlier or equal: `same(event)` says whether it is what was applied (a no-op) or not
      (refused as a conflict).
    `apply(event)` raises Refused for a wrong event. A held successor that turns out wrong is
    parked with its reason (after this transaction's commit) and the stream stops before it.

    A batch passes `held`, the {(stream, sequence)} read once (`held_in`, kept up to date here),
    so no query looks for a successor that is not there; and `savepoint=False` when `apply`
    writes nothing before it cannot refuse (it stages the batch's writes in memory).
    """
    decision = order_decision(last, sequence)
    if decision == HOLD:
        hold_event(session, table, stream, sequence, event)
        if held is not None:
            held.add((stream, sequence))
        return HOLD
    if decision == PAST:
        if not same(event):
            raise conflict(stream, sequence)
        return PAST
    apply(event)
    current = sequence
    while True:
        following = (stream, current + 1)
        if held is not None:
            if following not in held:
                return APPLY
            held.discard(following)
        successor = take_held(session, table, stream, current + 1)
        if successor is None:
            return APPLY
        try:
            if savepoint:
                with session.begin_nested():
                    apply(successor)
            else:
                apply(successor)
        except Refused as refusal:
            park_after(session, successor, refusal)
            return APPLY
        current += 1


def park_after(session: Session, event: CoreEvent, refusal: Refused) -> None:
    """Park an already-acked (held) event with its reason when this worker's transaction ends
    well (the core_events entrypoint publishes it right after the commit)."""
    session.info.setdefault(PARKS_KEY, []).append((event, refusal))


def parks_after(session: Session) -> list[tuple[CoreEvent, Refused]]:
    """The held events this transaction refused (`park_after`), taken from the session."""
    parks: list[tuple[CoreEvent, Refused]] = session.info.pop(PARKS_KEY, [])
    return parks
