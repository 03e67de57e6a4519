"""Queries of the payments service (the persistence adapter between the use cases and tables)."""

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Row, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common import inbound
from services.payments import domain
from services.payments.models import (
    Beneficiary,
    BeneficiaryAttempts,
    DailyCounter,
    IdempotencyKey,
    LimitChange,
    MemberLimits,
    Order,
)

_orders = cast(Table, Order.__table__)
_counters = cast(Table, DailyCounter.__table__)


def order(session: Session, order_id: str) -> Order | None:
    return session.get(Order, order_id)


def member_order(session: Session, member_number: str, order_id: str) -> Order | None:
    found = session.get(Order, order_id)
    if found is None or found.member_number != member_number:
        return None
    return found


def order_by_request(session: Session, request_id: str) -> Order | None:
    return session.scalars(select(Order).where(Order.request_id == request_id)).first()


def member_orders(session: Session, member_number: str, limit: int = 50) -> Sequence[Order]:
    return session.scalars(
        select(Order)
        .where(Order.member_number == member_number)
        .order_by(Order.created_at.desc(), Order.id)
        .limit(limit)
    ).all()


def day_orders(session: Session, member_number: str, day: date) -> list[domain.DayOrder]:
    """The member's orders confirmed on `day` (Ecuador), as the daily limit reads them."""
    rows = session.execute(
        select(Order.kind, Order.status, Order.amount, Order.confirmed_day).where(
            Order.member_number == member_number, Order.confirmed_day == day
        )
    ).all()
    return [domain.DayOrder(r.kind, r.status, r.amount, r.confirmed_day) for r in rows]


def lock_daily_counter(session: Session, member_number: str, day: date) -> None:
    """The member's counter of `day`, created when first used, locked until commit."""
    try:
        with session.begin_nested():
            session.execute(
                insert(_counters).values(member_number=member_number, day=day, confirmations=0)
            )
    except IntegrityError:
        pass  # another confirmation of the day made it
    session.execute(
        update(_counters)
        .where(_counters.c.member_number == member_number, _counters.c.day == day)
        .values(confirmations=_counters.c.confirmations + 1)
    )  # a write: the row lock (PostgreSQL) or the database's write lock (SQLite), until commit


def move_status(session: Session, order_id: str, current: str, new: str, **values: Any) -> bool:
    """Conditional update: the order moves from `current` to `new` only if it is still `current`
    (two confirmations, or the sweeper and a worker, take effect once). True when it moved."""
    domain.move(current, new)
    result = session.execute(
        update(_orders)
        .where(_orders.c.id == order_id, _orders.c.status == current)
        .values(status=new, **values)
    )
    session.expire_all()
    return cast(CursorResult[Any], result).rowcount == 1  # an UPDATE's result


def orders_in(session: Session, statuses: Iterable[str], limit: int = 200) -> Sequence[Order]:
    return session.scalars(
        select(Order).where(Order.status.in_(statuses)).order_by(Order.created_at).limit(limit)
    ).all()


def limits(session: Session, member_number: str) -> MemberLimits | None:
    return session.get(MemberLimits, member_number)


def beneficiary(session: Session, member_number: str, beneficiary_id: str) -> Beneficiary | None:
    found = session.get(Beneficiary, beneficiary_id)
    if found is None or found.member_number != member_number:
        return None
    return found


def beneficiaries(session: Session, member_number: str) -> Sequence[Beneficiary]:
    return session.scalars(
        select(Beneficiary)
        .where(Beneficiary.member_number == member_number, Beneficiary.status != "eliminado")
        .order_by(Beneficiary.created_at)
    ).all()


def lock_order(session: Session, order_id: str) -> Row[Any] | None:
    """The order's row locked until commit (an answer of the core, an operator's resolution)."""
    return inbound.lock_owner(session, _orders.c.id, order_id)


def activate_beneficiary(session: Session, beneficiary_id: str, now: datetime) -> bool:
    """por_confirmar → activo, once (two confirmations take effect once)."""
    table = cast(Table, Beneficiary.__table__)
    result = session.execute(
        update(table)
        .where(table.c.id == beneficiary_id, table.c.status == domain.POR_CONFIRMAR)
        .values(status="activo", confirmed_at=now)
    )
    session.expire_all()
    return cast(CursorResult[Any], result).rowcount == 1  # an UPDATE's result


