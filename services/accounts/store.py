"""Queries of the accounts service (the persistence adapter between service.py and the tables)."""

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Row, RowMapping, Table, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.accounts import domain
from services.accounts.models import (
    Hold,
    Member,
    Movement,
    ReconciliationChunk,
    ReconciliationDay,
    ReconciliationDifference,
    SavingsAccount,
)
from services.common import inbound
from services.common.errors import ValidationError

ZERO = Decimal("0.00")


def get_member(session: Session, member_number: str) -> Member | None:
    return session.get(Member, member_number)


# built once (with a bind parameter): the position asks for these on every view
# a closed account leaves the position (its statements stay readable: member_account)
MEMBER_ACCOUNTS = (
    select(SavingsAccount)
    .where(
        SavingsAccount.member_number == bindparam("member_number"),
        SavingsAccount.status != domain.CLOSED,
    )
    .order_by(SavingsAccount.account_number)
)


def list_accounts(session: Session, member_number: str) -> Sequence[SavingsAccount]:
    return session.scalars(MEMBER_ACCOUNTS, {"member_number": member_number}).all()


# The position's read, as Core statements on the session's connection: plain rows, no identity
# map or unit of work, at about a third of the ORM's cost (it is the most requested call).
# Core tables of the mapped classes (a declarative class's __table__ is typed as a FromClause)
_members = cast(Table, Member.__table__)
_accounts = cast(Table, SavingsAccount.__table__)
MEMBER_ROW = select(_members).where(_members.c.member_number == bindparam("member_number"))
MEMBER_ACCOUNT_ROWS = (
    select(_accounts)
    .where(
        _accounts.c.member_number == bindparam("member_number"),
        _accounts.c.status != domain.CLOSED,
    )
    .order_by(_accounts.c.account_number)
)


# the same for several members in two statements (the gateway's coalesced position)
MEMBERS_ROWS = select(_members).where(
    _members.c.member_number.in_(bindparam("member_numbers", expanding=True))
)
MEMBERS_ACCOUNT_ROWS = (
    select(_accounts)
    .where(
        _accounts.c.member_number.in_(bindparam("member_numbers", expanding=True)),
        _accounts.c.status != domain.CLOSED,
    )
    .order_by(_accounts.c.account_number)
)


def member_overviews(
    session: Session, member_numbers: list[str]
) -> dict[str, tuple[Row[Any], list[RowMapping]]]:
    """{member_number: (member, accounts)} of the members that exist, as `member_overview`."""
    if len(member_numbers) == 1:  # a member alone: the statement without an IN list to render
        member, rows = member_overview(session, member_numbers[0])
        return {} if member is None else {member_numbers[0]: (member, list(rows))}
    connection = session.connection()
    members = {
        row.member_number: row
        for row in connection.execute(MEMBERS_ROWS, {"member_numbers": member_numbers})
    }
    accounts: dict[str, list[RowMapping]] = {number: [] for number in members}
    params = {"member_numbers": list(members)}
    for account in connection.execute(MEMBERS_ACCOUNT_ROWS, params).mappings():
        accounts[account["member_number"]].append(account)
    return {number: (members[number], accounts[number]) for number in members}


def member_overview(
    session: Session, member_number: str
) -> tuple[Row[Any] | None, Sequence[RowMapping]]:
    """(member, accounts) as read-only rows; (None, []) for an unknown member."""
    connection = session.connection()
    params = {"member_number": member_number}
    member = connection.execute(MEMBER_ROW, params).first()
    if member is None:
        return None, []
    return member, connection.execute(MEMBER_ACCOUNT_ROWS, params).mappings().all()


def member_account(
    session: Session, member_number: str, account_number: str
) -> SavingsAccount | None:
    """The account when it belongs to the member; None otherwise (never another member's)."""
    account = session.get(SavingsAccount, account_number)
    if account is None or account.member_number != member_number:
        return None
    return account


def balance_before(session: Session, account: SavingsAccount, day: date) -> Decimal:
    """The balance at the start of `day` (after the last movement before it)."""
    before = session.execute(
        select(Movement.balance)
        .where(Movement.account_number == account.account_number, Movement.date < day)
        .order_by(Movement.date.desc(), Movement.seq.desc())
        .limit(1)
    ).scalar()
    return before if before is not None else ZERO


