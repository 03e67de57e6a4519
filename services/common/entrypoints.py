"""nameko entrypoints that commit the worker's database sessions *before* answering.

nameko sends an RPC reply (or acks an event, or writes the HTTP response) in `handle_result`,
which runs before dependency providers see `worker_result`. Committing there would let a caller
read its own write before it is committed, or get "ok" for a commit that then fails. These
subclasses commit first and turn a failed commit into the worker's error.
"""

import inspect
import logging
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import eventlet
from amqp.exceptions import NotFound, RecoverableConnectionError
from kombu import Exchange, Queue
from kombu.message import Message
from nameko.amqp.publish import Publisher
from nameko.containers import WorkerContext
from nameko.events import BROADCAST, EventHandler
from nameko.exceptions import IncorrectSignature, UnserializableValueError, serialize
from nameko.messaging import QueueConsumer
from nameko.rpc import Rpc, RpcConsumer

from services.common.amqp import (
    open_connection,
    parked_queue_arguments,
    queue_type,
    retry_queue_arguments,
    rpc_queues_durable,
    work_queue_arguments,
)
from services.common.messaging import BROKER_ERRORS, RpcPublisher, dumps

log = logging.getLogger(__name__)

ATTEMPTS_HEADER = "x-portal-attempts"
# delays (seconds) before each retry of a failing event; then the message is parked
RETRY_DELAYS = (1, 5, 30, 120)

# what a worker raised, as nameko hands it over (sys.exc_info() of the failure)
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def finish_transactions(worker_ctx: WorkerContext, exc_info: ExcInfo | None) -> ExcInfo | None:
    from services.common.db import Database

    for provider in worker_ctx.container.dependencies:
        if isinstance(provider, Database):
            try:
                provider.finish(worker_ctx, success=exc_info is None)
            except Exception as exc:
                exc_info = (type(exc), exc, exc.__traceback__)  # sys.exc_info()
    return exc_info


