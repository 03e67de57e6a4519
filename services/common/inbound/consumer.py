"""The `core_events` entrypoint: one durable queue per service (`core.<service>`, bound to
`core.events` once per event type; a lane gets `core.<service>.<lane>`), each message checked
(services/common/inbound/envelope.py) before a worker applies it, one event per worker or in
batches (batching.py), then retried or parked (parking.py)."""

import logging
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

from eventlet.event import Event
from eventlet.greenthread import GreenThread
from kombu import Connection, Exchange, Queue, binding
from kombu.message import Message
from nameko.amqp.publish import Publisher
from nameko.exceptions import ContainerBeingKilled
from nameko.messaging import Consumer

from services.common.amqp import (
    open_connection,
    parked_queue_arguments,
    queue_type,
    retry_queue_arguments,
    work_queue_arguments,
)
from services.common.entrypoints import RETRY_DELAYS, PortalQueueConsumer
from services.common.inbound.batching import Batching
from services.common.inbound.envelope import (
    CORE_EXCHANGE,
    CORE_USER_KEY,
    DEFAULT_CORE_USER,
    CoreEvent,
    decode,
    envelope_problem,
    routing_problem,
    transport_problem,
)
from services.common.inbound.parking import NOT_YET_DELAYS
from services.common.ordering import KIND_ENVELOPE, KIND_NOT_JSON, Refused

log = logging.getLogger(__name__)


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


class CoreEventConsumer(Batching, Consumer):
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
        # a service cannot start without it: a broker slow to answer (a busy node, a failover)
        # gets three rounds before the start fails
        with open_connection(self.container.config["AMQP_URI"], rounds=3) as connection:
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
            event = decode(body)
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


core_events = CoreEventConsumer.decorator