def statement(
    session: Session,
    account: SavingsAccount,
    date_from: date,
    date_to: date,
    page: int,
    page_size: int,
    newest_first: bool = False,
) -> dict[str, Any]:
    """Opening/closing balances and totals over the whole range, plus one page of movements,
    oldest first or (`newest_first`) newest first: page 1 then holds the latest movements.

    Every query is an index range on (account_number, date, seq), read either way.
    """
    in_range = and_(
        Movement.account_number == account.account_number,
        Movement.date >= date_from,
        Movement.date <= date_to,
    )
    opening = balance_before(session, account, date_from)

    count, debits, credits = session.execute(
        select(func.count(Movement.id), func.sum(Movement.debit), func.sum(Movement.credit)).where(
            in_range
        )
    ).one()
    debits = debits if debits is not None else ZERO
    credits = credits if credits is not None else ZERO
    errors = domain.page_errors(page, count, page_size)
    if errors:
        raise ValidationError(fields=errors)

    rows = session.scalars(
        select(Movement)
        .where(in_range)
        # the core's order (dates never go back along it)
        .order_by(Movement.seq.desc() if newest_first else Movement.seq)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return {
        "account_number": account.account_number,
        "product_name": account.product_name,
        "from_": date_from,
        "to": date_to,
        "opening_balance": opening,
        "closing_balance": domain.closing_balance(opening, credits, debits),
        "total_debits": debits,
        "total_credits": credits,
        "movements": rows,
        "page": page,
        "page_size": page_size,
        "total_movements": count,
        "total_pages": domain.page_count(count, page_size),
    }


def daily_balances(
    session: Session, account: SavingsAccount, date_from: date, date_to: date
) -> list[tuple[date, Decimal]]:
    """[(date, end-of-day balance)] of the days with movements in the range: at most one row per
    day (≤ 3 660), whatever the number of movements.

    The last movement of each day is found on the (account_number, date, seq) index alone (a
    grouped index range scan, no row reads); only those ≤ 3 660 rows are then read for their
    balance.
    """
    last_of_day = (
        select(Movement.date.label("day"), func.max(Movement.seq).label("seq"))
        .where(
            Movement.account_number == account.account_number,
            Movement.date >= date_from,
            Movement.date <= date_to,
        )
        .group_by(Movement.date)
        .subquery()
    )
    rows = session.execute(
        select(Movement.date, Movement.balance)
        .select_from(last_of_day)
        .join(
            Movement,
            and_(
                Movement.account_number == account.account_number,
                Movement.date == last_of_day.c.day,
                Movement.seq == last_of_day.c.seq,
            ),
        )
        .order_by(last_of_day.c.day)
    ).all()
    return [(row.date, row.balance) for row in rows]


def movement_by_reference(
    session: Session, account_number: str, reference: str | None
) -> Row[Any] | None:
    if not reference:
        return None
    return session.execute(
        select(_movements).where(
            _movements.c.account_number == account_number, _movements.c.reference == reference
        )
    ).first()


# --- the core's events ------------------------------------------------------------------------
# Core statements (no identity map): the inbound movement is the busiest write of the service.

_movements = cast(Table, Movement.__table__)


def lock_account_row(session: Session, account_number: str) -> Row[Any] | None:
    """The account's row, locked until commit (the owner of its movement stream); or None."""
    return inbound.lock_owner(session, _accounts.c.account_number, account_number)


def movement_at(session: Session, account_number: str, seq: int) -> Row[Any] | None:
    return session.execute(
        select(_movements).where(
            _movements.c.account_number == account_number, _movements.c.seq == seq
        )
    ).first()


# built once: these run for every inbound movement
INSERT_MOVEMENT = insert(_movements)
MOVE_BALANCE = (
    update(_accounts)
    .where(_accounts.c.account_number == bindparam("number"))
    .values(
        balance=bindparam("new_balance", type_=_accounts.c.balance.type),
        available_balance=_accounts.c.available_balance
        + bindparam("delta", type_=_accounts.c.balance.type),
        last_seq=bindparam("sequence"),
    )
)
# per account, as a correlated max (one index step each, whatever the account's history; dates
# never go back, so it is the date of the account's last sequence)
LAST_DATES = select(
    _accounts.c.account_number,
    select(func.max(_movements.c.date))
    .where(_movements.c.account_number == _accounts.c.account_number)
    .scalar_subquery()
    .label("last_date"),
).where(_accounts.c.account_number.in_(bindparam("numbers", expanding=True)))
REFERENCES = select(_movements.c.account_number, _movements.c.reference, _movements.c.seq).where(
    _movements.c.account_number.in_(bindparam("numbers", expanding=True)),
    _movements.c.reference.in_(bindparam("references", expanding=True)),
)


def lock_accounts(session: Session, account_numbers: Iterable[str]) -> dict[str, dict[str, Any]]:
    """{account number: its row as a dict}, every one locked until commit (sorted, so two
    instances never deadlock); unknown numbers are missing."""
    rows = inbound.lock_owners(session, _accounts.c.account_number, list(account_numbers))
    return {row.account_number: dict(row._mapping) for row in rows}


def last_movement_dates(session: Session, account_numbers: Iterable[str]) -> dict[str, date | None]:
    """{account number: its newest movement date, None without movements}."""
    rows = session.execute(LAST_DATES, {"numbers": list(account_numbers)})
    return {row.account_number: row.last_date for row in rows}


def reference_sequences(
    session: Session, account_numbers: Iterable[str], references: Iterable[str]
) -> dict[tuple[str, str], int]:
    """{(account number, reference): sequence} of those references already applied."""
    if not references:
        return {}
    rows = session.execute(
        REFERENCES, {"numbers": list(account_numbers), "references": list(references)}
    )
    return {(r.account_number, r.reference): r.seq for r in rows}


def insert_movements(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert movements (dicts of the movements table's columns): one multi-row statement."""
    session.execute(INSERT_MOVEMENT, rows)


def move_balances(session: Session, moves: Sequence[Mapping[str, Any]]) -> None:
    """Set each account's balance and last sequence, moving its available balance by as much:
    [{number, new_balance, delta, sequence}]."""
    session.execute(MOVE_BALANCE, moves)


def member_by_identification(session: Session, identification: str) -> Member | None:
    return session.scalars(select(Member).where(Member.identification == identification)).first()


def reconciliation_accounts(
    session: Session, account_numbers: Sequence[str], business_date: date
) -> dict[str, Any]:
    """{account number: row(balance, last_seq, day_seq, day_balance)}: each account now, and at
    the close of `business_date` (its last movement dated on or before it; the index on
    (account, date, seq) makes this one short range read per account)."""
    day_seq = (
        select(_movements.c.account_number, func.max(_movements.c.seq).label("day_seq"))
        .where(
            _movements.c.account_number.in_(account_numbers),
            _movements.c.date <= business_date,
        )
        .group_by(_movements.c.account_number)
        .subquery()
    )
    rows = session.execute(
        select(
            _accounts.c.account_number,
            _accounts.c.balance,
            _accounts.c.last_seq,
            func.coalesce(day_seq.c.day_seq, 0).label("day_seq"),
            _movements.c.balance.label("day_balance"),
        )
        .select_from(_accounts)
        .outerjoin(day_seq, day_seq.c.account_number == _accounts.c.account_number)
        .outerjoin(
            _movements,
            and_(
                _movements.c.account_number == _accounts.c.account_number,
                _movements.c.seq == day_seq.c.day_seq,
            ),
        )
        .where(_accounts.c.account_number.in_(account_numbers))
    ).all()
    return {row.account_number: row for row in rows}


def lock_reconciliation_day(
    session: Session, business_date: date, chunks: int
) -> ReconciliationDay:
    """The day's row, created when first seen, locked until commit (chunks count together)."""
    try:
        with session.begin_nested():
            session.execute(
                insert(ReconciliationDay).values(
                    business_date=business_date,
                    chunks=chunks,
                    received=0,
                    complete=False,
                    differences=0,
                )
            )
    except IntegrityError:
        pass  # another chunk created it
    day = session.get(ReconciliationDay, business_date, with_for_update=True)
    return cast(ReconciliationDay, day)  # inserted above, or by another chunk


def restart_reconciliation_day(session: Session, day: ReconciliationDay, chunks: int) -> None:
    """The day's comparison starts over (the core closes the day again): its chunks and
    differences go, the day waits for `chunks` chunks."""
    session.execute(
        delete(ReconciliationChunk).where(ReconciliationChunk.business_date == day.business_date)
    )
    delete_reconciliation_differences(session, day.business_date)
    day.chunks = chunks
    day.received = 0
    day.differences = 0
    day.complete = False
    day.completed_at = None
    session.flush()


def delete_reconciliation_differences(session: Session, business_date: date) -> None:
    session.execute(
        delete(ReconciliationDifference).where(
            ReconciliationDifference.business_date == business_date
        )
    )


def lock_reconciliation_day_if_any(
    session: Session, business_date: date
) -> ReconciliationDay | None:
    return session.get(ReconciliationDay, business_date, with_for_update=True)


def reconciliation_chunks(session: Session, business_date: date) -> Sequence[ReconciliationChunk]:
    return session.scalars(
        select(ReconciliationChunk)
        .where(ReconciliationChunk.business_date == business_date)
        .order_by(ReconciliationChunk.chunk)
    ).all()


def reconciliation_day(
    session: Session, business_date: date | None = None
) -> ReconciliationDay | None:
    query = select(ReconciliationDay)
    if business_date is not None:
        query = query.where(ReconciliationDay.business_date == business_date)
    return session.scalars(query.order_by(ReconciliationDay.business_date.desc()).limit(1)).first()


def reconciliation_differences(
    session: Session, business_date: date
) -> Sequence[ReconciliationDifference]:
    return session.scalars(
        select(ReconciliationDifference)
        .where(ReconciliationDifference.business_date == business_date)
        .order_by(ReconciliationDifference.account_number, ReconciliationDifference.id)
    ).all()


def last_sequence(session: Session, account_number: str) -> int | None:
    """The account's last applied `sequence`, or None for an unknown account."""
    return session.scalar(
        select(SavingsAccount.last_seq).where(SavingsAccount.account_number == account_number)
    )


# --- holds of confirmed orders (docs/payments.md) -----------------------------------------------
# Every change of a hold happens under the lock of its account (lock_account_row), so the
# account's available_balance (balance − open holds) moves with it in the same transaction.

_holds = cast(Table, Hold.__table__)
MOVE_AVAILABLE = (
    update(_accounts)
    .where(_accounts.c.account_number == bindparam("number"))
    .values(
        available_balance=_accounts.c.available_balance
        + bindparam("delta", type_=_accounts.c.balance.type)
    )
)
END_HOLD = (
    update(_holds)
    .where(
        _holds.c.request_id == bindparam("hold_request"),
        _holds.c.account_number == bindparam("number"),
        _holds.c.ended_at.is_(None),
    )
    .values(ended_at=bindparam("ended"), end_reason=bindparam("why"))
    .returning(_holds.c.amount)
)


def hold(session: Session, request_id: str) -> Hold | None:
    return session.get(Hold, request_id)


def take_hold(
    session: Session,
    account: Mapping[Any, Any],
    request_id: str,
    member_number: str,
    amount: Decimal,
    now: datetime,
) -> None:
    """Record the hold and lower the account's available balance (the account is locked)."""
    session.add(
        Hold(
            request_id=request_id,
            account_number=account["account_number"],
            member_number=member_number,
            amount=amount,
            taken_at=now,
        )
    )
    session.flush()
    session.execute(MOVE_AVAILABLE, {"number": account["account_number"], "delta": -amount})


def end_hold(
    session: Session, account_number: str, request_id: str, reason: str, now: datetime
) -> Decimal | None:
    """End the open hold of `request_id` on the (locked) account, giving its amount back to the
    available balance; the amount, or None when there is none open (ended already, or none)."""
    amount = session.execute(
        END_HOLD,
        {"hold_request": request_id, "number": account_number, "ended": now, "why": reason},
    ).scalar()
    if amount is not None:
        session.execute(MOVE_AVAILABLE, {"number": account_number, "delta": amount})
    return amount


def open_holds_total(session: Session, account_number: str) -> Decimal:
    total = session.execute(
        select(func.sum(_holds.c.amount)).where(
            _holds.c.account_number == account_number, _holds.c.ended_at.is_(None)
        )
    ).scalar()
    return total if total is not None else ZERO
