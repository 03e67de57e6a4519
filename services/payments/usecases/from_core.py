"""The core's side of the orders: its answers (request_completed / request_rejected, the
`HANDLERS` that also bind the queue core.payments), money moved for a rejected order, the
sweeper (resend, time out, finish what a crash left), and the operators' view and resolution of
requests the core never answered."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from services.common import inbound
from services.common.db import commit
from services.common.errors import Conflict, NotFound
from services.common.handlers import HandlerTable
from services.common.inbound import CoreEvent, Refused
from services.common.schemas import load_or_raise
from services.payments import domain, store
from services.payments.contracts import PendingRequestSchema, ResolveSchema
from services.payments.models import processed_events
from services.payments.schemas import (
    RequestCompletedSchema,
    RequestMovementSchema,
    RequestRejectedSchema,
)
from services.payments.usecases.base import ORDER_NOT_FOUND, as_utc, known, log
from services.payments.usecases.saga import SagaSteps
from services.payments.usecases.views import view_of

PENDING = PendingRequestSchema(many=True)
CORE_COMPLETED = RequestCompletedSchema()
CORE_REJECTED = RequestRejectedSchema()
MOVEMENT = RequestMovementSchema()
CORE_CONSUMER = "payments.on_core_event"

RESOLVE_TOO_EARLY = (
    "La solicitud aún puede ejecutarse en el núcleo (vigente hasta {until} UTC): "
    "espere su respuesta."
)
NOT_AWAITING = "La orden no espera respuesta del núcleo (estado {status})."


class FromCoreUseCases(SagaSteps):
    """On the saga's steps: the sweeper finishes them after a crash, the answers end them."""

    # --- the sweeper -------------------------------------------------------------------------

    def sweep(self) -> int:
        """Finish what a crash left, resend unanswered requests with the same request_id until
        valid_until, mark en_verificacion after the timeout, anulada after 5 minutes unconfirmed.
        Every change is a conditional update: several instances sweeping take effect once."""
        now = self.clock.now()
        if store.forget_expired_keys(self.db, now.replace(tzinfo=None)):
            commit(self.db)
        # a limit raise or a beneficiary left unconfirmed ends like an order (anulada)
        stale = now - timedelta(minutes=self.settings.confirm_minutes)
        done = store.end_unconfirmed(self.db, stale.astimezone(UTC).replace(tzinfo=None))
        if done:
            commit(self.db)
        for order_id in store.order_ids_in(
            self.db, (domain.POR_CONFIRMAR, domain.CONFIRMANDO, *domain.AWAITING_CORE)
        ):
            try:
                done += self._sweep_one(order_id, now)
            except Exception:  # one order's trouble never stops the others
                self.db.rollback()
                log.warning("payments: the sweep of %s did not finish", order_id, exc_info=True)
        return done

    def _sweep_one(self, order_id: str, now: datetime) -> int:
        done = 0
        order = store.order(self.db, order_id)
        if order is None:
            return 0
        if order.status == domain.POR_CONFIRMAR:
            if domain.confirmation_expired(
                as_utc(order.created_at), now, self.settings.confirm_minutes
            ):
                self._cancel(order)
                commit(self.db)
                done += 1
            return done
        if order.status == domain.CONFIRMANDO:
            if (
                now - as_utc(known(order.confirmed_at))
            ).total_seconds() >= self.settings.retry_seconds:
                self._hold_and_send(order)
                done += 1
            return done
        if order.status in domain.AWAITING_CORE:
            if order.status == domain.ENVIADA and domain.late(
                as_utc(known(order.sent_at)), now, self.settings.timeout_minutes
            ):
                naive = now.replace(tzinfo=None)
                if store.move_status(
                    self.db,
                    order.id,
                    domain.ENVIADA,
                    domain.EN_VERIFICACION,
                    late_at=naive,
                    updated_at=naive,
                ):
                    self._emit("order_in_verification", known(store.order(self.db, order.id)))
                commit(self.db)
                done += 1
                order = known(store.order(self.db, order.id))
            if order.status in domain.AWAITING_CORE and domain.resend_due(
                as_utc(known(order.last_sent_at)),
                now,
                as_utc(known(order.valid_until)),
                self.settings.resend_seconds,
            ):
                self.requests.enqueue(order.request_type, json.loads(known(order.request_payload)))
                order.last_sent_at = now.replace(tzinfo=None)
                commit(self.db)
                done += 1
        return done

    # --- the core's answers ------------------------------------------------------------------

    def on_core_event(self, event: CoreEvent) -> None:
        """request_completed / request_rejected, exactly once in effect (docs/payments.md).

        The RPC that ends a rejected order's hold is made before this worker writes anything:
        no lock of the database is held while another service is asked (on SQLite a writer
        waiting for that lock would stop the whole process)."""
        completed = event["event_type"] == "request_completed"
        data = inbound.load_data(
            CORE_COMPLETED if completed else CORE_REJECTED, event.get("data"), event["event_type"]
        )
        order = store.order_by_request(self.db, data["request_id"])
        if order is None:
            raise Refused(f"Solicitud desconocida: {data['request_id']}.", inbound.KIND_UNKNOWN)
        if not completed and domain.on_rejected(order.status).action == domain.APPLY:
            # the hold ends at once (idempotent; a failure retries the whole answer)
            self.accounts.release_hold(order.request_id, domain.RECHAZADA)
        if not inbound.claim(self.db, processed_events, event, CORE_CONSUMER):
            return
        store.lock_order(self.db, order.id)
        self.db.refresh(order)
        if completed:
            decision = domain.on_completed(order.status, order.amount, data["amount"])
        else:
            decision = domain.on_rejected(order.status)
        if decision.action == domain.SAME:
            return
        if decision.action == domain.PARK:
            if decision.alert:
                log.error(
                    "payments: ALERTA operadores: respuesta del núcleo a %s apartada: %s",
                    data["request_id"],
                    decision.reason,
                )
            raise Refused(decision.reason or "", inbound.KIND_CONFLICT)
        now = self.clock.utcnow()
        if completed:
            store.move_status(
                self.db,
                order.id,
                order.status,
                domain.COMPLETADA,
                core_reference=data["core_reference"],
                answered_at=now,
                answer_event_id=event["event_id"],
                updated_at=now,
            )
            alert = "dinero_movido_tras_rechazo" if decision.alert else None
            if alert:
                log.error("payments: ALERTA operadores: %s completada tras un rechazo", order.id)
            self._emit("order_completed", known(store.order(self.db, order.id)), alert=alert)
            return
        store.move_status(
            self.db,
            order.id,
            order.status,
            domain.RECHAZADA,
            reason_code=data["reason_code"],
            reason=data["reason"],
            answered_at=now,
            answer_event_id=event["event_id"],
            updated_at=now,
        )
        self._emit("order_rejected", known(store.order(self.db, order.id)))

    def on_movement_posted(self, payload: dict[str, Any]) -> None:
        """accounts.request_movement_posted for the request_id of a rejected order: money moved
        wins, the order becomes completada and operators are alerted."""
        data = MOVEMENT.load(payload.get("data") or {})
        if not data.get("request_id"):
            return
        order = store.order_by_request(self.db, data["request_id"])
        if order is None or data["account_number"] != order.from_account or not data["debit"]:
            return
        if order.status != domain.RECHAZADA:
            return  # request_completed says it (or said it already)
        now = self.clock.utcnow()
        if store.move_status(
            self.db,
            order.id,
            domain.RECHAZADA,
            domain.COMPLETADA,
            core_reference=data.get("reference"),
            answered_at=now,
            updated_at=now,
        ):
            log.error("payments: ALERTA operadores: %s completada tras un rechazo", order.id)
            self._emit(
                "order_completed",
                known(store.order(self.db, order.id)),
                alert="dinero_movido_tras_rechazo",
            )

    # --- operators ---------------------------------------------------------------------------

    def pending_requests(self) -> dict[str, Any]:
        rows = store.orders_in(self.db, domain.AWAITING_CORE, limit=1000)
        return {
            "requests": PENDING.dump(
                [
                    {
                        **{
                            c: getattr(o, c)
                            for c in (
                                "id",
                                "request_id",
                                "request_type",
                                "member_number",
                                "from_account",
                                "amount",
                                "status",
                                "sent_at",
                                "valid_until",
                            )
                        },
                        "to_account_masked": domain.mask_account(o.to_account),
                    }
                    for o in rows
                ]
            )
        }

    def resolve(self, **kwargs: Any) -> dict[str, Any]:
        """An operator's resolution of a request the core never answered, with the core's word,
        after its valid_until (audited through `payments.order_resolved`)."""
        data = load_or_raise(ResolveSchema(), kwargs)
        order = store.order(self.db, data["order_id"]) or store.order_by_request(
            self.db, data["order_id"]
        )
        if order is None:
            raise NotFound(ORDER_NOT_FOUND)
        if order.status not in domain.AWAITING_CORE:
            raise Conflict(NOT_AWAITING.format(status=order.status))
        valid_until = known(order.valid_until)  # set when it was sent
        if self.clock.utcnow() < valid_until:
            raise Conflict(RESOLVE_TOO_EARLY.format(until=valid_until.isoformat()))
        # the hold ends with the operator's word (asked before any write of this worker)
        self.accounts.release_hold(order.request_id, "resuelta")
        store.lock_order(self.db, order.id)
        self.db.refresh(order)
        if order.status not in domain.AWAITING_CORE:  # the core answered meanwhile
            raise Conflict(NOT_AWAITING.format(status=order.status))
        new = domain.COMPLETADA if data["outcome"] == "completed" else domain.RECHAZADA
        now = self.clock.utcnow()
        store.move_status(
            self.db,
            order.id,
            order.status,
            new,
            reason_code=None if new == domain.COMPLETADA else "otro",
            reason=None if new == domain.COMPLETADA else "Resuelta por la cooperativa.",
            resolved_by=data["operator"],
            answered_at=now,
            updated_at=now,
        )
        resolved = known(store.order(self.db, order.id))
        self._emit("order_resolved", resolved, alert=f"resuelta por {data['operator']}")
        return view_of(resolved)


# The core's events payments applies (queue `core.payments`): the binding and the dispatch.

# The core's events payments applies (queue `core.payments`): the binding and the dispatch.
HANDLERS = HandlerTable(
    {
        "request_completed": FromCoreUseCases.on_core_event,
        "request_rejected": FromCoreUseCases.on_core_event,
    }
)
