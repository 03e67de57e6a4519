"""payments' use cases: transfers, their confirmation saga, the requests to the core and its
answers, limits, beneficiaries (docs/payments.md).

The application layer between the nameko entrypoints (`service.py`) and the pure rules
(`domain.py`): it reads and writes through `store.py`, asks accounts (holds) and auth (the second
factor) over RPC, writes events and requests through outboxes, and takes "now" from the clock.
The confirmation is a saga of local transactions, each committed before the next step and each
idempotent by the order's request_id, so a crash between two is finished by the sweeper.
"""

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar, cast, overload

from nameko.exceptions import MethodNotFound, RemoteError
from sqlalchemy.orm import Session

from services.accounts.contracts import AccountsRpc
from services.auth.contracts import AuthRpc
from services.common import inbound
from services.common.clock import Clock
from services.common.config import ServiceSettings
from services.common.db import commit
from services.common.errors import (
    Conflict,
    NotFound,
    QuoteChanged,
    RateLimited,
    ServiceUnavailable,
    ValidationError,
)
from services.common.handlers import HandlerTable
from services.common.inbound import CoreEvent, Refused
from services.common.operations import Operation
from services.common.ports import Outbox, RequestQueue
from services.common.schemas import load_or_raise
from services.credit.contracts import CreditRpc
from services.payments import domain, store
from services.payments.contracts import (
    BeneficiarySchema,
    ConfirmSchema,
    CreateBeneficiarySchema,
    CreateLoanPaymentSchema,
    CreateTransferSchema,
    EvidenceSchema,
    LimitChangeSchema,
    LimitsSchema,
    LimitsViewSchema,
    LoanPaymentSchema,
    OrderEventSchema,
    PendingRequestSchema,
    ResolveSchema,
    TransferSchema,
)
from services.payments.models import (
    Beneficiary,
    LimitChange,
    MemberLimits,
    Order,
    processed_events,
)
from services.payments.schemas import (
    RequestCompletedSchema,
    RequestMovementSchema,
    RequestRejectedSchema,
)

log = logging.getLogger("services.payments")

TRANSFER = TransferSchema()
PAYMENT = LoanPaymentSchema()
ORDER_EVENT = OrderEventSchema()
PENDING = PendingRequestSchema(many=True)
LIMITS_VIEW = LimitsViewSchema()
LIMIT_CHANGE = LimitChangeSchema()
BENEFICIARY = BeneficiarySchema()
CORE_COMPLETED = RequestCompletedSchema()
CORE_REJECTED = RequestRejectedSchema()
MOVEMENT = RequestMovementSchema()
CORE_CONSUMER = "payments.on_core_event"

ORDER_NOT_FOUND = "La orden no existe."
NOT_PENDING = "La orden ya no está por confirmar."
EXPIRED = "La orden venció: no se confirmó en {minutes} minutos. Ingrésela de nuevo."
WRONG_CODE = "El código no es correcto o venció."
TFA_UNAVAILABLE = (
    "La confirmación de órdenes con segundo factor no está disponible por ahora: "
    "la orden no se registró. Intente más tarde."
)
DEBIT_ONLY_VISTA = "Solo se puede debitar una cuenta de ahorro a la vista."
NO_CREDIT_CERTIFICADOS = "Los certificados de aportación no reciben transferencias."
SAME_ACCOUNT = "La cuenta de destino debe ser distinta de la de origen."
NO_DESTINATION = "Indique la cuenta de destino o un beneficiario."
NOT_YOUR_ACCOUNT = "La cuenta no existe."
BENEFICIARY_NOT_ACTIVE = "El beneficiario no está activo."
BENEFICIARY_MISMATCH = (
    "No encontramos una cuenta de ahorros de otro socio con ese número e identificación."
)
FUNDS = "Fondos insuficientes: el saldo disponible de la cuenta no alcanza."
RESOLVE_TOO_EARLY = (
    "La solicitud aún puede ejecutarse en el núcleo (vigente hasta {until} UTC): "
    "espere su respuesta."
)
NOT_AWAITING = "La orden no espera respuesta del núcleo (estado {status})."
BENEFICIARY_ATTEMPTS = (
    "Alcanzó el máximo de {count} intentos de registrar un beneficiario por día. "
    "Intente de nuevo mañana."
)
CHANGE_NOT_FOUND = "El cambio de límites no existe."
CHANGE_NOT_PENDING = "El cambio de límites ya no está por confirmar."
CHANGE_EXPIRED = (
    "El cambio de límites venció: no se confirmó en {minutes} minutos. Pídalo de nuevo."
)
KEY_REUSED = (
    "Esta clave Idempotency-Key ya se usó con otros datos: use una clave nueva para otra orden."
)
KEY_IN_PROGRESS = (
    "Una orden con esta clave Idempotency-Key se está registrando: consulte sus órdenes en un "
    "momento."
)
# what a creation's fingerprint leaves out: who and from where, not what is ordered
NOT_IN_FINGERPRINT = ("member_number", "client_ip", "session_id", "device_id", "user_agent")
PAYMENT_UNDER_WAY = (
    "Ya hay un pago de este crédito en curso: espere su resultado en Transferencias antes de "
    "ordenar otro."
)
QUOTE_REPLACED = "Se ingresó un pago nuevo del mismo crédito."
QUOTE_MOVED = "El valor a pagar cambió antes de la confirmación."
# a loan payment's open states: one per loan at a time
PAYMENT_OPEN = (domain.CONFIRMANDO, *domain.AWAITING_CORE)


