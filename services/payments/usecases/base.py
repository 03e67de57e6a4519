"""What every payments use case is given and shares: the service's settings, the second factor
of an order (auth, over RPC), the dependencies the constructor takes, the messages more than one
capability gives, and two small helpers (`known`, `as_utc`)."""

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar, cast, overload

from nameko.exceptions import MethodNotFound, RemoteError
from sqlalchemy.orm import Session

from services.accounts.contracts import AccountsRpc
from services.auth.contracts import AuthRpc
from services.common.clock import Clock
from services.common.config import ServiceSettings
from services.common.errors import ServiceUnavailable
from services.common.operations import Operation
from services.common.ports import Outbox, RequestQueue
from services.credit.contracts import CreditRpc
from services.payments import domain

log = logging.getLogger("services.payments")

ORDER_NOT_FOUND = "La orden no existe."
WRONG_CODE = "El código no es correcto o venció."
TFA_UNAVAILABLE = (
    "La confirmación de órdenes con segundo factor no está disponible por ahora: "
    "la orden no se registró. Intente más tarde."
)


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


class UseCasesBase:
    """The unit of work, the outboxes, the other services and the clock every use case works
    with; each capability (limits, beneficiaries, orders, the core's answers) adds its own."""

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
