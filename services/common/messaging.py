"""The RPC hot path on the wire: one long-lived channel per process for requests, replies on
the channel each request came in on, and a reply queue consumed without acknowledgements.

nameko 2.14 publishes every request and every reply through `nameko.amqp.publish.Publisher`: it
builds a kombu `Connection`, takes a pooled producer, wraps the publish in `Connection.ensure()`
and, for a reply, serialises the result twice. Its reply listener acknowledges every reply, one
more frame each way. Profiles of the consolidated position (docs/benchmarks.md) put a third of the
gateway's CPU and a quarter of each service's there. The two extensions below keep nameko's wire
format (exchange `nameko-rpc`, routing key `service.method`, `reply_to`, `correlation_id`,
`nameko.*` context headers, `{"result", "error"}` replies), so nameko clients and services
still talk to ours, and change only how the frames are produced:

- `FastPublisher`: one connection and channel per container, opened on first use, publishes
  transient messages without confirms under a green lock (a publish is several frames that
  must not interleave); `batch()` sends a fan-out in one write. A broken connection is dropped
  and reopened once; if that fails too the error reaches the caller, which answers "service
  unavailable". Events never go through it: they keep the outbox relay with persistent
  messages and publisher confirms. Services send their replies with the request's ack on the
  request's own channel (entrypoints.FastRpcConsumer) and use this only as a fallback.
- `FastReplyListener`: the caller's reply queue, consumed with `no_ack` on a connection of its
  own. A reply nobody waits for any more (deadline passed) is dropped, as nameko does.
"""

import logging
import struct
import uuid
from contextlib import contextmanager

import amqp
import eventlet
from amqp import spec
from amqp.exceptions import AMQPError
from amqp.serialization import dumps as amqp_dumps
from eventlet.event import Event
from eventlet.semaphore import Semaphore
from kombu import Connection, Queue
from kombu.exceptions import KombuError
from kombu.utils.json import dumps as kombu_dumps
from kombu.utils.json import loads as kombu_loads
from nameko.constants import AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, LOGIN_METHOD_CONFIG_KEY
from nameko.extensions import SharedExtension
from nameko.rpc import RPC_REPLY_QUEUE_TEMPLATE, RPC_REPLY_QUEUE_TTL, get_rpc_exchange

log = logging.getLogger(__name__)

BROKER_ERRORS = (OSError, KombuError, AMQPError, ConnectionError)
TRANSIENT = 1
_FRAME_END = b"\xce"
_PUBLISH_METHOD = struct.pack(">HH", *spec.Basic.Publish)


def publish_frames(channel_id, frame_max, exchange, routing_key, message):
    """The frames of one basic.publish (method, content header, body split at frame_max), laid
    out as py-amqp's frame_writer does, so that several publishes can leave in one write."""
    method = _PUBLISH_METHOD + amqp_dumps("Bssbb", (0, exchange, routing_key, False, False))
    body = message.body
    header = struct.pack(">HHQ", spec.Basic.Publish[0], 0, len(body))
    header += message._serialize_properties()
    parts = [struct.pack(">BHI", 1, channel_id, len(method)), method, _FRAME_END]
    parts += [struct.pack(">BHI", 2, channel_id, len(header)), header, _FRAME_END]
    chunk = frame_max - 8
    for start in range(0, len(body), chunk):
        piece = body[start : start + chunk]
        parts += [struct.pack(">BHI", 3, channel_id, len(piece)), piece, _FRAME_END]
    return parts


def _connection(config):
    return Connection(
        config[AMQP_URI_CONFIG_KEY],
        ssl=config.get(AMQP_SSL_CONFIG_KEY),
        login_method=config.get(LOGIN_METHOD_CONFIG_KEY),
    )