P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


def known(value: T | None) -> T:
    """A value the caller's state guarantees (an order just read or moved, a time set when the
    order entered its state): for the type checker only, nothing is checked at run time."""
    return cast(T, value)


class Settings(ServiceSettings):
    """The service's knobs (services/common/config.py, ServiceSettings)."""

    @property
    def cooperative_limits(self) -> domain.Limits:
        return domain.Limits(
            Decimal(str(self.get("TRANSFER_MAX_PER_TRANSFER", domain.TRANSFER_MAX_PER_TRANSFER))),
            Decimal(str(self.get("TRANSFER_MAX_DAILY", domain.TRANSFER_MAX_DAILY))),
        )

    @property
    def resend_seconds(self) -> float:
        return self.number("CORE_REQUEST_RESEND_SECONDS", domain.CORE_REQUEST_RESEND_SECONDS)

    @property
    def timeout_minutes(self) -> float:
        return self.number("CORE_REQUEST_TIMEOUT_MINUTES", domain.CORE_REQUEST_TIMEOUT_MINUTES)

    @property
    def valid_hours(self) -> float:
        return self.number("CORE_REQUEST_VALID_HOURS", domain.CORE_REQUEST_VALID_HOURS)

    @property
    def confirm_minutes(self) -> float:
        return self.number("ORDER_CONFIRM_MINUTES", domain.CONFIRM_MINUTES)

    @property
    def idempotency_hours(self) -> float:
        return self.number("IDEMPOTENCY_KEY_HOURS", domain.IDEMPOTENCY_KEY_HOURS)

    @property
    def retry_seconds(self) -> float:
        """How long a `confirmando` order is left to its worker before the sweeper finishes it."""
        return self.number("PAYMENTS_SAGA_RETRY_SECONDS", 10)


