"""Money-moving orders of the member: transfers and loan payments, created with their
second-factor challenge (once per Idempotency-Key), confirmed with the member's code (the saga,
saga.py), listed and shown; and an order's evidence for operators."""

import json
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from services.common.db import commit
from services.common.errors import Conflict, NotFound, QuoteChanged, ValidationError
from services.common.schemas import load_or_raise
from services.payments import domain, store
from services.payments.contracts import (
    ConfirmSchema,
    CreateLoanPaymentSchema,
    CreateTransferSchema,
    EvidenceSchema,
)
from services.payments.models import Order
from services.payments.usecases.base import ORDER_NOT_FOUND, WRONG_CODE, as_utc, known
from services.payments.usecases.idempotency import IdempotentCreations
from services.payments.usecases.saga import NOT_PENDING, SagaSteps
from services.payments.usecases.views import (
    TRANSFER,
    confirmation_view,
    evidence_of,
    order_timeline,
    order_view,
    view_of,
)

EXPIRED = "La orden venció: no se confirmó en {minutes} minutos. Ingrésela de nuevo."
DEBIT_ONLY_VISTA = "Solo se puede debitar una cuenta de ahorro a la vista."
NO_CREDIT_CERTIFICADOS = "Los certificados de aportación no reciben transferencias."
SAME_ACCOUNT = "La cuenta de destino debe ser distinta de la de origen."
NO_DESTINATION = "Indique la cuenta de destino o un beneficiario."
NOT_YOUR_ACCOUNT = "La cuenta no existe."
BENEFICIARY_NOT_ACTIVE = "El beneficiario no está activo."
FUNDS = "Fondos insuficientes: el saldo disponible de la cuenta no alcanza."
PAYMENT_UNDER_WAY = (
    "Ya hay un pago de este crédito en curso: espere su resultado en Transferencias antes de "
    "ordenar otro."
)
QUOTE_REPLACED = "Se ingresó un pago nuevo del mismo crédito."
QUOTE_MOVED = "El valor a pagar cambió antes de la confirmación."
# a loan payment's open states: one per loan at a time
PAYMENT_OPEN = (domain.CONFIRMANDO, *domain.AWAITING_CORE)