class PortalQueueConsumer(QueueConsumer):
    """nameko's queue consumer, made to outlive the loss of its broker node:

    - its ack and requeue survive a connection that just died. nameko 2.14 acks only on a
      connection it believes open and ignores py-amqp's ConnectionError, but a socket that a
      broker node reset meanwhile raises OSError (ConnectionResetError, BrokenPipeError) out of
      the worker, and nameko then kills the whole container. The broker gives back every
      unacknowledged delivery of a closed connection, so the failed ack is only logged;
    - a connection found dead is a lost connection (`on_iteration`). A worker's failed ack marks
      the connection dead; if the reader then wakes by its read timeout rather than by the reset
      socket (a busy event loop fires timers before it polls), kombu's `Connection` quietly
      opens a *new* connection at the reader's next use, without the consumers: the service
      would go silent with no consumer on its queues. Raising a connection error instead makes
      kombu's ConsumerMixin reconnect the usual way, consumers included
      (tests/faults/test_rabbit_cluster.py keeps it so under CPU load);
    - a watchdog: every WATCH_SECONDS (every RECHECK_SECONDS for a while after each
      (re)connection) it asks the broker, on a connection of its own, how many consumers each of
      its queues has. A queue with none, or missing, twice in a row, while this consumer
      believes it consumes it, means that consumption was lost some other way: the reader is
      asked to reconnect too (a check without an answer within CHECK_SECONDS tells nothing).
    """

    WATCH_SECONDS = 10.0
    RECHECK_SECONDS = 1.0  # just after a (re)connection, when a lost consumption happens
    RECHECK_WINDOW = 15.0
    CHECK_SECONDS = 5.0  # a check that takes longer tells nothing

    def __init__(self) -> None:
        super().__init__()
        self.watched: set[str] = set()  # names of the shared queues consumed (an exclusive one
        # cannot even be asked about from another connection)
        self.live_connection: Any = None  # kombu's Connection, once consuming
        self.watchdog: Any = None
        self.consuming_since = 0.0
        self.consuming_on: Any = None
        self.reconnect_reason = ""  # set by the watchdog, acted on by the reader

    def register_provider(self, provider: Any) -> None:
        queue = getattr(provider, "queue", None)
        if queue is not None and not (queue.exclusive or queue.auto_delete):
            self.watched.add(queue.name)
        super().register_provider(provider)

    def unregister_provider(self, provider: Any) -> None:
        queue = getattr(provider, "queue", None)
        if queue is not None:  # stopping: its queue is about to lose this consumer, rightly
            self.watched.discard(queue.name)
        super().unregister_provider(provider)

    def on_consume_ready(
        self, connection: Any, channel: Any, consumers: Any, **kwargs: Any
    ) -> None:
        self.live_connection = connection
        self.consuming_on = channel.connection  # py-amqp's connection under kombu's
        self.consuming_since = time.monotonic()
        self.reconnect_reason = ""  # a fresh consumption answers an earlier request
        super().on_consume_ready(connection, channel, consumers, **kwargs)
        if self.watchdog is None and self.watched:
            self.watchdog = self.container.spawn_managed_thread(
                self._watch, identifier="queue-consumer-watchdog"
            )

    def stop(self) -> None:
        # the watchdog first: nameko would otherwise kill it last, with a warning at every stop
        if self.watchdog is not None:
            self.watchdog.kill()
            self.watchdog = None
        super().stop()

    def kill(self) -> None:
        if self.watchdog is not None:
            self.watchdog.kill()
            self.watchdog = None
        super().kill()

    def on_iteration(self) -> None:
        """Before each read (in the reader's own greenthread, so nothing else uses the connection
        meanwhile): a dead connection or a lost consumption becomes a connection error, which
        ConsumerMixin.run answers by reconnecting with every consumer."""
        super().on_iteration()
        if self.should_stop or self.live_connection is None:
            return
        reason = self.reconnect_reason
        live = self.live_connection
        if not reason and (not live.connected or live.connection is not self.consuming_on):
            # dead, or already swapped by kombu for a new one without consumers
            reason = "the connection died"
        if reason:
            self.reconnect_reason = ""
            raise RecoverableConnectionError(f"{reason}: consuming again on a new connection")

    def _unconsumed(self, connection: Any) -> list[str]:
        """The watched queues that no consumer takes from; a queue missing, or that the broker
        cannot answer about, counts as such."""
        missing = []
        for name in sorted(self.watched):
            try:
                channel = connection.channel()  # an error closes a channel: one per question
                if channel.queue_declare(name, passive=True).consumer_count == 0:
                    missing.append(name)
                channel.close()
            except NotFound:
                missing.append(name)
            except Exception:  # noqa: BLE001  e.g. a quorum queue without a leader yet: no
                # answer is not an answer of none (a slow broker must not drop a healthy consumer)
                log.debug("no answer about %s", name, exc_info=True)
        return missing

    def _watch(self) -> None:
        strikes = 0
        while True:
            recent = time.monotonic() - self.consuming_since < self.RECHECK_WINDOW
            eventlet.sleep(self.RECHECK_SECONDS if recent or strikes else self.WATCH_SECONDS)
            try:
                connection = open_connection(self.amqp_uri, connect_timeout=3)
            except Exception:  # noqa: BLE001  no node answers: the consumer is reconnecting
                strikes = 0
                continue
            unconsumed = None  # a check that hangs tells nothing
            try:
                with eventlet.Timeout(self.CHECK_SECONDS, False):
                    unconsumed = self._unconsumed(connection)
            finally:
                with eventlet.Timeout(2, False):
                    connection.release()
            if unconsumed is None:
                continue
            strikes = strikes + 1 if unconsumed else 0
            if strikes >= 2:
                # only ask: the reader reconnects itself (on_iteration); closing its connection
                # from this thread (kombu's collect()) would make its next read fail with
                # EOFError, which nameko treats as fatal and stops a healthy service
                log.warning("no consumer on %s: reconnecting", ", ".join(unconsumed))
                self.reconnect_reason = f"no consumer on {', '.join(unconsumed)}"
                strikes = 0

    def ack_message(self, message: Message) -> None:
        try:
            super().ack_message(message)
        except OSError as exc:
            log.info("ack not sent (%r): the broker will deliver the message again", exc)

    def requeue_message(self, message: Message) -> None:
        try:
            super().requeue_message(message)
        except OSError as exc:
            log.info("requeue not sent (%r): the broker will deliver the message again", exc)


