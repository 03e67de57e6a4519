"""The RPC transport, on kombu's and nameko's public API only.

nameko 2.14 publishes every request and every reply through `nameko.amqp.publish.Publisher`:
a connection taken from a pool, `Connection.ensure()` around each publish, persistent messages
and a publisher confirm (one broker round trip) per call, and a reply listener that acknowledges
every reply. A caller of ours waits with a deadline anyway, so persistence and confirms buy
nothing on RPC. The two shared extensions below keep nameko's wire format (exchange
`nameko-rpc`, routing key `service.method`, `reply_to`, `correlation_id`, `nameko.*` context
headers, `{"result", "error"}` replies), so nameko clients and services still talk to ours:

- `RpcPublisher`: one kombu `Connection` and one long-lived channel per container, opened on
  first use; each message is an `amqp.Message` sent with the channel's public `basic_publish`
  (py-amqp's, which kombu's `Producer.publish` ends in: measured, kombu's layer on top cost
  about a tenth of the position's throughput, docs/benchmarks-notes.md), transient and
  unconfirmed, under a green lock (a publish is several frames that must not interleave with
  another greenthread's). A broken connection is dropped and reopened once; if that fails too
  the error reaches the caller, which answers "service unavailable". Events never go through
  it: they keep the outbox relay with persistent messages and publisher confirms.
- `FastReplyListener`: the caller's reply queue, consumed with `no_ack` (`basic_consume`) on a
  connection of its own. A reply nobody waits for any more (deadline passed) is dropped, as
  nameko does; `forget()` lets a caller that gave up say so.
"""

import logging
import uuid
from collections.abc import Mapping
from typing import Any

import amqp
import eventlet
from amqp.exceptions import AMQPError
from eventlet.event import Event
from eventlet.greenthread import GreenThread
from eventlet.semaphore import Semaphore
from kombu import Connection, Exchange, Queue
from kombu.exceptions import KombuError
from kombu.utils.json import dumps as kombu_dumps
from kombu.utils.json import loads as kombu_loads
from nameko.constants import AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, LOGIN_METHOD_CONFIG_KEY
from nameko.extensions import SharedExtension
from nameko.rpc import RPC_REPLY_QUEUE_TEMPLATE, RPC_REPLY_QUEUE_TTL, get_rpc_exchange

from services.common.amqp import open_connection, queue_type, rpc_queues_durable

log = logging.getLogger(__name__)

BROKER_ERRORS = (OSError, KombuError, AMQPError, ConnectionError)
START_TRIES = 3  # the reply listener's first connection (FastReplyListener._run)
TRANSIENT = 1


def _connection(config: Mapping[str, Any]) -> Connection:
    """Opened; with several addresses in AMQP_URI, the first that answers (a cluster's node)."""
    return open_connection(
        config[AMQP_URI_CONFIG_KEY],
        ssl=config.get(AMQP_SSL_CONFIG_KEY),
        login_method=config.get(LOGIN_METHOD_CONFIG_KEY),
    )