class OrdersUseCases(SagaSteps, IdempotentCreations):
    """Each creation once per Idempotency-Key; a confirmation runs the saga's steps."""

    # --- transfers ---------------------------------------------------------------------------

    def create_transfer(self, idempotency_key: object = None, **kwargs: Any) -> dict[str, Any]:
        """A transfer `por_confirmar`, with its second-factor challenge (201 in the gateway).
        Funds and limits are checked now and again at confirmation."""
        return self.once_per_key(
            kwargs.get("member_number"),
            idempotency_key,
            domain.TRANSFER,
            kwargs,
            lambda: self._create_transfer(kwargs),
            "transfer_id",
        )

    def _create_transfer(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        data = load_or_raise(CreateTransferSchema(), kwargs)
        member = data["member_number"]
        amount = data["amount"]
        problems = domain.amount_errors(amount)
        if problems:
            raise ValidationError(fields={"amount": problems})
        accounts = {a["account_number"]: a for a in self.accounts.list_accounts(member)}
        source = accounts.get(data["from_account"])
        if source is None:
            raise NotFound(NOT_YOUR_ACCOUNT)
        if source["product"] != "AHORRO_VISTA":
            raise ValidationError(fields={"from_account": [DEBIT_ONLY_VISTA]})
        if data["beneficiary_id"]:
            beneficiary = store.beneficiary(self.db, member, data["beneficiary_id"])
            if beneficiary is None:
                raise NotFound("El beneficiario no existe.")
            if beneficiary.status != "activo":
                raise ValidationError(fields={"beneficiary_id": [BENEFICIARY_NOT_ACTIVE]})
            kind, to_account, to_member = (
                domain.KIND_MEMBER,
                beneficiary.account_number,
                beneficiary.holder_member_number,
            )
        elif data["to_account"]:
            target = accounts.get(data["to_account"])
            if target is None:
                raise NotFound(NOT_YOUR_ACCOUNT)
            if target["product"] == "CERTIFICADOS":
                raise ValidationError(fields={"to_account": [NO_CREDIT_CERTIFICADOS]})
            kind, to_account, to_member = domain.KIND_OWN, data["to_account"], member
        else:
            raise ValidationError(fields={"to_account": [NO_DESTINATION]})
        if to_account == data["from_account"]:
            raise ValidationError(fields={"to_account": [SAME_ACCOUNT]})
        if amount > Decimal(source["available_balance"]):
            raise ValidationError(fields={"amount": [FUNDS]})
        now = self.clock.utcnow()
        refusal = domain.limit_refusal(
            kind,
            amount,
            self._limits(member),
            self._used_today(member, domain.ecuador_day(self.clock.now())),
        )
        if refusal:
            raise ValidationError(fields={"amount": [refusal]})
        digest = domain.order_digest(kind, amount, data["from_account"], to_account)
        evidence = {
            "created": domain.where_from(
                self.clock.now(),
                data["session_id"],
                data["client_ip"],
                data["user_agent"],
                data["channel"],
            ),
            "shown": domain.shown(
                kind, amount, data["from_account"], to_account, data["description"], digest
            ),
        }
        order = Order(
            id=str(uuid.uuid4()),
            request_id=str(uuid.uuid4()),
            request_type=domain.TRANSFER,
            member_number=member,
            kind=kind,
            from_account=data["from_account"],
            to_account=to_account,
            to_member_number=to_member,
            beneficiary_id=data["beneficiary_id"],
            amount=amount,
            description=data["description"],
            status=domain.POR_CONFIRMAR,
            digest=digest,
            evidence=json.dumps(evidence, ensure_ascii=False),
            client_ip=data["client_ip"],
            session_id=data["session_id"],
            created_at=now,
            updated_at=now,
        )
        # the challenge first: without a second factor nothing is recorded
        challenge = self.confirmation.start(
            member,
            order.id,
            order.digest,
            {
                "kind": kind,
                "amount": f"{amount:.2f}",
                "from_account": data["from_account"],
                "to_account_masked": domain.mask_account(to_account),
            },
        )
        order.challenge_id = challenge["challenge_id"]
        self.db.add(order)
        self.db.flush()
        self._emit("order_created", order)
        return {
            **TRANSFER.dump(order_view(order)),
            "confirmation": confirmation_view(challenge),
        }

    def list_transfers(
        self, member_number: str, request_type: str | None = domain.TRANSFER
    ) -> dict[str, Any]:
        """The member's orders of one kind (None: every kind, as the pages' history shows
        them, each in the transfer's shape), newest first."""
        orders = store.member_orders(self.db, member_number)
        if request_type is None:
            return {"transfers": [TRANSFER.dump(order_view(o)) for o in orders]}
        chosen = [o for o in orders if o.request_type == request_type]
        if request_type == domain.LOAN_PAYMENT:
            return {"payments": [view_of(o) for o in chosen]}
        return {"transfers": [view_of(o) for o in chosen]}

    def _member_order(self, member_number: str, order_id: str, request_type: str | None) -> Order:
        order = store.member_order(self.db, member_number, order_id)
        if order is None or request_type not in (None, order.request_type):
            raise NotFound(ORDER_NOT_FOUND)
        return order

    def get_transfer(
        self, member_number: str, order_id: str, request_type: str | None = domain.TRANSFER
    ) -> dict[str, Any]:
        """One order of the member; request_type None: any kind, in the transfer's shape."""
        order = self._member_order(member_number, order_id, request_type)
        return TRANSFER.dump(order_view(order)) if request_type is None else view_of(order)

    def confirm(
        self,
        request_type: str | None = None,
        client_ip: str | None = None,
        session_id: str | None = None,
        user_agent: str | None = None,
        channel: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The member's code, then the saga: (1) limits re-checked under the lock of the member's
        daily counter and `confirmando`; (2) the hold; (3) `enviada` with its request.
        A loan payment's quote is asked again first: moved, the order is void (409
        `quote_changed`) and the code is not spent. Where the confirmation came from joins the
        order's evidence in step 1."""
        data = load_or_raise(ConfirmSchema(), kwargs)
        where = (session_id, client_ip, user_agent, channel)
        order = self._member_order(data["member_number"], data["order_id"], request_type)
        if order.status != domain.POR_CONFIRMAR:
            raise Conflict(NOT_PENDING)
        now = self.clock.now()
        if domain.confirmation_expired(
            as_utc(order.created_at), now, self.settings.confirm_minutes
        ):
            self._cancel(order)
            commit(self.db)
            raise Conflict(EXPIRED.format(minutes=int(self.settings.confirm_minutes)))
        if order.request_type == domain.LOAN_PAYMENT:
            self._check_quote_unchanged(order)
        if not self.confirmation.verify(
            order.challenge_id, order.digest, data["method"], data["code"]
        ):
            raise ValidationError(fields={"code": [WRONG_CODE]})
        self._mark_confirming(order.id, data["method"], where)
        self._hold_and_send(known(store.order(self.db, order.id)))
        order = known(store.order(self.db, order.id))
        return view_of(order) if request_type else TRANSFER.dump(order_view(order))

    # --- loan payments -----------------------------------------------------------------------

    def _quote(self, member_number: str, loan_number: str) -> tuple[dict[str, Any], domain.Quote]:
        """Credit's quote of the member's loan (another member's loan: not found)."""
        quote = self.credit.loan_payment_quote(member_number, loan_number)
        return quote, domain.Quote(
            tuple(quote["installment_numbers"]),
            Decimal(quote["amount"]),
            quote["as_of"] and date.fromisoformat(quote["as_of"]),
        )

    def _check_quote_unchanged(self, order: Order) -> None:
        _, now_quoted = self._quote(order.member_number, known(order.loan_number))
        confirmed = domain.Quote(
            domain.numbers_of(order.installment_numbers), order.amount, order.quote_as_of
        )
        if now_quoted != confirmed:
            self._cancel(order, QUOTE_MOVED)
            commit(self.db)
            raise QuoteChanged()

    def create_loan_payment(self, idempotency_key: object = None, **kwargs: Any) -> dict[str, Any]:
        """A loan payment `por_confirmar` for the quote the member saw: its installments, amount
        and the core's date must be credit's quote now (else 409 `quote_changed`). Paid from
        the member's AHORRO_VISTA with funds for it; no limit counts. One open payment per loan:
        an earlier one still unconfirmed is void, one confirmed and unanswered is a 409.
        Once per `Idempotency-Key` like every creation."""
        return self.once_per_key(
            kwargs.get("member_number"),
            idempotency_key,
            domain.LOAN_PAYMENT,
            kwargs,
            lambda: self._create_loan_payment(kwargs),
            "payment_id",
        )

    def _create_loan_payment(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        data = load_or_raise(CreateLoanPaymentSchema(), kwargs)
        member, loan_number = data["member_number"], data["loan_number"]
        problems = domain.amount_errors(data["amount"])
        if problems:
            raise ValidationError(fields={"amount": problems})
        quote, quoted = self._quote(member, loan_number)
        seen = domain.Quote(
            tuple(data["installment_numbers"]), data["amount"], data["as_of"] or None
        )
        if seen != quoted:
            raise QuoteChanged()
        source = next(
            (
                a
                for a in self.accounts.list_accounts(member)
                if a["account_number"] == data["from_account"]
            ),
            None,
        )
        if source is None:
            raise NotFound(NOT_YOUR_ACCOUNT)
        if source["product"] != "AHORRO_VISTA":
            raise ValidationError(fields={"from_account": [DEBIT_ONLY_VISTA]})
        if quoted.amount > Decimal(source["available_balance"]):
            raise ValidationError(fields={"amount": [FUNDS]})
        for earlier in store.loan_orders(self.db, loan_number):
            if earlier.status in PAYMENT_OPEN:
                raise Conflict(PAYMENT_UNDER_WAY)
            if earlier.status == domain.POR_CONFIRMAR:
                self._cancel(earlier, QUOTE_REPLACED)
        now = self.clock.utcnow()
        destination = domain.loan_destination(loan_number, quoted)
        digest = domain.order_digest(
            domain.LOAN_PAYMENT, quoted.amount, data["from_account"], destination
        )
        shown = domain.shown(
            domain.LOAN_PAYMENT, quoted.amount, data["from_account"], loan_number, "", digest
        )
        shown["to_account_masked"] = f"Crédito {loan_number}"  # the member's own loan
        shown["installment_numbers"] = list(quoted.installment_numbers)
        evidence = {
            "created": domain.where_from(
                self.clock.now(),
                data["session_id"],
                data["client_ip"],
                data["user_agent"],
                data["channel"],
            ),
            "shown": shown,
        }
        order = Order(
            id=str(uuid.uuid4()),
            request_id=str(uuid.uuid4()),
            request_type=domain.LOAN_PAYMENT,
            member_number=member,
            kind=domain.LOAN_PAYMENT,
            from_account=data["from_account"],
            to_account=loan_number,
            to_member_number=member,
            amount=quoted.amount,
            description="",
            status=domain.POR_CONFIRMAR,
            digest=digest,
            evidence=json.dumps(evidence, ensure_ascii=False),
            client_ip=data["client_ip"],
            session_id=data["session_id"],
            created_at=now,
            updated_at=now,
            loan_number=loan_number,
            installment_numbers=domain.numbers_text(quoted.installment_numbers),
            quote_as_of=quoted.as_of,
            installments_amount=Decimal(quote["installments_amount"]),
            late_interest=Decimal(quote["late_interest"]),
            other_charges=Decimal(quote["other_charges"]),
        )
        challenge = self.confirmation.start(
            member,
            order.id,
            order.digest,
            {
                "kind": domain.LOAN_PAYMENT,
                "amount": f"{quoted.amount:.2f}",
                "from_account": data["from_account"],
                "to_account_masked": f"Crédito {loan_number}",
            },
        )
        order.challenge_id = challenge["challenge_id"]
        self.db.add(order)
        self.db.flush()
        self._emit("order_created", order)
        return {
            **view_of(order),
            "confirmation": confirmation_view(challenge),
        }

    # --- operators ---------------------------------------------------------------------------

    def order_evidence(self, order_id: str) -> dict[str, Any]:
        """An order's evidence for operators (by its id or request_id): docs/operations.md."""
        order = store.order(self.db, order_id) or store.order_by_request(self.db, order_id)
        if order is None:
            raise NotFound(ORDER_NOT_FOUND)
        evidence = evidence_of(order)
        return EvidenceSchema().dump(
            {
                **{
                    c: getattr(order, c)
                    for c in (
                        "id",
                        "request_id",
                        "request_type",
                        "member_number",
                        "status",
                        "reason_code",
                        "reason",
                        "core_reference",
                        "confirmed_with",
                        "resolved_by",
                    )
                },
                "created": evidence.get("created"),
                "confirmed": evidence.get("confirmed"),
                "shown": evidence.get("shown"),
                "timeline": order_timeline(order),
            }
        )