def pending_orders_to(session: Session, beneficiary_id: str) -> Sequence[Order]:
    return session.scalars(
        select(Order).where(
            Order.beneficiary_id == beneficiary_id, Order.status == domain.POR_CONFIRMAR
        )
    ).all()


def order_ids_in(session: Session, statuses: Iterable[str], limit: int = 1000) -> Sequence[str]:
    """The ids of the orders the sweeper looks at, oldest first."""
    return session.scalars(
        select(Order.id).where(Order.status.in_(statuses)).order_by(Order.created_at).limit(limit)
    ).all()


def idempotency_key(session: Session, member_number: str, key: str) -> IdempotencyKey | None:
    return session.get(IdempotencyKey, (member_number, key))


def reserve_idempotency_key(
    session: Session,
    member_number: str,
    key: str,
    operation: str,
    fingerprint: str,
    now: datetime,
    expires: datetime,
) -> bool:
    """The key taken for a first call (answer null until it answers); False when another call
    took it first (the caller reads it again)."""
    try:
        with session.begin_nested():
            session.add(
                IdempotencyKey(
                    member_number=member_number,
                    key=key,
                    operation=operation,
                    fingerprint=fingerprint,
                    created_at=now,
                    expires_at=expires,
                )
            )
    except IntegrityError:
        return False
    return True


def forget_expired_keys(session: Session, now: datetime) -> int:
    """Expired keys leave (the sweeper): their member may use them again for a new order."""
    table = cast(Table, IdempotencyKey.__table__)
    # read first: a sweep with nothing to forget takes no write lock (SQLite has one writer)
    if session.execute(select(table.c.key).where(table.c.expires_at <= now).limit(1)).first():
        done = session.execute(delete(table).where(table.c.expires_at <= now))
        return cast(CursorResult[Any], done).rowcount
    return 0


def count_beneficiary_attempt(session: Session, member_number: str, day: date) -> int:
    """One more attempt of the member on `day`; the day's count with it."""
    table = cast(Table, BeneficiaryAttempts.__table__)
    try:
        with session.begin_nested():
            session.execute(insert(table).values(member_number=member_number, day=day, attempts=0))
    except IntegrityError:
        pass
    session.execute(
        update(table)
        .where(table.c.member_number == member_number, table.c.day == day)
        .values(attempts=table.c.attempts + 1)
    )
    return session.execute(
        select(table.c.attempts).where(table.c.member_number == member_number, table.c.day == day)
    ).scalar_one()


def limit_change(session: Session, member_number: str, change_id: str) -> LimitChange | None:
    found = session.get(LimitChange, change_id)
    if found is None or found.member_number != member_number:
        return None
    return found


def end_unconfirmed(session: Session, recorded_by: datetime) -> int:
    """Limit raises and beneficiaries still `por_confirmar` that were recorded at or before
    `recorded_by` (naive UTC): the raise becomes `anulada`, the beneficiary leaves the list
    (`eliminado`); their challenge has expired, so no code could confirm them any more."""
    ended = 0
    for model, status in ((LimitChange, domain.ANULADA), (Beneficiary, "eliminado")):
        table = cast(Table, model.__table__)
        result = session.execute(
            update(table)
            .where(table.c.status == domain.POR_CONFIRMAR, table.c.created_at <= recorded_by)
            .values(status=status)
        )
        ended += cast(CursorResult[Any], result).rowcount
    session.expire_all()
    return ended


def move_limit_change(session: Session, change_id: str, new: str, **values: Any) -> bool:
    """por_confirmar → `new`, once (two confirmations take effect once)."""
    table = cast(Table, LimitChange.__table__)
    result = session.execute(
        update(table)
        .where(table.c.id == change_id, table.c.status == domain.POR_CONFIRMAR)
        .values(status=new, **values)
    )
    session.expire_all()
    return cast(CursorResult[Any], result).rowcount == 1  # an UPDATE's result


def loan_orders(session: Session, loan_number: str) -> Sequence[Order]:
    """The payments of a loan not yet ended (one open payment per loan)."""
    return session.scalars(
        select(Order).where(
            Order.loan_number == loan_number,
            Order.status.in_((domain.POR_CONFIRMAR, domain.CONFIRMANDO, *domain.AWAITING_CORE)),
        )
    ).all()
