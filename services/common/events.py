"""Events through a transactional outbox, and idempotent consumption.

Emitting writes the event row in the *same* database transaction as the state change. A relay in
the emitting service publishes pending rows, in order, with publisher confirms, and marks them
sent; a crash or a broker outage between the two only delays publication, it never loses it.
Delivery is at-least-once, so every consumer claims `event_id` in its own transaction (`Inbox`).
"""

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any, Protocol, TypedDict

import eventlet
from eventlet.semaphore import Semaphore
from kombu import Connection, Exchange, Producer
from nameko.containers import WorkerContext
from nameko.extensions import DependencyProvider
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    Row,
    Select,
    String,
    Table,
    Text,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection as DbConnection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common import correlation
from services.common.amqp import open_connection
from services.common.clock import CLOCK
from services.common.db import Database, engine_for
from services.common.ordering import KIND_REUSED, Refused

log = logging.getLogger(__name__)

ENVELOPE_VERSION = 1


class Envelope(TypedDict):
    """An event as it travels (docs/events.md): the service's `data` in a common envelope."""

    event_id: str
    event_type: str
    source: str
    occurred_at: str  # ISO-8601 UTC, "…Z"
    version: int
    data: Mapping[str, Any]


def utcnow() -> datetime:
    return CLOCK.utcnow()


def iso_utc(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat() + "Z"


def outbox_table(metadata: MetaData, name: str = "outbox") -> Table:
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("event_type", String(80), nullable=False),
        Column("payload", Text, nullable=False),
        Column("correlation_id", String(64)),
        Column("created_at", DateTime, nullable=False),
        Column("published_at", DateTime, index=True),
    )


def processed_events_table(metadata: MetaData) -> Table:
    return Table(
        "processed_events",
        metadata,
        Column("event_id", String(36), primary_key=True),
        Column("consumer", String(120), primary_key=True),
        Column("processed_at", DateTime, nullable=False),
        # sha-256 of the event's type and data (`content_digest`): the same event_id with
        # other content is refused, not taken for a redelivery; null for claims made before
        Column("digest", String(64), nullable=True),
    )


def envelope(
    source: str, event_type: str, data: Mapping[str, Any], version: int = ENVELOPE_VERSION
) -> Envelope:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "source": source,
        "occurred_at": iso_utc(utcnow()),
        "version": version,
        "data": data,
    }


def exchange_for(source: str) -> Exchange:
    # Same declaration as nameko's own event exchanges, so both can publish and bind to it.
    return Exchange(f"{source}.events", type="topic", durable=True, auto_delete=False)


class Emitter:
    def __init__(self, provider: "EventOutbox", session: Session) -> None:
        self._provider = provider
        self._session = session

    def emit(
        self, event_type: str, data: Mapping[str, Any], version: int = ENVELOPE_VERSION
    ) -> Envelope:
        """Queue an event in the current transaction; it is published after the commit."""
        event = envelope(self._provider.source, event_type, data, version)
        self._session.execute(
            insert(self._provider.table).values(
                event_id=event["event_id"],
                event_type=event_type,
                payload=json.dumps(event, ensure_ascii=False),
                correlation_id=correlation.current(),
                created_at=utcnow(),
            )
        )
        self._wake_after_commit(event_type)
        return event

    def emit_many(
        self,
        event_type: str,
        datas: Sequence[Mapping[str, Any]],
        version: int = ENVELOPE_VERSION,
    ) -> list[Envelope]:
        """`emit` for many events of one type: one multi-row statement (a batch's events)."""
        if not datas:
            return []
        events = [envelope(self._provider.source, event_type, d, version) for d in datas]
        now, correlation_id = utcnow(), correlation.current()
        self._session.execute(
            insert(self._provider.table),
            [
                {
                    "event_id": event["event_id"],
                    "event_type": event_type,
                    "payload": json.dumps(event, ensure_ascii=False),
                    "correlation_id": correlation_id,
                    "created_at": now,
                }
                for event in events
            ],
        )
        self._wake_after_commit(event_type)
        return events

    def enqueue(self, routing_key: str, message: Mapping[str, Any]) -> None:
        """Queue a message already built (a request to the core, in its own envelope) for this
        outbox's exchange, in the current transaction; published after the commit."""
        self._session.execute(
            insert(self._provider.table).values(
                event_id=str(uuid.uuid4()),  # the row's id: a resent request gets a new row
                event_type=routing_key,
                payload=json.dumps(message, ensure_ascii=False),
                correlation_id=correlation.current(),
                created_at=utcnow(),
            )
        )
        self._wake_after_commit(routing_key)

    def _wake_after_commit(self, event_type: str) -> None:
        callbacks = self._session.info.setdefault("after_commit", [])
        # a lane's event is published by the committing worker itself, at once (no wait for
        # the relay's turn while a burst keeps the process busy); the rest by the relay
        callback = self._provider.lane_publishers.get(event_type, self._provider.wake_main)
        if callback not in callbacks:
            callbacks.append(callback)


