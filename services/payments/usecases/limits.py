"""The member's transfer limits: read them, lower them at once, raise them with a confirmed
change (its second factor), and what the member has used today."""

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from services.common.db import commit
from services.common.errors import Conflict, NotFound, ValidationError
from services.common.schemas import load_or_raise
from services.payments import domain, store
from services.payments.contracts import (
    ConfirmSchema,
    LimitChangeSchema,
    LimitsSchema,
    LimitsViewSchema,
)
from services.payments.models import LimitChange, MemberLimits
from services.payments.usecases.base import WRONG_CODE, UseCasesBase, as_utc, known
from services.payments.usecases.views import confirmation_view

LIMITS_VIEW = LimitsViewSchema()
LIMIT_CHANGE = LimitChangeSchema()
CHANGE_NOT_FOUND = "El cambio de límites no existe."
CHANGE_NOT_PENDING = "El cambio de límites ya no está por confirmar."
CHANGE_EXPIRED = (
    "El cambio de límites venció: no se confirmó en {minutes} minutos. Pídalo de nuevo."
)


class LimitsUseCases(UseCasesBase):
    """The member's limits; `_limits` and `_used_today` are what an order is checked against."""

    def _limits(self, member_number: str) -> domain.Limits:
        chosen = store.limits(self.db, member_number)
        cooperative = self.settings.cooperative_limits
        return domain.effective_limits(
            domain.Limits(chosen.per_transfer, chosen.daily_to_others) if chosen else None,
            cooperative,
        )

    def _used_today(self, member_number: str, day: date) -> Decimal:
        return domain.used_today(store.day_orders(self.db, member_number, day), day)

    def get_limits(self, member_number: str) -> dict[str, Any]:
        limits = self._limits(member_number)
        day = domain.ecuador_day(self.clock.now())
        cooperative = self.settings.cooperative_limits
        return LIMITS_VIEW.dump(
            {
                "per_transfer": limits.per_transfer,
                "daily_to_others": limits.daily_to_others,
                "used_today": self._used_today(member_number, day),
                "cooperative_max": {
                    "per_transfer": cooperative.per_transfer,
                    "daily_to_others": cooperative.daily_to_others,
                },
            }
        )

    def _requested_limits(self, per_transfer: object, daily_to_others: object) -> domain.Limits:
        """The limits the member asked for, read and checked against the cooperative's maximum."""
        data = load_or_raise(
            LimitsSchema(), {"per_transfer": per_transfer, "daily_to_others": daily_to_others}
        )
        requested = domain.Limits(data["per_transfer"], data["daily_to_others"])
        errors = domain.limits_errors(requested, self.settings.cooperative_limits)
        if errors:
            raise ValidationError(fields={"limits": errors})
        return requested

    def lower_limits(
        self, member_number: str, per_transfer: object, daily_to_others: object
    ) -> dict[str, Any]:
        """Lowering takes effect at once; raising is a change confirmed with the second factor
        (change_limits)."""
        requested = self._requested_limits(per_transfer, daily_to_others)
        current = self._limits(member_number)
        if (
            requested.per_transfer > current.per_transfer
            or requested.daily_to_others > current.daily_to_others
        ):
            raise ValidationError(
                fields={
                    "limits": [
                        "Aquí solo puede bajar sus límites: subirlos se confirma con su "
                        "código desde la aplicación del portal."
                    ]
                }
            )
        row = store.limits(self.db, member_number)
        if row is None:
            row = MemberLimits(member_number=member_number)
            self.db.add(row)
        row.per_transfer = requested.per_transfer
        row.daily_to_others = requested.daily_to_others
        row.updated_at = self.clock.utcnow()
        self.events.emit(
            "limits_lowered",
            {
                "member_number": member_number,
                "per_transfer": f"{requested.per_transfer:.2f}",
                "daily_to_others": f"{requested.daily_to_others:.2f}",
            },
        )
        return self.get_limits(member_number)

    def change_limits(
        self, member_number: str, per_transfer: object, daily_to_others: object
    ) -> dict[str, Any]:
        """Lowering takes effect at once (the limits view); raising (up to the cooperative's
        maximum) is a change `por_confirmar` with its second-factor challenge, in effect once
        confirmed (confirm_limit_change)."""
        requested = self._requested_limits(per_transfer, daily_to_others)
        if not domain.raises(requested, self._limits(member_number)):
            return self.lower_limits(member_number, per_transfer, daily_to_others)
        change = LimitChange(
            id=str(uuid.uuid4()),
            member_number=member_number,
            per_transfer=requested.per_transfer,
            daily_to_others=requested.daily_to_others,
            status=domain.POR_CONFIRMAR,
            digest=domain.limits_digest(member_number, requested),
            created_at=self.clock.utcnow(),
        )
        challenge = self.confirmation.start(
            member_number,
            change.id,
            change.digest,
            {"kind": domain.LIMITS, "amount": f"{requested.daily_to_others:.2f}"},
        )
        change.challenge_id = challenge["challenge_id"]
        self.db.add(change)
        self.db.flush()
        return {
            **LIMIT_CHANGE.dump(change),
            "confirmation": confirmation_view(challenge),
        }

    def get_limit_change(self, member_number: str, change_id: str) -> dict[str, Any]:
        change = store.limit_change(self.db, member_number, change_id)
        if change is None:
            raise NotFound(CHANGE_NOT_FOUND)
        return LIMIT_CHANGE.dump(change)

    def confirm_limit_change(
        self, member_number: object, change_id: object, method: object, code: object
    ) -> dict[str, Any]:
        """The member's code: the raised limits take effect now (`limits_raised`, audited, and
        the member is told)."""
        data = load_or_raise(
            ConfirmSchema(),
            {"member_number": member_number, "order_id": change_id, "method": method, "code": code},
        )
        change = store.limit_change(self.db, data["member_number"], data["order_id"])
        if change is None:
            raise NotFound(CHANGE_NOT_FOUND)
        if change.status != domain.POR_CONFIRMAR:
            raise Conflict(CHANGE_NOT_PENDING)
        now = self.clock.now()
        if domain.confirmation_expired(
            as_utc(change.created_at), now, self.settings.confirm_minutes
        ):
            store.move_limit_change(self.db, change.id, domain.ANULADA)
            commit(self.db)
            raise Conflict(CHANGE_EXPIRED.format(minutes=int(self.settings.confirm_minutes)))
        if not self.confirmation.verify(
            change.challenge_id, change.digest, data["method"], data["code"]
        ):
            raise ValidationError(fields={"code": [WRONG_CODE]})
        naive = now.replace(tzinfo=None)
        if not store.move_limit_change(
            self.db, change.id, domain.CONFIRMADA, confirmed_at=naive, confirmed_with=data["method"]
        ):
            raise Conflict(CHANGE_NOT_PENDING)
        change = known(store.limit_change(self.db, data["member_number"], data["order_id"]))
        row = store.limits(self.db, change.member_number)
        if row is None:
            row = MemberLimits(member_number=change.member_number)
            self.db.add(row)
        row.per_transfer = change.per_transfer
        row.daily_to_others = change.daily_to_others
        row.updated_at = naive
        self.events.emit(
            "limits_raised",
            {
                "change_id": change.id,
                "member_number": change.member_number,
                "per_transfer": f"{change.per_transfer:.2f}",
                "daily_to_others": f"{change.daily_to_others:.2f}",
                "confirmed_with": data["method"],
                "confirmed_at": domain.iso_z(now),
            },
        )
        return {**LIMIT_CHANGE.dump(change), "limits": self.get_limits(change.member_number)}
