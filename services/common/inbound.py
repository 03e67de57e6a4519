"""Consumption of the cooperative core's events (exchange `core.events`, docs/integration.md).

    class AccountsService:
        inbox = Inbox("accounts", processed_events)

        @core_events("accounts", ["member_upserted", "account_opened", ...])
        def on_core_event(self, event):
            if not self.inbox.claim(event):
                return
            ...

One durable queue per service, `core.<service>`, bound to `core.events` once per event type, with
`core.<service>.retry` (backoff) and `core.<service>.dead` (parked, with the reason in the
`x-portal-refusal` header). The worker's database transaction commits before the ack. What the
handler raises decides the message's fate:

- `Refused(reason, kind)`: the event is wrong (a balance that does not add up, an amount with three
  decimals, the same sequence with other content…). Rolled back and parked at once; counted.
- `NotYet(reason, kind)`: something it needs may still be in flight (an account whose
  `account_opened` is behind it). Retried a few times with a short backoff, then parked; counted.
- anything else: retried with the platform's backoff, then parked; counted.

A message the core's broker user did not publish (its `user_id` property, which RabbitMQ checks
against the publishing connection's user, is not `CORE_AMQP_USER`) is parked before anything else
is looked at (`sender_is_core`). A body that is not JSON, not an object, or misses envelope fields
is parked without reaching the handler. Refusal counts live in the service's own
`inbound_refusals` table (two instances and a restart see the same numbers); `refusal_counts()`
reads them for the service's status RPC.

Batches (`@core_events(..., batch=200)`, accounts): the events waiting in the queue are given to
the handler together as a `CoreBatch` and applied in one transaction; the refused ones are retried
or parked alone after the commit and the rest acked with one multiple-ack (`CoreBatch`,
`CoreEventConsumer._flush`). Handlers without `batch` keep getting one event per worker.

Ordering: events of one stream (an account, a loan) carry 1, 2, 3…; `apply_in_order` applies
them in that order, holding an early one in `held_events` until its predecessor is applied. The
caller locks the stream's owner row first (`lock_owner`), so two instances never strand a held
event.
"""

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import Any, cast

from eventlet.event import Event
from eventlet.greenthread import GreenThread
from kombu import Connection, Exchange, Queue, binding
from kombu.message import Message
from marshmallow import Schema
from marshmallow import ValidationError as MarshmallowValidationError
from nameko.amqp.publish import Publisher
from nameko.containers import WorkerContext
from nameko.exceptions import ContainerBeingKilled
from nameko.messaging import Consumer
from sqlalchemy import (
    BindParameter,
    Column,
    CursorResult,
    DateTime,
    Delete,
    Insert,
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
from sqlalchemy.engine import Connection as DbConnection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common.amqp import (
    open_connection,
    parked_queue_arguments,
    queue_type,
    retry_queue_arguments,
    work_queue_arguments,
)
from services.common.clock import CLOCK
from services.common.entrypoints import (
    ATTEMPTS_HEADER,
    RETRY_DELAYS,
    ExcInfo,
    PortalQueueConsumer,
    finish_transactions,
)
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
    RELAY_HEADER,
    Decision,
    order_decision,
)
from services.common.schemas import flatten

log = logging.getLogger(__name__)

CORE_EXCHANGE = Exchange("core.events", type="topic", durable=True, auto_delete=False)
ENVELOPE_FIELDS = ("event_id", "event_type", "data")
# a core event is small (the largest, a loan with a 600-row table, is well under this): a larger
# message is a connector's mistake, and would otherwise be stored whole (held events, dead queue)
MAX_MESSAGE_BYTES = 64 * 1024
JSON_CONTENT_TYPE = "application/json"
REFUSAL_HEADER = "x-portal-refusal"
KIND_HEADER = "x-portal-refusal-kind"
EVENT_TYPE_HEADER = "x-portal-event-type"
PARKED_AT_HEADER = "x-portal-parked-at"  # when it was parked (operators' listing)
# short: what NotYet waits for is normally a few messages behind (seconds)
NOT_YET_DELAYS = (0.5, 2, 5, 15)
# the broker user the core publishes as (config key and environment variable CORE_AMQP_USER)
CORE_USER_KEY = "CORE_AMQP_USER"
DEFAULT_CORE_USER = "core"

# an event of the core as it arrived (JSON): the envelope (ENVELOPE_FIELDS) around its `data`
CoreEvent = dict[str, Any]


def utcnow() -> datetime:
    return CLOCK.utcnow()