class EventOutbox(DependencyProvider):
    """`events = EventOutbox("auth", outbox_table)`; in a worker: `self.events.emit(type, data)`.

    Uses the session of the service's `Database` dependency, so the event commits with the change.
    `exchange` publishes to another exchange than `<source>.events` from another table (payments'
    requests to the core on `portal.requests`: `Emitter.enqueue(routing_key, message)`).
    """

    poll_interval = 1.0

    def __init__(
        self,
        source: str,
        table: Table,
        lanes: Sequence[Sequence[str]] = (),
        exchange: Exchange | None = None,
    ) -> None:
        """`lanes`: groups of event types relayed by a relay of their own, so they never wait
        behind the other pending rows (accounts' member_updated behind a burst of
        movement_posted); order is kept within each lane, and among the rest."""
        self.source = source
        self.table = table
        self.exchange = exchange if exchange is not None else exchange_for(source)
        # the relays' names (and their greenthreads'): one set per outbox of the service
        self.relay_name = (
            f"{source}-outbox-relay" if exchange is None else f"{source}-{exchange.name}-relay"
        )
        self.lanes = tuple(tuple(lane) for lane in lanes)
        # one wake-up per running relay (the main one and each lane's)
        self._wakeups: dict[str, eventlet.event.Event] = {}
        # a lane's relay, shared by its greenthread and the workers that publish at once; the
        # semaphore lets one of them publish at a time (no row published twice by this process)
        self._relays: dict[str, OutboxRelay] = {}
        self._turns = {self._lane_name(lane): Semaphore() for lane in self.lanes}
        # event type -> what publishes its lane now (bound once: the after-commit list dedupes)
        self.lane_publishers: dict[str, Callable[[], None]] = {
            event_type: partial(self.publish_lane, self._lane_name(lane))
            for lane in self.lanes
            for event_type in lane
        }
        self._stopping = False

    def setup(self) -> None:
        self.database = next(
            d
            for d in self.container.dependencies
            if isinstance(d, Database) and d.service == self.source
        )
        # events may go to another broker than RPC (e.g. a cluster other systems subscribe to)
        config = self.container.config
        self.amqp_uri = config.get("OUTBOX_AMQP_URI") or config["AMQP_URI"]
        main = self.relay_name
        self._wakeups = {main: eventlet.event.Event()}
        self._wakeups.update({self._lane_name(lane): eventlet.event.Event() for lane in self.lanes})

    def _lane_name(self, lane: Sequence[str]) -> str:
        return f"{self.relay_name}-{'+'.join(lane)}"

    def start(self) -> None:
        self._stopping = False
        in_lanes = tuple(t for lane in self.lanes for t in lane)
        main = self.relay_name
        self.container.spawn_managed_thread(
            partial(self._run, main, None, in_lanes), identifier=main
        )
        for lane in self.lanes:
            name = self._lane_name(lane)
            self.container.spawn_managed_thread(partial(self._run, name, lane, ()), identifier=name)

    def stop(self) -> None:
        self._stopping = True
        self.wake()

    def kill(self) -> None:
        self._stopping = True

    def wake(self) -> None:
        for name in list(self._wakeups):
            self._wake(name)

    def wake_main(self) -> None:
        """Rows for the main relay were committed (a lane's relay has nothing new to look for)."""
        self._wake(self.relay_name)

    def _wake(self, name: str) -> None:
        wakeup = self._wakeups.get(name)
        if wakeup is not None and not wakeup.ready():
            wakeup.send(True)

    def get_dependency(self, worker_ctx: WorkerContext) -> Emitter:
        return Emitter(self, self.database.get_dependency_session(worker_ctx))

    def publish_lane(self, name: str) -> None:
        """After a worker's commit: publish lane `name`'s pending rows in this greenthread. When
        its relay is busy (it will see the rows when done) or fails, its greenthread is woken."""
        relay, turn = self._relays.get(name), self._turns[name]
        if relay is None or not turn.acquire(blocking=False):
            self._wake(name)
            return
        try:
            relay.drain()
        except Exception as exc:  # never fails the committed worker: the relay retries
            log.warning("outbox lane %s could not publish now: %s", name, exc)
            relay.reset()
            self._wake(name)
        finally:
            turn.release()

    def _run(self, name: str, only: Sequence[str] | None, skip: Sequence[str]) -> None:
        relay = OutboxRelay(
            self.database.url,
            self.table,
            self.source,
            self.amqp_uri,
            only=only,
            skip=skip,
            exchange=self.exchange,
        )
        turn = self._turns.get(name) or Semaphore()
        backoff = 0.2
        if only is not None:
            self._relays[name] = relay
            # a lane's events are rare and urgent: its connection is opened before the first one
            # (opening it then would cost several round trips while a burst keeps the process busy)
            try:
                with turn:
                    relay.connect()
            except Exception as exc:  # the broker away: drain() below opens it when it is back
                log.warning("outbox relay of %s could not connect yet: %s", name, exc)
                relay.reset()
        try:
            while not self._stopping:
                try:
                    with turn:
                        relay.drain()
                    backoff = 0.2
                except Exception as exc:  # broker or database away: keep rows, retry later
                    log.warning("outbox relay of %s could not publish: %s", self.source, exc)
                    relay.reset()
                    eventlet.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                with eventlet.Timeout(self.poll_interval, False):
                    self._wakeups[name].wait()
                self._wakeups[name] = eventlet.event.Event()
            with turn:
                relay.drain()  # publish what the last workers committed before stopping
        except Exception as exc:
            log.warning("outbox relay of %s stopped with rows pending: %s", self.source, exc)
        finally:
            relay.reset()