class OrderConfirmation:
    """The second factor of an order, asked of auth (docs/payments-auth-contract.md):
    a challenge bound to the order's digest, then the member's code checked against it.
    While auth does not offer these RPCs, no order can be created nor confirmed."""

    def __init__(self, auth: AuthRpc) -> None:
        self.auth = auth

    def _call(self, operation: Operation[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return operation(*args, **kwargs)
        except MethodNotFound:
            raise ServiceUnavailable(TFA_UNAVAILABLE, service="auth") from None
        except RemoteError as exc:
            if exc.exc_type == "MethodNotFound":
                raise ServiceUnavailable(TFA_UNAVAILABLE, service="auth") from None
            raise

    def start(
        self, member_number: str, subject_id: str, digest: str, summary: dict[str, Any]
    ) -> dict[str, Any]:
        """A challenge for an order (or a beneficiary): {challenge_id, methods, …}."""
        return self._call(
            self.auth.start_order_challenge, member_number, subject_id, digest, summary
        )

    def verify(self, challenge_id: str | None, digest: str, method: str, code: str) -> bool:
        """True only when auth says the code confirms this challenge and this digest."""
        answer = self._call(self.auth.verify_order_code, challenge_id, digest, method, code)
        return bool(isinstance(answer, dict) and answer.get("valid") is True)


@overload
def as_utc(naive: datetime) -> datetime: ...
@overload
def as_utc(naive: None) -> None: ...
def as_utc(naive: datetime | None) -> datetime | None:
    return None if naive is None else naive.replace(tzinfo=UTC)


def order_view(order: Order) -> dict[str, Any]:
    view = {
        column: getattr(order, column)
        for column in (
            "id",
            "request_id",
            "kind",
            "from_account",
            "amount",
            "description",
            "status",
            "reason_code",
            "reason",
            "core_reference",
            "created_at",
            "confirmed_at",
            "sent_at",
            "answered_at",
        )
    }
    view["to_account_masked"] = domain.mask_account(order.to_account)
    if order.request_type == domain.LOAN_PAYMENT:
        # the member's own loan, named whole; what is paid in words
        numbers = domain.numbers_of(order.installment_numbers)
        view["to_account_masked"] = f"Crédito {order.loan_number}"
        view["description"] = (
            "Cuota" + ("s" if len(numbers) > 1 else "") + " N° " + ", ".join(map(str, numbers))
        )
    view["timeline"] = order_timeline(order)
    return view


def order_timeline(order: Order) -> Any:
    return domain.timeline(
        {
            column: getattr(order, column)
            for column in (*(c for _s, c in domain.STATE_TIMES), "answered_at")
        },
        order.status,
    )


def evidence_of(order: Order) -> dict[str, Any]:
    """The order's evidence as stored (created, confirmed, shown), {} for an order from before."""
    return json.loads(order.evidence) if order.evidence else {}


def request_data(order: Order) -> dict[str, Any]:
    """The `data` of an order's request to the core (docs/integration.md)."""
    if order.request_type == domain.LOAN_PAYMENT:
        return domain.loan_payment_data(
            order.member_number,
            order.from_account,
            known(order.loan_number),
            domain.numbers_of(order.installment_numbers),
            order.amount,
            order.quote_as_of,
            order.confirmed_with or "",
        )
    return domain.transfer_data(
        order.member_number,
        order.kind,
        order.from_account,
        order.to_account,
        order.to_member_number,
        order.amount,
        order.description,
        order.confirmed_with or "",
    )


def payment_view(order: Order) -> dict[str, Any]:
    """A loan payment as the API shows it (LoanPaymentSchema): the quote it carries."""
    view = order_view(order)
    view.update(
        loan_number=order.loan_number,
        installment_numbers=list(domain.numbers_of(order.installment_numbers)),
        installments_amount=order.installments_amount,
        late_interest=order.late_interest,
        other_charges=order.other_charges,
        as_of=order.quote_as_of,
    )
    return view


def view_of(order: Order) -> dict[str, Any]:
    """The order in the shape of its kind (a transfer, or a loan payment)."""
    if order.request_type == domain.LOAN_PAYMENT:
        return PAYMENT.dump(payment_view(order))
    return TRANSFER.dump(order_view(order))


class PaymentsUseCases:
    def __init__(
        self,
        db: Session,
        events: Outbox,
        requests: RequestQueue,
        accounts: AccountsRpc,
        auth: AuthRpc,
        settings: Settings,
        clock: Clock,
        credit: CreditRpc,
    ) -> None:
        self.db = db
        self.events = events
        self.requests = requests
        self.accounts = accounts
        self.credit = credit
        self.confirmation = OrderConfirmation(auth)
        self.settings = settings
        self.clock = clock

    # --- Idempotency-Key of creations --------------------------------------------------------

    def once_per_key(
        self,
        member_number: Any,  # as the caller sent it (its schema checks it in `create`)
        key: object,
        operation: str,
        body: Mapping[str, Any],
        create: Callable[[], dict[str, Any]],
        subject_field: str,
    ) -> dict[str, Any]:
        """`create()` at most once per member and `Idempotency-Key` (docs/payments.md): the same
        key and body answer the first answer and create nothing; another body is a conflict
        (409). Any creation of an order (a transfer, a beneficiary, a loan payment…) goes
        through here with its own `operation`. Without a key, `create()` as is.

        The key is reserved and committed before `create()` (which asks auth for the challenge,
        an e-mail), so a second call arriving meanwhile waits for no lock and answers 409; a
        creation refused frees its key."""
        if key is None:
            return create()
        if not isinstance(key, str) or domain.idempotency_key_errors(key):
            raise ValidationError(
                fields={"Idempotency-Key": domain.idempotency_key_errors(str(key or ""))}
            )
        fields = {k: v for k, v in body.items() if k not in NOT_IN_FINGERPRINT}
        fingerprint = domain.request_fingerprint(operation, fields)
        now = self.clock.utcnow()
        for _ in range(2):
            row = store.idempotency_key(self.db, member_number, key)
            decision = domain.key_decision(
                row.fingerprint if row else None,
                row is not None and row.answer is not None,
                row.created_at if row else None,
                row.expires_at if row else None,
                fingerprint,
                now,
            )
            if decision == domain.REPLAY:
                return json.loads(known(known(row).answer))  # a replay: answered
            if decision == domain.REUSED:
                raise Conflict(KEY_REUSED)
            if decision == domain.IN_PROGRESS:
                raise Conflict(KEY_IN_PROGRESS)
            if row is not None:  # expired, or a first call that never answered
                self.db.delete(row)
                self.db.flush()
            expires = domain.key_expires_at(now, self.settings.idempotency_hours)
            if store.reserve_idempotency_key(
                self.db, member_number, key, operation, fingerprint, now, expires
            ):
                break
            self.db.expire_all()  # another call took it meanwhile: read what it holds
        else:
            raise Conflict(KEY_IN_PROGRESS)
        commit(self.db)
        try:
            answer = create()
        except Exception:
            self.db.rollback()
            row = store.idempotency_key(self.db, member_number, key)
            if row is not None and row.answer is None:
                self.db.delete(row)
                commit(self.db)
            raise
        row = store.idempotency_key(self.db, member_number, key)
        row = known(row)  # reserved above, committed
        row.answer = json.dumps(answer, ensure_ascii=False)
        row.subject_id = answer.get(subject_field)
        return answer

    # --- limits ------------------------------------------------------------------------------

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

    def lower_limits(
        self, member_number: str, per_transfer: object, daily_to_others: object
    ) -> dict[str, Any]:
        """Lowering takes effect at once; raising needs a confirmed change (not built yet)."""
        data = load_or_raise(
            LimitsSchema(), {"per_transfer": per_transfer, "daily_to_others": daily_to_others}
        )
        requested = domain.Limits(data["per_transfer"], data["daily_to_others"])
        errors = domain.limits_errors(requested, self.settings.cooperative_limits)
        if errors:
            raise ValidationError(fields={"limits": errors})
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
        data = load_or_raise(
            LimitsSchema(), {"per_transfer": per_transfer, "daily_to_others": daily_to_others}
        )
        requested = domain.Limits(data["per_transfer"], data["daily_to_others"])
        errors = domain.limits_errors(requested, self.settings.cooperative_limits)
        if errors:
            raise ValidationError(fields={"limits": errors})
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
            "confirmation": {
                "challenge_id": challenge["challenge_id"],
                "methods": challenge.get("methods", []),
                "challenge_expires_at": challenge.get("challenge_expires_at"),
            },
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

    # --- beneficiaries -----------------------------------------------------------------------

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
            "confirmation": {
                "challenge_id": challenge["challenge_id"],
                "methods": challenge.get("methods", []),
                "challenge_expires_at": challenge.get("challenge_expires_at"),
            },
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
            "confirmation": {
                "challenge_id": challenge["challenge_id"],
                "methods": challenge.get("methods", []),
                "challenge_expires_at": challenge.get("challenge_expires_at"),
            },
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
            "confirmation": {
                "challenge_id": challenge["challenge_id"],
                "methods": challenge.get("methods", []),
                "challenge_expires_at": challenge.get("challenge_expires_at"),
            },
        }

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

    # --- the sweeper -------------------------------------------------------------------------

    def sweep(self) -> int:
        """Finish what a crash left, resend unanswered requests with the same request_id until
        valid_until, mark en_verificacion after the timeout, anulada after 5 minutes unconfirmed.
        Every change is a conditional update: several instances sweeping take effect once."""
        now = self.clock.now()
        if store.forget_expired_keys(self.db, now.replace(tzinfo=None)):
            commit(self.db)
        done = 0
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
HANDLERS = HandlerTable(
    {
        "request_completed": PaymentsUseCases.on_core_event,
        "request_rejected": PaymentsUseCases.on_core_event,
    }
)
