"""Beneficiaries: another member's account the member transfers to, added with its second
factor (at most BENEFICIARY_ATTEMPTS_PER_DAY attempts a day), listed and deleted."""

import uuid
from typing import Any

from services.common.db import commit
from services.common.errors import Conflict, NotFound, RateLimited, ValidationError
from services.common.schemas import load_or_raise
from services.payments import domain, store
from services.payments.contracts import BeneficiarySchema, ConfirmSchema, CreateBeneficiarySchema
from services.payments.models import Beneficiary
from services.payments.usecases.base import WRONG_CODE, known
from services.payments.usecases.idempotency import IdempotentCreations
from services.payments.usecases.saga import SagaSteps
from services.payments.usecases.views import confirmation_view

BENEFICIARY = BeneficiarySchema()
BENEFICIARY_MISMATCH = (
    "No encontramos una cuenta de ahorros de otro socio con ese número e identificación."
)
BENEFICIARY_ATTEMPTS = (
    "Alcanzó el máximo de {count} intentos de registrar un beneficiario por día. "
    "Intente de nuevo mañana."
)


class BeneficiariesUseCases(SagaSteps, IdempotentCreations):
    """On the saga's steps: a deleted beneficiary's orders still unconfirmed are cancelled."""

    def list_beneficiaries(self, member_number: str) -> dict[str, Any]:
        return {
            "beneficiaries": [
                self._beneficiary_view(b) for b in store.beneficiaries(self.db, member_number)
            ]
        }

    @staticmethod
    def _beneficiary_view(beneficiary: Beneficiary) -> dict[str, Any]:
        return BENEFICIARY.dump(
            {
                "id": beneficiary.id,
                "alias": beneficiary.alias,
                "account_number_masked": domain.mask_account(beneficiary.account_number),
                "holder_name_masked": beneficiary.holder_name_masked,
                "status": beneficiary.status,
                "created_at": beneficiary.created_at,
            }
        )

    @staticmethod
    def _beneficiary_digest(beneficiary: Beneficiary) -> str:
        return domain.order_digest(
            domain.BENEFICIARY, domain.ZERO, beneficiary.member_number, beneficiary.account_number
        )

    def add_beneficiary(self, idempotency_key: object = None, **kwargs: Any) -> dict[str, Any]:
        """Another member's account, `por_confirmar` with its second-factor challenge; `activo`
        once confirmed (confirm_beneficiary)."""
        return self.once_per_key(
            kwargs.get("member_number"),
            idempotency_key,
            "beneficiary",
            kwargs,
            lambda: self._add_beneficiary(kwargs),
            "beneficiary_id",
        )

    def _add_beneficiary(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        data = load_or_raise(CreateBeneficiarySchema(), kwargs)
        self._count_beneficiary_attempt(data["member_number"])
        found = self.accounts.transfer_destination(data["account_number"], data["identification"])
        if not found or found["member_number"] == data["member_number"]:
            raise ValidationError(fields={"account_number": [BENEFICIARY_MISMATCH]})
        beneficiary = Beneficiary(
            id=str(uuid.uuid4()),
            member_number=data["member_number"],
            alias=data["alias"],
            account_number=data["account_number"],
            holder_member_number=found["member_number"],
            holder_name_masked=found["holder_name_masked"],
            status=domain.POR_CONFIRMAR,
            created_at=self.clock.utcnow(),
        )
        challenge = self.confirmation.start(
            beneficiary.member_number,
            beneficiary.id,
            self._beneficiary_digest(beneficiary),
            {
                "kind": domain.BENEFICIARY,
                "amount": "0.00",
                "to_account_masked": domain.mask_account(beneficiary.account_number),
            },
        )
        beneficiary.challenge_id = challenge["challenge_id"]
        self.db.add(beneficiary)
        self.db.flush()
        return {
            **self._beneficiary_view(beneficiary),
            "confirmation": confirmation_view(challenge),
        }

    def _count_beneficiary_attempt(self, member_number: str) -> None:
        """At most BENEFICIARY_ATTEMPTS_PER_DAY attempts per Ecuador day, counted before the
        pair is checked and committed at once: a failed attempt counts too."""
        now = self.clock.now()
        attempts = store.count_beneficiary_attempt(self.db, member_number, domain.ecuador_day(now))
        commit(self.db)
        if attempts > domain.BENEFICIARY_ATTEMPTS_PER_DAY:
            raise RateLimited(
                BENEFICIARY_ATTEMPTS.format(count=domain.BENEFICIARY_ATTEMPTS_PER_DAY),
                retry_after=domain.seconds_to_next_day(now),
            )

    def confirm_beneficiary(
        self, member_number: object, beneficiary_id: object, method: object, code: object
    ) -> dict[str, Any]:
        data = load_or_raise(
            ConfirmSchema(),
            {
                "member_number": member_number,
                "order_id": beneficiary_id,
                "method": method,
                "code": code,
            },
        )
        beneficiary = store.beneficiary(self.db, data["member_number"], data["order_id"])
        if beneficiary is None:
            raise NotFound("El beneficiario no existe.")
        if beneficiary.status != domain.POR_CONFIRMAR:
            raise Conflict("El beneficiario ya no está por confirmar.")
        digest = self._beneficiary_digest(beneficiary)
        if not self.confirmation.verify(
            beneficiary.challenge_id, digest, data["method"], data["code"]
        ):
            raise ValidationError(fields={"code": [WRONG_CODE]})
        if not store.activate_beneficiary(self.db, beneficiary.id, self.clock.utcnow()):
            raise Conflict("El beneficiario ya no está por confirmar.")
        beneficiary = known(store.beneficiary(self.db, data["member_number"], data["order_id"]))
        self.events.emit(
            "beneficiary_added",
            {
                "beneficiary_id": beneficiary.id,
                "member_number": beneficiary.member_number,
                "alias": beneficiary.alias,
                "account_number_masked": domain.mask_account(beneficiary.account_number),
                "confirmed_with": data["method"],
            },
        )
        return self._beneficiary_view(beneficiary)

    def delete_beneficiary(self, member_number: str, beneficiary_id: str) -> None:
        """The beneficiary leaves the list; its orders still `por_confirmar` become `anulada`."""
        beneficiary = store.beneficiary(self.db, member_number, beneficiary_id)
        if beneficiary is None or beneficiary.status == "eliminado":
            raise NotFound("El beneficiario no existe.")
        beneficiary.status = "eliminado"
        for order in store.pending_orders_to(self.db, beneficiary.id):
            self._cancel(order, "Se eliminó el beneficiario.")
