"""What becomes of a core message that was not applied: retried (a short backoff for `NotYet`,
the platform's for an unexpected error) through `core.<service>.retry`, or parked in
`core.<service>.dead` with its reason in the `x-portal-refusal` header, and counted
(services/common/inbound/refusals.py). A `Refused` event is parked at once. The worker's
transaction commits before the ack; held events refused when their turn came are parked right
after that commit."""

import json
import logging
from collections.abc import Iterable
from typing import Any

from eventlet.event import Event
from kombu import Exchange, Queue
from kombu.message import Message
from nameko.amqp.publish import Publisher
from nameko.containers import ServiceContainer, WorkerContext
from sqlalchemy.orm import Session

from services.common.clock import CLOCK
from services.common.entrypoints import ATTEMPTS_HEADER, ExcInfo, finish_transactions
from services.common.inbound.envelope import CoreEvent, sender_is_core, transport_problem
from services.common.inbound.ordering import parks_after
from services.common.inbound.refusals import count_refusal
from services.common.ordering import (
    KIND_ENVELOPE,
    KIND_ERROR,
    KIND_NOT_JSON,
    KIND_SENDER,
    RELAY_HEADER,
    NotYet,
    Refused,
)

log = logging.getLogger(__name__)

REFUSAL_HEADER = "x-portal-refusal"
KIND_HEADER = "x-portal-refusal-kind"
EVENT_TYPE_HEADER = "x-portal-event-type"
PARKED_AT_HEADER = "x-portal-parked-at"  # when it was parked (operators' listing)
# short: what NotYet waits for is normally a few messages behind (seconds)
NOT_YET_DELAYS = (0.5, 2, 5, 15)


class Settlement:
    """The retry-or-park half of the `core_events` entrypoint (services/common/inbound/consumer.py
    sets these attributes up)."""

    container: ServiceContainer
    queue_consumer: Any
    service_name: str
    queue: Queue
    retry_queue: Queue
    dead_queue: Queue
    publisher: Publisher
    core_user: str
    own_user: str
    retry_delays: tuple[float, ...]
    not_yet_delays: tuple[float, ...]

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
        parks = parks_after(session)
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
        headers[PARKED_AT_HEADER] = CLOCK.utcnow().isoformat(timespec="seconds") + "Z"
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