class FastRpcConsumer(RpcConsumer):
    """Replies on the process's long-lived publishing channel, transient and unconfirmed,
    serialised once; then the request is acknowledged (reply first: a request whose reply
    could not leave stays unacked and is delivered again).

    A reply is only useful to a caller that is waiting for it with a deadline; persisting it or
    waiting for the broker's confirm buys nothing and costs a round trip per call (events keep
    both: they go through the outbox relay). See services/common/messaging.py.
    """

    publisher = RpcPublisher()
    queue_consumer = PortalQueueConsumer()
    queue: Queue  # nameko's, replaced at setup

    def setup(self) -> None:
        super().setup()
        # `rpc-<service>`: classic, transient on a cluster (services/common/amqp.py): a request
        # lives a deadline long, and the queue must be declared again on a surviving node when
        # its own dies. Same name, exchange and binding as nameko's.
        queue = self.queue
        self.queue = Queue(
            queue.name,
            exchange=queue.exchange,
            routing_key=queue.routing_key,
            durable=rpc_queues_durable(queue_type(self.container.config)),
        )

    def handle_result(
        self, message: Message, result: object, exc_info: ExcInfo | None
    ) -> tuple[object, ExcInfo | None]:
        error = None if exc_info is None else serialize(exc_info[1])
        try:
            body = dumps({"result": result, "error": error})
        except Exception as exc:  # an unserialisable result is the caller's error, not a crash
            exc_info = (type(exc), exc, exc.__traceback__)  # sys.exc_info()
            body = dumps({"result": None, "error": serialize(UnserializableValueError(result))})
            result = None
        try:
            self.publisher.publish(
                body,
                routing_key=message.properties["reply_to"],
                correlation_id=message.properties.get("correlation_id"),
            )
        except BROKER_ERRORS as exc:  # no broker node takes it: the request is done again
            log.warning("reply not sent (%r); the request goes back to its queue", exc)
            self.queue_consumer.requeue_message(message)
            return result, exc_info
        self.queue_consumer.ack_message(message)
        return result, exc_info