class OutboxRelay:
    """Publishes pending outbox rows in id order with publisher confirms, then marks them sent.

    A batch's rows are published one after another and their confirms awaited together (the
    broker confirms a persistent message once it is on disk: waiting for each in turn made the
    relay, not the service, the limit of a burst). Any nack or a missing confirm leaves the whole
    batch unmarked, to be published again (delivery is at least once)."""

    batch = 200
    confirm_timeout = 10.0

    def __init__(
        self,
        db_url: str,
        table: Table,
        source: str,
        amqp_uri: str,
        only: Sequence[str] | None = None,
        skip: Sequence[str] = (),
        exchange: Exchange | None = None,
    ) -> None:
        self.engine = engine_for(db_url)
        self.table = table
        # the rows this relay publishes: of the types `only` (a lane), or of any type but `skip`
        self.only = tuple(only) if only is not None else None
        self.skip = tuple(skip)
        self.exchange = exchange if exchange is not None else exchange_for(source)
        self.amqp_uri = amqp_uri
        self.connection: Connection | None = None
        self.producer: Producer | None = None
        # publisher confirms of the channel: publishes so far, the highest tag confirmed, nacks
        self._sent = 0
        self._confirmed = 0
        self._nacked = False

    def reset(self) -> None:
        if self.connection is not None:
            try:
                self.connection.release()
            except Exception:  # noqa: S110  the connection is already gone
                pass
        self.connection = None
        self.producer = None

    def connect(self) -> None:
        self._producer()

    def _producer(self) -> Producer:
        if self.producer is None:
            # with several addresses (a cluster), the first node that answers
            self.connection = open_connection(self.amqp_uri, connect_timeout=3)
            channel = self.connection.channel()
            channel.confirm_select()
            self._sent = self._confirmed = 0
            self._nacked = False
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            self.exchange(channel).declare()
            self.producer = Producer(channel, exchange=self.exchange, serializer="json")
        return self.producer

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._confirmed = max(self._confirmed, delivery_tag)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._nacked = True
        self._confirmed = max(self._confirmed, delivery_tag)

    def _await_confirms(self) -> None:
        """Until the broker confirmed every publish of the channel (or raise: not published)."""
        assert self.connection is not None
        deadline = eventlet.Timeout(self.confirm_timeout, TimeoutError("no publisher confirm"))
        try:
            while self._confirmed < self._sent:
                self.connection.drain_events(timeout=self.confirm_timeout)
        finally:
            deadline.cancel()
        if self._nacked:
            raise ConnectionError("the broker refused (nack) an outbox event")

    def pending(self, conn: DbConnection) -> Sequence[Row[Any, Any, Any, Any]]:
        """The next rows to publish: (id, event_type, payload, correlation_id)."""
        query = (
            select(
                self.table.c.id,
                self.table.c.event_type,
                self.table.c.payload,
                self.table.c.correlation_id,
            )
            .where(self.table.c.published_at.is_(None))
            .order_by(self.table.c.id)
            .limit(self.batch)
        )
        if self.only is not None:
            query = query.where(self.table.c.event_type.in_(self.only))
        elif self.skip:
            query = query.where(self.table.c.event_type.not_in(self.skip))
        if conn.dialect.name == "postgresql":
            # two instances of a service never publish the same row at the same time
            query = query.with_for_update(skip_locked=True)
        return conn.execute(query).all()

    def drain(self) -> int:
        """Publish every pending row; returns how many were published."""
        total = 0
        while True:
            with self.engine.begin() as conn:
                rows = self.pending(conn)
                if not rows:
                    return total
                producer = self._producer()
                for row in rows:
                    headers: dict[str, str] = {}
                    if row.correlation_id:
                        headers["nameko.correlation_id"] = row.correlation_id
                    producer.publish(
                        row.payload,
                        routing_key=row.event_type,
                        content_type="application/json",
                        content_encoding="utf-8",
                        delivery_mode=2,
                        headers=headers,
                        retry=False,
                    )
                    self._sent += 1
                self._await_confirms()
                conn.execute(
                    update(self.table)
                    .where(self.table.c.id.in_([r.id for r in rows]))
                    .values(published_at=utcnow())
                )
                total += len(rows)