class RpcPublisher(SharedExtension):
    """RPC requests and replies on one long-lived channel (see the module)."""

    exchange: Exchange  # nameko's RPC exchange, known at setup

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lock = Semaphore()
        self.connection: Connection | None = None
        self.channel: amqp.Channel | None = None

    def setup(self) -> None:
        self.exchange = get_rpc_exchange(self.container.config)

    def _open(self) -> amqp.Channel:
        connection = _connection(self.container.config)
        channel = connection.channel()
        # declared once per connection: publishing to a missing exchange would close the channel
        self.exchange(channel).declare()
        self.connection, self.channel = connection, channel
        return channel

    def _drop(self) -> None:
        connection, self.connection, self.channel = self.connection, None, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # noqa: BLE001  it is already broken
                log.debug("closing a broken publishing connection failed", exc_info=True)

    def publish(
        self,
        body: str,
        routing_key: str,
        correlation_id: str | None = None,
        reply_to: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> None:
        """`body` is JSON text already (see `dumps`); a transient message with nameko's
        properties. Raises one of BROKER_ERRORS when the broker cannot be reached."""
        with self.lock:
            for attempt in (1, 2):
                try:
                    channel = self.channel or self._open()
                    channel.basic_publish(
                        amqp.Message(
                            body.encode(),
                            content_type="application/json",
                            content_encoding="utf-8",
                            delivery_mode=TRANSIENT,
                            correlation_id=correlation_id,
                            reply_to=reply_to,
                            application_headers=headers or {},
                        ),
                        exchange=self.exchange.name,
                        routing_key=routing_key,
                    )
                    return
                except BROKER_ERRORS:
                    self._drop()
                    if attempt == 2:
                        raise
                    log.info("publishing connection lost; reconnecting once")

    def stop(self) -> None:
        with self.lock:
            self._drop()

    kill = stop


class FastReplyListener(SharedExtension):
    """A caller's replies: its own queue and connection, consumed without acknowledgements."""

    # this process's reply queue, named at setup
    routing_key: str
    queue: Queue

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._reply_events: dict[str, Event] = {}
        self._stopping = False
        self._thread: GreenThread | None = None

    def setup(self) -> None:
        self.routing_key = str(uuid.uuid4())
        self.queue = Queue(
            RPC_REPLY_QUEUE_TEMPLATE.format(self.container.service_name, self.routing_key),
            exchange=get_rpc_exchange(self.container.config),
            routing_key=self.routing_key,
            # survives a reconnection (as nameko's): replies sent meanwhile are not lost. Durable
            # only on one classic broker: on a cluster, a transient queue whose node dies is
            # declared again on a surviving one (services/common/amqp.py)
            durable=rpc_queues_durable(queue_type(self.container.config)),
            queue_arguments={"x-expires": RPC_REPLY_QUEUE_TTL},
        )

    def start(self) -> None:
        self._stopping = False
        ready = Event()
        self._thread = self.container.spawn_managed_thread(
            lambda: self._run(ready), identifier="FastReplyListener"
        )
        failure = ready.wait()
        if failure is not None:  # the broker is away at start: fail as nameko's consumers do
            raise failure

    def _consume_once(self, ready: Event) -> None:
        with _connection(self.container.config) as connection:
            channel = connection.channel()
            self.queue(channel).declare()
            # the channel's own basic_consume (public in py-amqp): a reply is never acked or
            # rejected, so kombu's Consumer and Message layers would only add decoding costs
            channel.basic_consume(self.queue.name, callback=self._on_reply, no_ack=True)
            if not ready.ready():
                ready.send(None)
            while not self._stopping:
                try:
                    connection.drain_events(timeout=1)
                except TimeoutError:  # no reply this second: look at _stopping
                    continue

    def _run(self, ready: Event) -> None:
        tries = 0
        while not self._stopping:
            try:
                self._consume_once(ready)
            except BROKER_ERRORS as exc:
                tries += 1
                # at start, a broker slow to answer (a busy node, a failover) gets three tries
                # a second apart before the start fails
                if not ready.ready() and tries >= START_TRIES:
                    ready.send(exc)
                    return
                if self._stopping:
                    return
                log.warning("reply listener lost the broker (%r); reconnecting", exc)
                eventlet.sleep(1)

    def _on_reply(self, message: amqp.Message) -> None:
        event = self._reply_events.pop(message.properties.get("correlation_id"), None)
        if event is not None:
            # kombu's JSON (what `dumps` writes): it restores dates and Decimals
            event.send(kombu_loads(message.body))

    def get_reply_event(self, correlation_id: str) -> Event:
        event = Event()
        self._reply_events[correlation_id] = event
        return event

    def forget(self, correlation_id: str) -> None:
        """The caller stopped waiting (deadline passed, request never sent): drop its reply."""
        self._reply_events.pop(correlation_id, None)

    def stop(self) -> None:
        self._stopping = True
        if self._thread is not None:
            self._thread.wait()
            self._thread = None

    def kill(self) -> None:
        self._stopping = True
        if self._thread is not None:
            self._thread.kill()
            self._thread = None


def dumps(payload: object) -> str:
    """JSON as nameko's kombu serializer would write it (kombu's encoder: dates, Decimal…)."""
    text: str = kombu_dumps(payload)
    return text


__all__ = ["RpcPublisher", "FastReplyListener", "BROKER_ERRORS", "dumps"]
