"""Batches of core events (`@core_events(..., batch=200)`, accounts): the events waiting in the
queue are given to the handler together as a `CoreBatch` and applied in one transaction; the
refused ones are retried or parked alone after the commit and the rest acked with one
multiple-ack. A batch that fails as a whole is rolled back and its events applied one by one."""

import logging
from functools import partial
from typing import TYPE_CHECKING, Any

from eventlet.event import Event
from eventlet.greenthread import GreenThread
from kombu.message import Message
from nameko.containers import WorkerContext
from nameko.exceptions import ContainerBeingKilled

from services.common.entrypoints import ExcInfo, finish_transactions
from services.common.inbound.envelope import CoreEvent
from services.common.inbound.parking import Settlement
from services.common.ordering import Refused

log = logging.getLogger(__name__)


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


class Batching(Settlement):
    """The batching half of the `core_events` entrypoint."""

    batch_size: int
    pending: list[tuple[CoreEvent, Message]]
    flusher: GreenThread | None

    if TYPE_CHECKING:  # the entrypoint's own (services/common/inbound/consumer.py)

        def _spawn_one(
            self, event: CoreEvent, message: Message, done: Event | None = None
        ) -> None: ...

        def unpack_message_headers(self, message: Message) -> Any: ...

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
