"""The steps of a confirmed order, each a local transaction committed before the next and each
idempotent by the order's request_id (docs/payments.md): (1) `confirmando` with the limits
re-checked, (2) the hold, (3) `enviada` with its request to the core; and an order's cancel and
its events. The confirmation runs them; the sweeper finishes what a crash left."""

import json

from services.common.db import commit
from services.common.errors import Conflict, NotFound, ServiceUnavailable, ValidationError
from services.payments import domain, store
from services.payments.contracts import OrderEventSchema
from services.payments.models import Order
from services.payments.usecases.base import known, log
from services.payments.usecases.limits import LimitsUseCases
from services.payments.usecases.views import evidence_of, request_data

ORDER_EVENT = OrderEventSchema()
NOT_PENDING = "La orden ya no está por confirmar."


class SagaSteps(LimitsUseCases):
    """On limits: step 1 checks them again under the lock of the member's daily counter."""

    def _mark_confirming(
        self,
        order_id: str,
        method: str,
        where: tuple[str | None, str | None, str | None, str | None] = (None, None, None, None),
    ) -> None:
        """Step 1, its own transaction."""
        order = known(store.order(self.db, order_id))
        now = self.clock.now()
        evidence = evidence_of(order)
        evidence["confirmed"] = {**domain.where_from(now, *where), "method": method}
        day = domain.ecuador_day(now)
        store.lock_daily_counter(self.db, order.member_number, day)
        refusal = domain.limit_refusal(
            order.kind,
            order.amount,
            self._limits(order.member_number),
            self._used_today(order.member_number, day),
        )
        if refusal:
            raise ValidationError(fields={"amount": [refusal]})
        moved = store.move_status(
            self.db,
            order_id,
            domain.POR_CONFIRMAR,
            domain.CONFIRMANDO,
            confirmed_at=now.replace(tzinfo=None),
            confirmed_day=day,
            confirmed_with=method,
            evidence=json.dumps(evidence, ensure_ascii=False),
            updated_at=now.replace(tzinfo=None),
        )
        if not moved:  # another confirmation of the same order took effect first
            self.db.rollback()
            raise Conflict(NOT_PENDING)
        commit(self.db)

    def _hold_and_send(self, order: Order) -> None:
        """Steps 2 and 3 for an order `confirmando` (the confirmation, or the sweeper after a
        crash): the hold, idempotent by request_id, then `enviada` and the request together."""
        try:
            hold = self.accounts.take_hold(
                order.request_id, order.from_account, order.member_number, f"{order.amount:.2f}"
            )
        except ServiceUnavailable:
            log.warning("payments: hold of %s not taken yet; the sweeper retries", order.id)
            return
        except NotFound:  # the account left the member (closed, moved): nothing can be held
            hold = {
                "status": "refused",
                "reason_code": "cuenta_no_disponible",
                "reason": "La cuenta de origen no está disponible.",
            }
        now = self.clock.utcnow()
        if hold["status"] == "refused":
            if store.move_status(
                self.db,
                order.id,
                domain.CONFIRMANDO,
                domain.RECHAZADA,
                reason_code=hold["reason_code"],
                reason=hold["reason"],
                answered_at=now,
                updated_at=now,
            ):  # its limit use is given back: rechazada does not count
                self._emit("order_rejected", known(store.order(self.db, order.id)))
            commit(self.db)
            return
        requested_at = self.clock.now()
        message = domain.request_envelope(
            order.request_id,
            order.request_type,
            request_data(order),
            requested_at,
            self.settings.valid_hours,
        )
        if store.move_status(
            self.db,
            order.id,
            domain.CONFIRMANDO,
            domain.ENVIADA,
            sent_at=now,
            last_sent_at=now,
            valid_until=domain.valid_until(requested_at, self.settings.valid_hours).replace(
                tzinfo=None
            ),
            request_payload=json.dumps(message, ensure_ascii=False),
            updated_at=now,
        ):
            self.requests.enqueue(order.request_type, message)
            self._emit("order_sent", known(store.order(self.db, order.id)))
        commit(self.db)

    def _cancel(self, order: Order, reason: str = "No se confirmó a tiempo.") -> None:
        now = self.clock.utcnow()
        if store.move_status(
            self.db,
            order.id,
            domain.POR_CONFIRMAR,
            domain.ANULADA,
            reason=reason,
            cancelled_at=now,
            updated_at=now,
        ):
            self._emit("order_cancelled", known(store.order(self.db, order.id)))

    def _emit(self, event_type: str, order: Order, alert: str | None = None) -> None:
        self.events.emit(
            event_type,
            ORDER_EVENT.dump(
                {
                    "order_id": order.id,
                    "request_id": order.request_id,
                    "request_type": order.request_type,
                    "member_number": order.member_number,
                    "kind": order.kind,
                    "from_account": order.from_account,
                    "to_account_masked": domain.mask_account(order.to_account),
                    "amount": order.amount,
                    "status": order.status,
                    "reason_code": order.reason_code,
                    "reason": order.reason,
                    "confirmed_with": order.confirmed_with,
                    "alert": alert,
                    "core_reference": order.core_reference,
                    "created_at": order.created_at,
                    "confirmed_at": order.confirmed_at,
                    "sent_at": order.sent_at,
                    "late_at": order.late_at,
                    "answered_at": order.answered_at,
                    "cancelled_at": order.cancelled_at,
                    "evidence": evidence_of(order),
                }
            ),
        )