class Refused(Exception):
    """The event is wrong: nothing of it is applied, it is parked at once with `reason`."""

    kind = KIND_INVALID

    def __init__(self, reason: str, kind: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if kind:
            self.kind = kind


class NotYet(Refused):
    """What the event needs may still be in flight: retried a few times, then parked."""

    kind = KIND_UNKNOWN


def load_data(schema: Schema, data: object, event_type: str) -> Any:
    """An event's `data` loaded with its schema (the contract of docs/integration.md); anything
    wrong is Refused, naming every wrong field for the person who reads the dead letter."""
    if not isinstance(data, dict):
        raise Refused(f"{event_type}: 'data' debe ser un objeto.")
    try:
        return schema.load(data)
    except MarshmallowValidationError as exc:
        problems = "; ".join(
            f"{name}: {' '.join(messages)}" for name, messages in flatten(exc.messages).items()
        )
        raise Refused(f"{event_type} rechazado: {problems}") from None


# --- tables ---------------------------------------------------------------------------------


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


def refusals_table(metadata: MetaData) -> Table:
    """How many core events this service refused, per kind of reason (survives restarts)."""
    return Table(
        "inbound_refusals",
        metadata,
        Column("service", String(40), primary_key=True),
        Column("kind", String(40), primary_key=True),
        Column("count", Integer, nullable=False),
        Column("last_reason", String(500), nullable=False),
        Column("last_at", DateTime, nullable=False),
    )


_REFUSALS = refusals_table(MetaData())


def count_refusal(conn: DbConnection | Session, service: str, kind: str, reason: str) -> None:
    """+1 for (service, kind); `conn` is a Connection or Session in the caller's transaction."""
    values = {"last_reason": reason[:500], "last_at": utcnow()}
    where = (_REFUSALS.c.service == service) & (_REFUSALS.c.kind == kind)
    done = cast(
        CursorResult[Any],  # what an UPDATE gives, through a Session too
        conn.execute(update(_REFUSALS).where(where).values(count=_REFUSALS.c.count + 1, **values)),
    )
    if done.rowcount:
        return
    try:
        # a savepoint: on PostgreSQL a failed insert would otherwise abort the whole transaction
        with conn.begin_nested():
            conn.execute(insert(_REFUSALS).values(service=service, kind=kind, count=1, **values))
    except IntegrityError:  # another instance (or worker) inserted it meanwhile
        conn.execute(update(_REFUSALS).where(where).values(count=_REFUSALS.c.count + 1, **values))


def refusal_counts(session: Session, service: str) -> list[dict[str, Any]]:
    """[{kind, count, last_reason, last_at}] of this service, for its status RPC."""
    rows = session.execute(
        select(_REFUSALS).where(_REFUSALS.c.service == service).order_by(_REFUSALS.c.kind)
    ).all()
    return [
        {
            "kind": r.kind,
            "count": r.count,
            "last_reason": r.last_reason,
            "last_at": r.last_at.isoformat() + "Z",
        }
        for r in rows
    ]


# --- idempotency ----------------------------------------------------------------------------

_CLAIMS: dict[Table, tuple[Select[Any], Insert]] = {}


def content_digest(event: CoreEvent) -> str:
    """sha-256 of what an event says (its type and data), whatever the key order or spacing:
    a redelivery has the same, an event_id reused for another event has not."""
    canonical = json.dumps(
        [event.get("event_type"), event.get("data")],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def reused(event: CoreEvent) -> Refused:
    """The refusal of an event whose event_id was applied before with other content: parked and
    counted, never taken for a redelivery (docs/integration.md, "Ids")."""
    return Refused(
        f"event_id reutilizado con otro contenido: {event['event_id']} ya se aplicó a un "
        f"evento distinto de este {str(event.get('event_type'))[:80]}.",
        KIND_REUSED,
    )


def already_handled(event: CoreEvent, digest: str, stored: str | None, consumer: str) -> bool:
    """An event_id found among the claims: True (a redelivery, nothing to do) when its content
    is the claimed one (or the claim predates digests); Refused when it is other content."""
    if stored is not None and stored != digest:
        raise reused(event)
    log.info("core event %s already handled by %s", event["event_id"], consumer)
    return True


def claim(session: Session, table: Table, event: CoreEvent, consumer: str) -> bool:
    """The Inbox pattern (services/common/events.py) on the busiest path: True when `event_id`
    is new for `consumer` (and now claimed in the caller's transaction, with its content's
    digest), False when that event was handled already; Refused when the event_id was handled
    with other content. No savepoint: two instances claiming the same event at once make the
    second fail its insert, and its retry finds the claim and does nothing."""
    statements = _CLAIMS.get(table)
    if statements is None:
        statements = _CLAIMS[table] = (
            select(table.c.event_id, table.c.digest).where(
                table.c.event_id == bindparam("event_id"), table.c.consumer == bindparam("consumer")
            ),
            insert(table),
        )
    find, add = statements
    params = {"event_id": event["event_id"], "consumer": consumer}
    digest = content_digest(event)
    found = session.execute(find, params).first()
    if found is not None and already_handled(event, digest, found.digest, consumer):
        return False
    session.execute(add, {**params, "processed_at": utcnow(), "digest": digest})
    return True


# --- ordering (the rule itself: services/common/ordering.py) -------------------------------

_LOCKS: dict[tuple[Column[Any], bool], tuple[Update | None, Select[Any]]] = {}


def lock_owner(session: Session, column: Column[Any], value: object) -> Row[Any] | None:
    """The stream owner's row (e.g. the account), locked until commit; None when unknown.

    PostgreSQL: SELECT … FOR UPDATE. SQLite: a no-op UPDATE first takes the database's write
    lock, so nothing read afterwards can change before the commit.
    """
    sqlite = session.get_bind().dialect.name == "sqlite"
    statements = _LOCKS.get((column, sqlite))
    if statements is None:  # built once per column: this runs for every sequenced event
        table = column.table
        key: BindParameter[Any] = bindparam("owner_key")
        statements = _LOCKS[(column, sqlite)] = (
            update(table).where(column == key).values({column.name: column}) if sqlite else None,
            select(table).where(column == key)
            if sqlite
            else select(table).where(column == key).with_for_update(),
        )
    take_lock, read = statements
    if take_lock is not None:
        session.execute(take_lock, {"owner_key": value})
    return session.execute(read, {"owner_key": value}).first()


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
        insert(table).values(stream=stream, sequence=sequence, event=payload, received_at=utcnow())
    )
    return True


_TAKE: dict[Table, tuple[Select[Any, Any], Delete]] = {}


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


def apply_in_order(
    session: Session,
    table: Table,
    stream: str,
    last: int,
    sequence: int,
    event: CoreEvent,
    apply: Callable[[CoreEvent], object],
    same: Callable[[CoreEvent], bool],
) -> Decision:
    """Apply `event` (number `sequence` of `stream`) in order; returns APPLY, HOLD or PAST.

    The caller holds the owner's lock (`lock_owner`) and passes its `last` applied sequence.
    - `sequence == last + 1`: `apply(event)`, then every held successor in turn;
    - later: held, acked, applied when the gap fills;
    - earlier or equal: `same(event)` says whether it is what was applied (a no-op) or not
      (refused as a conflict).
    `apply(event)` raises Refused for a wrong event. A held successor that turns out wrong is
    parked with its reason (after this transaction's commit) and the stream stops before it.
    """
    decision = order_decision(last, sequence)
    if decision == HOLD:
        hold_event(session, table, stream, sequence, event)
        return HOLD
    if decision == PAST:
        if not same(event):
            raise Refused(
                f"La secuencia {sequence} de {stream} ya fue aplicada con otro contenido.",
                KIND_CONFLICT,
            )
        return PAST
    apply(event)
    current = sequence
    while True:
        successor = take_held(session, table, stream, current + 1)
        if successor is None:
            return APPLY
        try:
            with session.begin_nested():
                apply(successor)
        except Refused as refusal:
            park_after(session, successor, refusal)
            return APPLY
        current += 1


def park_after(session: Session, event: CoreEvent, refusal: Refused) -> None:
    """Park an already-acked (held) event with its reason when this worker's transaction ends
    well (the core_events entrypoint publishes it right after the commit)."""
    session.info.setdefault("core_parks", []).append((event, refusal))


# --- the entrypoint -------------------------------------------------------------------------


class CoreQueueConsumer(PortalQueueConsumer):
    """nameko's queue consumer, plus:

    - a body kombu cannot decode (not JSON, wrong content type) goes to the entrypoint to be
      parked instead of breaking the consumer's connection;
    - a batching entrypoint gets its messages in the consumer's own greenthread (no thread per
      message: it only queues them) and a prefetch as large as its batch;
    - it knows which deliveries of its channel are not settled yet, so a batch whose messages
      are all of them up to its last one is acked with one `basic_ack(multiple=True)`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.core_providers: dict[str, CoreEventConsumer] = {}  # queue name -> provider
        # delivery tag -> message, of `self.unsettled_channel`
        self.unsettled: dict[int, Message] = {}
        # the channel (py-amqp's) those deliveries came on; None before the first
        self.unsettled_channel: Any = None

    def register_provider(self, provider: "CoreEventConsumer") -> None:
        self.core_providers[provider.queue.name] = provider
        super().register_provider(provider)

    @property
    def prefetch_count(self) -> int:
        sizes = [p.batch_size for p in self.core_providers.values()]
        count: int = max([self.container.max_workers, *sizes])
        return count

    def get_consumers(self, consumer_cls: type, channel: object) -> Any:
        consumers = super().get_consumers(consumer_cls, channel)
        for consumer in consumers:
            provider = self.core_providers[consumer.queues[0].name]
            consumer.on_decode_error = partial(self._undecodable, provider)
        return consumers

    def _note(self, message: Message) -> None:
        if message.channel is not self.unsettled_channel:  # a new connection: tags restart
            self.unsettled_channel = message.channel
            self.unsettled = {}
        self.unsettled[message.delivery_tag] = message

    def _settled(self, message: Message) -> None:
        if message.channel is self.unsettled_channel:
            self.unsettled.pop(message.delivery_tag, None)

    def handle_message(self, provider: Any, body: object, message: Message) -> None:
        self._note(message)
        if provider.batch_size > 1:
            provider.handle_message(body, message)  # only queues it: no greenthread of its own
        else:
            super().handle_message(provider, body, message)

    def ack_message(self, message: Message) -> None:
        self._settled(message)
        super().ack_message(message)

    def requeue_message(self, message: Message) -> None:
        self._settled(message)
        super().requeue_message(message)

    def ack_messages(self, messages: Sequence[Message]) -> None:
        """Ack `messages` (in delivery order): one multiple-ack when no other unsettled delivery
        of the channel lies among them, else one by one."""
        last = messages[-1]
        tags = {m.delivery_tag for m in messages if m.channel is last.channel}
        if (
            len(tags) == len(messages)
            and last.channel is self.unsettled_channel
            and all(t in tags for t in self.unsettled if t <= last.delivery_tag)
            and last.channel.connection
        ):
            try:
                last.ack(multiple=True)
            except ConnectionError:  # pragma: no cover  the broker will redeliver them
                pass
            for tag in tags:
                self.unsettled.pop(tag, None)
            return
        for message in messages:
            self.ack_message(message)

    def _undecodable(self, provider: "CoreEventConsumer", message: Message, exc: Exception) -> None:
        self._note(message)
        self.container.spawn_managed_thread(
            partial(provider.park_undecodable, message, exc), identifier="core-undecodable"
        )


class CoreBatch:
    """What a batching `core_events` handler receives: `events` in delivery order. The handler
    applies them in the worker's one transaction and sets `outcomes[i]` to the Refused/NotYet
    of an event it did not apply (nothing of that event written); the entrypoint retries or
    parks those after the commit, alone, and acks the batch."""

    def __init__(self, events: list[CoreEvent]) -> None:
        self.events = events
        self.outcomes: list[Refused | None] = [None] * len(events)

    def __len__(self) -> int:
        return len(self.events)


def apply_each(session: Session, batch: CoreBatch, handle: Callable[[CoreEvent], object]) -> None:
    """The simple way to apply a CoreBatch: `handle(event)` for each one, in a savepoint, so a
    refused event leaves the others applied."""
    for i, event in enumerate(batch.events):
        try:
            with session.begin_nested():
                handle(event)
        except Refused as refusal:
            batch.outcomes[i] = refusal


def _decode(body: object) -> Any:
    """The message's JSON value (any: `envelope_problem` says whether it is an envelope)."""
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8")
    if isinstance(body, str):
        body = json.loads(body)
    return body


class CoreEventConsumer(Consumer):
    """`@core_events(service, [event types], retry_delays=…, not_yet_delays=…, batch=1, lane=None)`.

    `lane="members"`: the types get a queue of their own, `core.<service>.members` (with its own
    retry queue; parked events go to the service's one `core.<service>.dead`), consumed beside
    the service's main queue with its own prefetch, so they never wait behind its backlog.

    `batch=N` (N > 1): the handler receives a `CoreBatch` of up to N events that were waiting
    (it never waits for a batch to fill), applies them in one transaction, and the entrypoint
    acks them with one multiple-ack after the commit. A batch that fails as a whole (an
    unexpected error, a failed commit) is rolled back and its events are applied one by one.
    """

    queue_consumer = CoreQueueConsumer()

    def __init__(
        self,
        service_name: str,
        event_types: Iterable[str],
        batch: int = 1,
        lane: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.service_name = service_name
        self.event_types = tuple(event_types)
        # a lane: a queue of its own, `core.<service>.<lane>`, so its events never wait behind
        # the service's other core events (accounts' member changes behind a burst of movements)
        self.lane = lane
        # what this queue takes: its types, and those of the service's other lanes (events that
        # waited in it from before a type moved to its own lane are applied, not refused)
        self.accepted_types = self.event_types
        self.batch_size = max(1, int(batch))
        # (event, message) waiting for the batch worker
        self.pending: list[tuple[CoreEvent, Message]] = []
        self.flusher: GreenThread | None = None
        self.retry_delays = tuple(kwargs.pop("retry_delays", RETRY_DELAYS))
        self.not_yet_delays = tuple(kwargs.pop("not_yet_delays", NOT_YET_DELAYS))
        kwargs.setdefault("expected_exceptions", (Refused,))
        super().__init__(queue=None, **kwargs)

    def setup(self) -> None:
        config = self.container.config
        # tests and operators may shorten the waits (config keys, seconds, comma-separated)
        if config.get("CORE_BATCH") and self.batch_size > 1:  # e.g. 1 turns batching off
            self.batch_size = max(1, int(config["CORE_BATCH"]))
        for key, attr in (
            ("CORE_RETRY_DELAYS", "retry_delays"),
            ("CORE_NOT_YET_DELAYS", "not_yet_delays"),
        ):
            if config.get(key):
                value = config[key]
                if isinstance(value, str):
                    value = [float(v) for v in value.split(",") if v.strip()]
                setattr(self, attr, tuple(float(v) for v in value))
        name = f"core.{self.service_name}" + (f".{self.lane}" if self.lane else "")
        self.other_lanes_types = tuple(
            t
            for lane in self._sibling_lanes()
            for t in lane.event_types
            if t not in self.event_types
        )
        self.accepted_types = self.event_types + self.other_lanes_types
        kind = queue_type(config)  # quorum on a cluster (services/common/amqp.py)
        default = Exchange("", type="direct")
        self.queue = Queue(
            name,
            bindings=[binding(CORE_EXCHANGE, routing_key=t) for t in self.event_types],
            durable=True,
            queue_arguments=work_queue_arguments(name, kind),
        )
        self.retry_queue = Queue(
            f"{name}.retry",
            exchange=default,
            routing_key=f"{name}.retry",
            durable=True,
            queue_arguments=retry_queue_arguments(name, kind),
        )
        self.dead_queue = Queue(  # one per service, whatever the lane: operators look there
            f"core.{self.service_name}.dead",
            exchange=default,
            routing_key=f"{name}.dead",
            durable=True,
            queue_arguments=parked_queue_arguments(kind),
        )
        self.publisher = Publisher(config["AMQP_URI"], ssl=config.get("AMQP_SSL"))
        self.core_user = str(config.get(CORE_USER_KEY) or DEFAULT_CORE_USER)
        self.own_user = Connection(config["AMQP_URI"]).userid or "guest"  # kombu's default
        super().setup()

    def start(self) -> None:
        # the exchange and the dead-letter queue exist from the start (the core may publish first;
        # operators see the dead queue even when empty)
        with open_connection(self.container.config["AMQP_URI"]) as connection:
            channel = connection.default_channel
            CORE_EXCHANGE(channel).declare()
            self.dead_queue(channel).declare()
            self.retry_queue(channel).declare()
            if self.other_lanes_types:
                # a type that moved to a lane of its own leaves this queue's bindings (a binding
                # stays until removed): from now on only its lane receives it
                queue = self.queue(channel)
                queue.declare()
                for event_type in self.other_lanes_types:
                    queue.unbind_from(CORE_EXCHANGE, routing_key=event_type)
        super().start()

    def _sibling_lanes(self) -> list["CoreEventConsumer"]:
        """The service's other core_events entrypoints (other queues of the same service)."""
        return [
            e
            for e in self.container.entrypoints
            if isinstance(e, CoreEventConsumer)
            and e is not self
            and e.service_name == self.service_name
            and e.lane != self.lane
        ]

    # --- arrival --------------------------------------------------------------------------

    def handle_message(self, body: object, message: Message) -> None:
        if not self._from_core(message):
            return
        refusal = transport_problem(message)
        if refusal:
            self._park_now(message, refusal, KIND_ENVELOPE)
            return
        try:
            event = _decode(body)
        except (UnicodeDecodeError, ValueError):
            self._park_now(message, "El mensaje no es JSON válido.", KIND_NOT_JSON)
            return
        problem = envelope_problem(event, self.accepted_types) or routing_problem(event, message)
        if problem:
            self._park_now(message, problem, KIND_ENVELOPE, event)
            return
        if self.batch_size > 1:
            self.pending.append((event, message))
            if self.flusher is None:  # runs when the consumer yields: takes what arrived
                self.flusher = self.container.spawn_managed_thread(
                    self._flush, identifier=f"core-batch-{self.service_name}"
                )
            return
        self._spawn_one(event, message)

    def _spawn_one(self, event: CoreEvent, message: Message, done: Event | None = None) -> None:
        handle_result = partial(self.handle_result, message, done=done)
        try:
            self.container.spawn_worker(
                self,
                (event,),
                {},
                context_data=self.unpack_message_headers(message),
                handle_result=handle_result,
            )
        except ContainerBeingKilled:
            self.queue_consumer.requeue_message(message)
            if done is not None:
                done.send(None)

    # --- batches --------------------------------------------------------------------------

    def _flush(self) -> None:
        try:
            while self.pending:
                items = self.pending[: self.batch_size]
                del self.pending[: len(items)]
                done = Event()
                batch = CoreBatch([event for event, _message in items])
                log.debug("applying a batch of %s core events", len(items))
                try:
                    self.container.spawn_worker(
                        self,
                        (batch,),
                        {},
                        context_data=self.unpack_message_headers(items[0][1]),
                        handle_result=partial(self.handle_batch_result, items, batch, done),
                    )
                except ContainerBeingKilled:
                    for _event, message in items + self.pending:
                        self.queue_consumer.requeue_message(message)
                    self.pending = []
                    return
                if done.wait():
                    continue
                # the batch failed as a whole: each of its events alone, in order
                for event, message in items:
                    one = Event()
                    self._spawn_one(event, message, done=one)
                    one.wait()
        finally:
            self.flusher = None

    def handle_batch_result(
        self,
        items: list[tuple[CoreEvent, Message]],
        batch: CoreBatch,
        done: Event,
        worker_ctx: WorkerContext,
        result: object = None,
        exc_info: ExcInfo | None = None,
    ) -> tuple[object, ExcInfo | None]:
        """Commit, then retry or park the refused events alone, then ack the batch at once."""
        try:
            parks = self._held_refusals(worker_ctx) if exc_info is None else []
            exc_info = finish_transactions(worker_ctx, exc_info)
            if exc_info is not None:
                log.warning(
                    "a batch of %s core events failed (%r); applying them one by one",
                    len(items),
                    exc_info[1],
                )
                done.send(False)
                return result, exc_info
            self._park_held(parks)
            applied: list[Message] = []
            for (event, message), outcome in zip(items, batch.outcomes, strict=True):
                if outcome is None:
                    applied.append(message)
                    continue
                try:
                    self._retry_or_park(message, event, outcome)
                except Exception:
                    log.exception("could not settle a refused core event; requeueing")
                    self.queue_consumer.requeue_message(message)
                    continue
                self.queue_consumer.ack_message(message)
            if applied:
                self.queue_consumer.ack_messages(applied)
        except Exception:  # the broker away: unacked messages come back; they are idempotent
            log.exception("could not settle a batch of core events")
        done.send(True)
        return result, exc_info

    def _from_core(self, message: Message) -> bool:
        """True when the core published `message`; else it is parked (and False)."""
        if sender_is_core(message, self.core_user, self.own_user):
            return True
        sender = (message.properties or {}).get("user_id")
        shown = f"'{str(sender)[:40]}'" if sender else "ninguno"
        self._park_now(
            message,
            f"Remitente no autorizado: solo el core ('{self.core_user}') publica en core.events "
            f"(user_id del mensaje: {shown}). Nada se aplicó.",
            KIND_SENDER,
            trusted=False,
        )
        return False

    def _relayed(self, headers: dict[str, Any], trusted: bool = True) -> dict[str, Any]:
        """Properties of a copy this service publishes of a core event (retry, park): the broker
        vouches for `user_id` (this service's own user) and the header says the core sent it."""
        if trusted:
            headers[RELAY_HEADER] = self.core_user
        else:
            headers.pop(RELAY_HEADER, None)
        return {"headers": headers, "user_id": self.own_user}

    def park_undecodable(self, message: Message, exc: Exception) -> None:
        if not self._from_core(message):
            return
        refusal = transport_problem(message)  # e.g. text/plain, which kombu will not decode
        if refusal:
            self._park_now(message, refusal, KIND_ENVELOPE)
            return
        self._park_now(message, "El mensaje no es JSON válido.", KIND_NOT_JSON)

    def _park_now(
        self, message: Message, reason: str, kind: str, event: object = None, trusted: bool = True
    ) -> None:
        event_type = event.get("event_type") if isinstance(event, dict) else None
        try:
            self._park(message, reason, kind, event_type, trusted=trusted)
        except Exception:
            log.exception("could not park a refused core event; requeueing")
            self.queue_consumer.requeue_message(message)
            return
        self.queue_consumer.ack_message(message)

    # --- after the worker -----------------------------------------------------------------

    def handle_result(
        self,
        message: Message,
        worker_ctx: WorkerContext,
        result: object = None,
        exc_info: ExcInfo | None = None,
        done: Event | None = None,
    ) -> tuple[object, ExcInfo | None]:
        try:
            parks = self._held_refusals(worker_ctx) if exc_info is None else []
            exc_info = finish_transactions(worker_ctx, exc_info)
            if exc_info is not None:
                event = worker_ctx.args[0] if worker_ctx.args else {}
                self._retry_or_park(message, event, exc_info[1])
            else:
                self._park_held(parks)
        except Exception:  # broker or database trouble: leave it in its queue rather than lose it
            log.exception("could not settle a core event; requeueing")
            self.queue_consumer.requeue_message(message)
        else:
            self.queue_consumer.ack_message(message)
        finally:
            if done is not None:
                done.send(None)
        return result, exc_info

    def _session(self, worker_ctx: WorkerContext) -> Session | None:
        from services.common.db import Database

        for provider in self.container.dependencies:
            if isinstance(provider, Database):
                return provider.sessions.get(worker_ctx)
        return None

    def _held_refusals(self, worker_ctx: WorkerContext) -> list[tuple[CoreEvent, Refused]]:
        """Held events refused when their turn came: counted in the worker's transaction (they
        leave held_events in it), published to the dead queue once it committed — never while it
        holds locks (on SQLite a publish would let another worker wait on the database lock
        with the whole process)."""
        session = self._session(worker_ctx)
        if session is None:
            return []
        parks: list[tuple[CoreEvent, Refused]] = session.info.pop("core_parks", [])
        for _event, refusal in parks:
            count_refusal(session, self.service_name, refusal.kind, refusal.reason)
        return parks

    def _park_held(self, parks: Iterable[tuple[CoreEvent, Refused]]) -> None:
        for event, refusal in parks:
            # logged whole: if the process died before this publish, the log still has it
            log.warning(
                "held core event refused: %s",
                refusal.reason,
                extra={"core_event": json.dumps(event, ensure_ascii=False)[:2000]},
            )
            self._publish_park(
                json.dumps(event, ensure_ascii=False).encode("utf-8"),
                "application/json",
                "utf-8",
                {},
                refusal.reason,
                refusal.kind,
                event.get("event_type"),
            )

    def _retry_or_park(self, message: Message, event: object, exc: BaseException) -> None:
        # from the envelope: after a retry the message's routing key is the queue's name
        event_type = event.get("event_type") if isinstance(event, dict) else None
        headers = dict(message.headers or {})
        attempts = int(headers.get(ATTEMPTS_HEADER, 0)) + 1
        delays: tuple[float, ...]
        if isinstance(exc, NotYet):
            delays, reason, kind = self.not_yet_delays, exc.reason, exc.kind
        elif isinstance(exc, Refused):
            delays, reason, kind = (), exc.reason, exc.kind
        else:
            delays, reason, kind = self.retry_delays, f"Error interno: {exc!r}"[:500], KIND_ERROR
        if attempts <= len(delays):
            delay = delays[attempts - 1]
            log.warning(
                "core event on %s not applied (attempt %s: %s); retry in %s s",
                self.queue.name,
                attempts,
                reason,
                delay,
            )
            headers[ATTEMPTS_HEADER] = attempts
            headers["x-portal-last-error"] = reason[:500]
            self.publisher.publish(
                message.body,
                exchange=Exchange("", type="direct"),
                routing_key=self.retry_queue.name,
                declare=[self.retry_queue],
                expiration=delay,
                **self._relayed(headers),
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                delivery_mode=2,
            )
            return
        self._park(message, reason, kind, event_type, attempts=attempts)

    def _park(
        self,
        message: Message,
        reason: str,
        kind: str,
        event_type: str | None = None,
        attempts: int = 1,
        trusted: bool = True,
    ) -> None:
        headers = dict(message.headers or {})
        headers[ATTEMPTS_HEADER] = attempts
        event_type = event_type or (message.delivery_info or {}).get("routing_key")
        self._publish_park(
            message.body,
            message.content_type,
            message.content_encoding,
            headers,
            reason,
            kind,
            event_type,
            trusted,
        )
        self._count(kind, reason)

    def _publish_park(
        self,
        body: bytes | str,
        content_type: str | None,
        content_encoding: str | None,
        headers: dict[str, Any],
        reason: str,
        kind: str,
        event_type: object,
        trusted: bool = True,
    ) -> None:
        headers = dict(headers)
        headers[REFUSAL_HEADER] = reason[:500]
        headers[KIND_HEADER] = kind
        headers[PARKED_AT_HEADER] = utcnow().isoformat(timespec="seconds") + "Z"
        if event_type:
            headers[EVENT_TYPE_HEADER] = str(event_type)[:80]
        log.warning("core event %s parked in %s: %s", event_type, self.dead_queue.name, reason)
        self.publisher.publish(
            body,
            **self._relayed(headers, trusted),
            exchange=Exchange("", type="direct"),
            routing_key=self.dead_queue.name,
            declare=[self.dead_queue],
            content_type=content_type,
            content_encoding=content_encoding,
            delivery_mode=2,
        )

    def _count(self, kind: str, reason: str) -> None:
        from services.common.db import Database, engine_for

        for provider in self.container.dependencies:
            if isinstance(provider, Database):
                try:
                    with engine_for(provider.url).begin() as conn:
                        count_refusal(conn, self.service_name, kind, reason)
                except Exception:  # the parked message and its header still tell the story
                    log.exception("could not count a refusal of %s", self.service_name)
                return


def sender_is_core(message: Message, core_user: str, own_user: str | None = None) -> bool:
    """The core published `message`: its `user_id` is the core's broker user. RabbitMQ refuses
    a publish whose `user_id` is not the publishing connection's user, so only the core's
    connection can set it; the portal's own users cannot write on `core.events` at all
    (docs/operations.md). A copy the consuming service itself made of a core event (a retry,
    an operator's requeue from its dead queue) carries the service's own user, which the broker
    vouches for just the same, and the relay header naming the core."""
    sender = (message.properties or {}).get("user_id")
    if sender == core_user:
        return True
    relayed = (message.headers or {}).get(RELAY_HEADER) == core_user
    return relayed and own_user is not None and sender == own_user


def transport_problem(message: Message) -> str | None:
    """The reason a message is refused for its properties alone, or None: `content_type` must be
    `application/json` (none at all is read as JSON) and the body at most 64 KiB."""
    content_type = (message.content_type or "").strip()
    if content_type and content_type.split(";")[0].strip().lower() != JSON_CONTENT_TYPE:
        return (
            f"Tipo de contenido no admitido: {content_type[:80]} (se espera {JSON_CONTENT_TYPE})."
        )
    size = len(message.body or b"")
    if size > MAX_MESSAGE_BYTES:
        return f"El mensaje mide {size} bytes; el máximo es {MAX_MESSAGE_BYTES} (64 KiB)."
    return None


def routing_problem(event: CoreEvent, message: Message) -> str | None:
    """The reason an envelope is refused when it came on `core.events` under a routing key that
    is not its `event_type` (queues are bound by routing key: a mislabelled event would reach a
    service that does not own it, or be applied as what it says it is). A retry or an operator's
    requeue comes back from the default exchange: it was checked when it first arrived."""
    delivery = message.delivery_info or {}
    if delivery.get("exchange") != CORE_EXCHANGE.name:
        return None
    key = delivery.get("routing_key")
    if key != event["event_type"]:
        return (
            f"La clave de ruteo {str(key)[:80]} no es el event_type "
            f"{str(event['event_type'])[:80]}."
        )
    return None


def envelope_problem(event: object, event_types: Sequence[str] | None = None) -> str | None:
    """The reason an envelope is refused before reaching the handler, or None."""
    if not isinstance(event, dict):
        return "El mensaje no es un objeto JSON."
    missing = [f for f in ENVELOPE_FIELDS if event.get(f) in (None, "")]
    if missing:
        return "Faltan campos del sobre: " + ", ".join(missing) + "."
    if not isinstance(event["data"], dict):
        return "El campo data debe ser un objeto."
    if not isinstance(event["event_id"], str) or len(event["event_id"]) > 36:
        return "event_id debe ser un texto de hasta 36 caracteres."
    if event_types is not None and event["event_type"] not in event_types:
        return f"Tipo de evento no esperado: {str(event['event_type'])[:80]}."
    return None


core_events = CoreEventConsumer.decorator