class FastPublisher(SharedExtension):
    """RPC requests and replies on one long-lived channel (see the module's docstring)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._lock = Semaphore()
        self._connection = None
        self._channel = None
        self._batches = {}

    def _open(self):
        connection = _connection(self.container.config)
        connection.connect()
        channel = connection.channel()
        # declared once per connection: publishing to a missing exchange would close the channel
        get_rpc_exchange(self.container.config)(channel).declare()
        self._connection, self._channel = connection, channel
        return channel

    def _drop(self):
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # noqa: BLE001  it is already broken
                log.debug("closing a broken publishing connection failed", exc_info=True)

    def publish(self, body, routing_key, on_error=None, **properties):
        """`body` is JSON text already; `properties` are AMQP properties (reply_to, headers…).

        Inside `batch()` the message waits for the end of the block, and a failure to send it
        goes to `on_error(exc)` (or is raised there when there is none)."""
        message = self.message(body, **properties)
        pending = self._batches.get(eventlet.getcurrent())
        if pending is not None:
            pending.append((routing_key, message, on_error))
            return
        self._write([(routing_key, message)])

    @staticmethod
    def message(body, correlation_id=None, reply_to=None, headers=None):
        """A transient JSON message with nameko's properties."""
        return amqp.Message(
            body.encode() if isinstance(body, str) else body,
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=TRANSIENT,
            correlation_id=correlation_id,
            reply_to=reply_to,
            application_headers=headers or {},
        )

    @property
    def exchange_name(self):
        return get_rpc_exchange(self.container.config).name

    @contextmanager
    def batch(self):
        """The publishes of this greenthread inside the block leave in one socket write at its
        end: the broker is woken once and gets the whole fan-out together. If the block raises,
        nothing is sent."""
        me = eventlet.getcurrent()
        if me in self._batches:  # already batching: the outer block sends
            yield
            return
        self._batches[me] = pending = []
        try:
            yield
        finally:
            del self._batches[me]
        if not pending:
            return
        try:
            self._write([(key, message) for key, message, _ in pending])
        except BROKER_ERRORS as exc:
            unclaimed = [on_error for _, _, on_error in pending if on_error is None]
            for _, _, on_error in pending:
                if on_error is not None:
                    on_error(exc)
            if unclaimed:
                raise

    def _write(self, messages):
        exchange = self.exchange_name
        with self._lock:
            for attempt in (1, 2):
                try:
                    channel = self._channel or self._open()
                    connection = channel.connection
                    if connection is None:
                        raise amqp.exceptions.RecoverableConnectionError("channel closed")
                    self._drain_notifications(connection)
                    frames = []
                    for routing_key, message in messages:
                        frames += publish_frames(
                            channel.channel_id,
                            connection.frame_max,
                            exchange,
                            routing_key,
                            message,
                        )
                    connection.transport.write(b"".join(frames))
                    connection.bytes_sent += 1
                    return
                except BROKER_ERRORS:
                    self._drop()
                    if attempt == 2:
                        raise
                    log.info("publishing connection lost; reconnecting once")

    @staticmethod
    def _drain_notifications(connection):
        # as py-amqp's basic_publish does: read what the broker sent on this connection
        # (connection.blocked, a channel closed by an error) instead of letting it pile up
        if connection.client_properties.get("capabilities", {}).get("connection.blocked"):
            try:
                connection.drain_events(timeout=0)
            except TimeoutError:
                pass

    def stop(self):
        with self._lock:
            self._drop()

    kill = stop


class FastReplyListener(SharedExtension):
    """A caller's replies: its own queue and connection, consumed without acknowledgements."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._reply_events = {}
        self._stopping = False
        self._thread = None
        self.routing_key = None
        self.queue = None

    def setup(self):
        self.routing_key = str(uuid.uuid4())
        self.queue = Queue(
            RPC_REPLY_QUEUE_TEMPLATE.format(self.container.service_name, self.routing_key),
            exchange=get_rpc_exchange(self.container.config),
            routing_key=self.routing_key,
            # survives a reconnection (as nameko's): replies sent meanwhile are not lost
            queue_arguments={"x-expires": RPC_REPLY_QUEUE_TTL},
        )

    def start(self):
        self._stopping = False
        ready = Event()
        self._thread = self.container.spawn_managed_thread(
            lambda: self._run(ready), identifier="FastReplyListener"
        )
        failure = ready.wait()
        if failure is not None:  # the broker is away at start: fail as nameko's consumers do
            raise failure

    def _consume_once(self, ready):
        with _connection(self.container.config) as connection:
            channel = connection.channel()
            self.queue(channel).declare()
            # py-amqp's consumer directly: kombu's Message and decoding layers cost more than
            # the reply itself, and a reply is never acked or rejected
            channel.basic_consume(self.queue.name, callback=self._on_reply, no_ack=True)
            if not ready.ready():
                ready.send(None)
            while not self._stopping:
                try:
                    connection.drain_events(timeout=1)
                except TimeoutError:  # no reply this second: look at _stopping
                    continue

    def _run(self, ready):
        while not self._stopping:
            try:
                self._consume_once(ready)
            except BROKER_ERRORS as exc:
                if not ready.ready():
                    ready.send(exc)
                    return
                if self._stopping:
                    return
                log.warning("reply listener lost the broker (%r); reconnecting", exc)
                eventlet.sleep(1)

    def _on_reply(self, message):
        event = self._reply_events.pop(message.properties.get("correlation_id"), None)
        if event is not None:
            # kombu's JSON (what nameko and FastRpcConsumer write): it restores dates, Decimals
            event.send(kombu_loads(message.body))

    def get_reply_event(self, correlation_id):
        event = Event()
        self._reply_events[correlation_id] = event
        return event

    def stop(self):
        self._stopping = True
        if self._thread is not None:
            self._thread.wait()
            self._thread = None

    def kill(self):
        self._stopping = True
        if self._thread is not None:
            self._thread.kill()
            self._thread = None


def dumps(payload):
    """JSON as nameko's kombu serializer would write it (kombu's encoder: dates, Decimal…)."""
    return kombu_dumps(payload)


__all__ = ["FastPublisher", "FastReplyListener", "dumps"]