# --- the inbox: one claim per (event_id, consumer) ----------------------------------------


def content_digest(event: Mapping[str, Any]) -> str:
    """sha-256 of what an event says (its type and data), whatever the key order or spacing:
    a redelivery has the same, an event_id reused for another event has not."""
    canonical = json.dumps(
        [event.get("event_type"), event.get("data")],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def reused(event: Mapping[str, Any]) -> Refused:
    """The refusal of an event whose event_id was handled before with other content: parked and
    counted, never taken for a redelivery (docs/integration.md, "Ids")."""
    return Refused(
        f"event_id reutilizado con otro contenido: {event['event_id']} ya se aplicó a un "
        f"evento distinto de este {str(event.get('event_type'))[:80]}.",
        KIND_REUSED,
    )


def already_handled(
    event: Mapping[str, Any], digest: str, stored: str | None, consumer: str
) -> bool:
    """An event_id found among the claims: True (a redelivery, nothing to do) when its content
    is the claimed one (or the claim predates digests); Refused when it is other content."""
    if stored is not None and stored != digest:
        raise reused(event)
    log.info("event %s already handled by %s", event["event_id"], consumer)
    return True


_CLAIMED: dict[Table, Select[Any]] = {}


def claimed(
    session: Session, table: Table, consumer: str, event_ids: Sequence[str]
) -> dict[str, str | None]:
    """{event_id: the digest it was claimed with (None before digests)} of those already
    claimed by `consumer`: one query for a whole batch."""
    query = _CLAIMED.get(table)
    if query is None:  # built once per table: asked for every event
        query = _CLAIMED[table] = select(table.c.event_id, table.c.digest).where(
            table.c.consumer == bindparam("consumer"),
            table.c.event_id.in_(bindparam("ids", expanding=True)),
        )
    rows = session.execute(query, {"consumer": consumer, "ids": list(event_ids)})
    return {row.event_id: row.digest for row in rows}


def record_claims(
    session: Session, table: Table, consumer: str, claims: Sequence[tuple[str, str]]
) -> None:
    """Write the claims [(event_id, digest)] in the caller's transaction (one statement)."""
    if claims:
        now = utcnow()
        session.execute(
            insert(table),
            [
                {"event_id": e, "consumer": consumer, "processed_at": now, "digest": d}
                for e, d in claims
            ],
        )


def claim(
    session: Session, table: Table, event: Mapping[str, Any], consumer: str, savepoint: bool = False
) -> bool:
    """The inbox: True when `event_id` is new for `consumer` (now claimed in the caller's
    transaction, with its content's digest), False when that event was handled already;
    Refused when the event_id was handled with other content.

    Without `savepoint` (the core's events) two instances claiming one event at once make the
    second fail its insert, and its retry finds the claim and does nothing; with it (the
    portal's events, `Inbox`) the second finds the claim taken and returns False at once."""
    event_id = event["event_id"]
    digest = content_digest(event)
    found = claimed(session, table, consumer, [event_id])
    if event_id in found and already_handled(event, digest, found[event_id], consumer):
        return False
    if not savepoint:
        record_claims(session, table, consumer, [(event_id, digest)])
        return True
    try:
        with session.begin_nested():
            record_claims(session, table, consumer, [(event_id, digest)])
    except IntegrityError:
        return False
    return True


class Claimer(Protocol):
    def claim(self, payload: object) -> bool:
        """False when this consumer handled the event already (then the handler returns)."""
        ...


class _Claimer:
    def __init__(self, session: Session, table: Table, consumer: str) -> None:
        self.session, self.table, self.consumer = session, table, consumer

    def claim(self, payload: object) -> bool:
        if not isinstance(payload, dict) or not payload.get("event_id"):
            return True
        return claim(self.session, self.table, payload, self.consumer, savepoint=True)


class Inbox(DependencyProvider):
    """Idempotent consumption: `if not self.inbox.claim(payload): return` at the top of a handler.

    The claim row is written in the worker's transaction, so the effect and the claim commit
    together; a redelivered event finds the claim and does nothing. The same claim (`claim`,
    `claimed` and `record_claims` for a batch) serves the core's events (services/common/inbound/).
    """

    def __init__(self, service: str, table: Table) -> None:
        self.service = service
        self.table = table

    def setup(self) -> None:
        self.database = next(
            d
            for d in self.container.dependencies
            if isinstance(d, Database) and d.service == self.service
        )

    def get_dependency(self, worker_ctx: WorkerContext) -> Claimer:
        session = self.database.get_dependency_session(worker_ctx)
        consumer = f"{worker_ctx.service_name}.{worker_ctx.entrypoint.method_name}"
        return _Claimer(session, self.table, consumer)
