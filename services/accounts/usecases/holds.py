"""Holds of confirmed orders (docs/payments.md)."""

from typing import Any, cast

from sqlalchemy.orm import Session

from services.accounts import domain, store
from services.accounts.contracts import (
    HoldSchema,
    ReleaseHoldSchema,
    TakeHoldSchema,
)
from services.accounts.models import (
    Hold,
    SavingsAccount,
)
from services.accounts.usecases import ACCOUNT_NOT_FOUND
from services.common.clock import Clock
from services.common.errors import Conflict, NotFound
from services.common.schemas import load_or_raise

TAKE_HOLD = TakeHoldSchema()
RELEASE_HOLD = ReleaseHoldSchema()
HOLD_ANSWER = HoldSchema()
HOLD_REUSED = "La solicitud {request_id} ya reservó otro monto u otra cuenta."


# --- holds of confirmed orders (docs/payments.md) -------------------------------------------


def hold_answer(db: Session, hold: Hold) -> dict[str, Any]:
    account = db.get(SavingsAccount, hold.account_number)
    return HOLD_ANSWER.dump(
        {
            "request_id": hold.request_id,
            "status": "taken" if hold.ended_at is None else "ended",
            "account_number": hold.account_number,
            "amount": hold.amount,
            "available_balance": account.available_balance if account else None,
            "end_reason": hold.end_reason,
        }
    )


def take_hold(
    db: Session,
    clock: Clock,
    request_id: object,
    account_number: object,
    member_number: object,
    amount: object,
) -> dict[str, Any]:
    """Reserve `amount` of the member's account for the order `request_id`, under the lock of
    the account: the saldo disponible is checked again and falls at once, the balance does not.
    Idempotent by request_id. A refusal reserves nothing: {"status": "refused", ...}."""
    data = load_or_raise(
        TAKE_HOLD,
        {
            "request_id": request_id,
            "account_number": account_number,
            "member_number": member_number,
            "amount": amount,
        },
    )
    account = store.lock_account_row(db, data["account_number"])
    if account is None or account.member_number != data["member_number"]:
        raise NotFound(ACCOUNT_NOT_FOUND)
    existing = store.hold(db, data["request_id"])
    if existing is not None:
        if not domain.same_hold(data["account_number"], data["amount"], existing):
            raise Conflict(HOLD_REUSED.format(request_id=data["request_id"]))
        return hold_answer(db, existing)
    refusal = domain.hold_refusal(
        account.product, account.status, account.available_balance, data["amount"]
    )
    if refusal:
        code, message = refusal
        return HOLD_ANSWER.dump(
            {
                "request_id": data["request_id"],
                "status": "refused",
                "account_number": account.account_number,
                "amount": data["amount"],
                "available_balance": account.available_balance,
                "reason_code": code,
                "reason": message,
            }
        )
    store.take_hold(
        db,
        account._mapping,
        data["request_id"],
        data["member_number"],
        data["amount"],
        clock.utcnow(),
    )
    return hold_answer(db, cast(Hold, store.hold(db, data["request_id"])))  # just taken


def release_hold(db: Session, clock: Clock, request_id: object, reason: object) -> dict[str, Any]:
    """End the hold of `request_id`: its amount is available again. Idempotent."""
    data = load_or_raise(RELEASE_HOLD, {"request_id": request_id, "reason": reason})
    existing = store.hold(db, data["request_id"])
    if existing is None:
        return HOLD_ANSWER.dump({"request_id": data["request_id"], "status": "unknown"})
    number = existing.account_number
    db.expunge(existing)  # read again under the lock below
    store.lock_account_row(db, number)
    store.end_hold(db, number, data["request_id"], data["reason"], clock.utcnow())
    return hold_answer(db, cast(Hold, store.hold(db, data["request_id"])))  # found above


def get_hold(db: Session, request_id: str) -> dict[str, Any]:
    existing = store.hold(db, request_id)
    if existing is None:
        return HOLD_ANSWER.dump({"request_id": request_id, "status": "unknown"})
    return hold_answer(db, existing)