class CachedSignature:
    """nameko runs inspect.getcallargs on every call; binding a signature computed once is the
    same check at a fraction of the cost."""

    # given by the nameko entrypoint this is mixed into
    container: Any
    method_name: str

    def check_signature(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        signature = self.__dict__.get("_signature")
        if signature is None:
            method = getattr(self.container.service_cls, self.method_name)
            signature = self._signature = inspect.signature(method)
        try:
            signature.bind(None, *args, **kwargs)
        except TypeError as exc:
            raise IncorrectSignature(str(exc)) from None


class PortalRpc(CachedSignature, Rpc):
    rpc_consumer = FastRpcConsumer()

    def __init__(
        self,
        expected_exceptions: type[Exception] | tuple[type[Exception], ...] = (),
        **kwargs: Any,
    ) -> None:
        # the portal's own errors (422, 404, …) are answers, not failures of the service
        from services.common.errors import PortalError

        if not isinstance(expected_exceptions, tuple):
            expected_exceptions = (expected_exceptions,)
        super().__init__(expected_exceptions=(PortalError, *expected_exceptions), **kwargs)

    def handle_result(
        self, message: Message, worker_ctx: WorkerContext, result: object, exc_info: ExcInfo | None
    ) -> tuple[object, ExcInfo | None]:
        exc_info = finish_transactions(worker_ctx, exc_info)
        if exc_info is not None:
            result = None
        outcome: tuple[object, ExcInfo | None] = super().handle_result(
            message, worker_ctx, result, exc_info
        )
        return outcome


class PortalEventHandler(EventHandler):
    """Durable, reliable, one queue per handler (competing consumers across instances).

    A handler that fails does not block its queue and does not lose the event: the message goes
    to `<queue>.retry` with a growing delay (RETRY_DELAYS), from where RabbitMQ dead-letters it
    back to the handler's queue; after the last retry it is parked in `<queue>.dead` for
    operators (`python -m scripts.portal dead-letters`).
    """

    queue_consumer = PortalQueueConsumer()
    queue: Queue  # nameko's, replaced at setup by a quorum queue on a cluster

    def __init__(self, source_service: str, event_type: str, **kwargs: Any) -> None:
        kwargs.setdefault("reliable_delivery", True)
        self.retry_delays = tuple(kwargs.pop("retry_delays", RETRY_DELAYS))
        super().__init__(source_service, event_type, **kwargs)

    def setup(self) -> None:
        super().setup()
        name = self.queue.name
        kind = queue_type(self.container.config)
        if self.queue.durable and not (self.queue.auto_delete or self.queue.exclusive):
            # a quorum queue on a cluster (services/common/amqp.py); nameko's own declaration
            # otherwise (a transient handler's queue cannot be quorum)
            self.queue = Queue(
                name,
                exchange=self.queue.exchange,
                routing_key=self.queue.routing_key,
                durable=True,
                queue_arguments=work_queue_arguments(name, kind),
            )
        default = Exchange("", type="direct")
        self.retry_queue = Queue(
            f"{name}.retry",
            exchange=default,
            routing_key=f"{name}.retry",
            durable=True,
            queue_arguments=retry_queue_arguments(name, kind),
        )
        self.dead_queue = Queue(
            f"{name}.dead",
            exchange=default,
            routing_key=f"{name}.dead",
            durable=True,
            queue_arguments=parked_queue_arguments(kind),
        )
        config = self.container.config
        self.publisher = Publisher(config["AMQP_URI"], ssl=config.get("AMQP_SSL"))

    def handle_result(
        self,
        message: Message,
        worker_ctx: WorkerContext,
        result: object = None,
        exc_info: ExcInfo | None = None,
    ) -> tuple[object, ExcInfo | None]:
        exc_info = finish_transactions(worker_ctx, exc_info)
        if exc_info is not None:
            try:
                self._retry_or_park(message, exc_info)
                exc_info_for_ack = None
            except Exception:  # broker trouble: leave it in its queue rather than lose it
                log.exception("could not re-route failed event; requeueing")
                self.queue_consumer.requeue_message(message)
                return result, exc_info
            self.handle_message_processed(message, result, exc_info_for_ack)
            return result, exc_info
        outcome: tuple[object, ExcInfo | None] = super().handle_result(
            message, worker_ctx, result, exc_info
        )
        return outcome

    def _retry_or_park(self, message: Message, exc_info: ExcInfo) -> None:
        headers = dict(message.headers or {})
        attempts = int(headers.get(ATTEMPTS_HEADER, 0)) + 1
        headers[ATTEMPTS_HEADER] = attempts
        headers["x-portal-last-error"] = f"{exc_info[0].__name__}: {exc_info[1]}"[:500]
        common = dict(
            exchange=Exchange("", type="direct"),
            headers=headers,
            content_type=message.content_type,
            content_encoding=message.content_encoding,
            delivery_mode=2,
        )
        if attempts <= len(self.retry_delays):
            delay = self.retry_delays[attempts - 1]
            log.warning(
                "event on %s failed (attempt %s); retry in %s s", self.queue.name, attempts, delay
            )
            self.publisher.publish(
                message.body,
                routing_key=self.retry_queue.name,
                declare=[self.retry_queue],
                expiration=delay,
                **common,
            )
        else:
            log.error(
                "event on %s failed %s times; parked in %s",
                self.queue.name,
                attempts,
                self.dead_queue.name,
            )
            self.publisher.publish(
                message.body, routing_key=self.dead_queue.name, declare=[self.dead_queue], **common
            )


class BroadcastHandler(EventHandler):
    """nameko's broadcast handler (every instance hears the event; a transient, exclusive queue
    per instance), on the queue consumer that survives a broker node's loss."""

    queue_consumer = PortalQueueConsumer()

    def __init__(self, source_service: str, event_type: str, **kwargs: Any) -> None:
        kwargs.update(handler_type=BROADCAST, reliable_delivery=False)
        super().__init__(source_service, event_type, **kwargs)


rpc = PortalRpc.decorator
event_handler = PortalEventHandler.decorator
broadcast_handler = BroadcastHandler.decorator
