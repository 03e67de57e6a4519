"""Queries of the accounts service (the persistence adapter between service.py and the tables)."""

from decimal import Decimal

from sqlalchemy import and_, bindparam, func, select

from services.accounts import domain
from services.accounts.models import Member, Movement, SavingsAccount
from services.common.clock import CLOCK

ZERO = Decimal("0.00")


def get_member(session, member_number):
    return session.get(Member, member_number)


# built once (with a bind parameter): the position asks for these on every view
MEMBER_ACCOUNTS = (
    select(SavingsAccount)
    .where(SavingsAccount.member_number == bindparam("member_number"))
    .order_by(SavingsAccount.account_number)
)


def list_accounts(session, member_number):
    return session.scalars(MEMBER_ACCOUNTS, {"member_number": member_number}).all()


# The position's read, as Core statements on the session's connection: plain rows, no identity
# map or unit of work, at about a third of the ORM's cost (it is the most requested call).
_members, _accounts = Member.__table__, SavingsAccount.__table__
MEMBER_ROW = select(_members).where(_members.c.member_number == bindparam("member_number"))
MEMBER_ACCOUNT_ROWS = (
    select(_accounts)
    .where(_accounts.c.member_number == bindparam("member_number"))
    .order_by(_accounts.c.account_number)
)


def member_overview(session, member_number):
    """(member, accounts) as read-only rows; (None, []) for an unknown member."""
    connection = session.connection()
    params = {"member_number": member_number}
    member = connection.execute(MEMBER_ROW, params).first()
    if member is None:
        return None, []
    return member, connection.execute(MEMBER_ACCOUNT_ROWS, params).mappings().all()


def member_account(session, member_number, account_number):
    """The account when it belongs to the member; None otherwise (never another member's)."""
    account = session.get(SavingsAccount, account_number)
    if account is None or account.member_number != member_number:
        return None
    return account


def balance_before(session, account, day):
    """The balance at the start of `day` (after the last movement before it)."""
    before = session.execute(
        select(Movement.balance)
        .where(Movement.account_number == account.account_number, Movement.date < day)
        .order_by(Movement.date.desc(), Movement.seq.desc())
        .limit(1)
    ).scalar()
    return before if before is not None else ZERO


def statement(session, account, date_from, date_to, page, page_size):
    """Opening/closing balances and totals over the whole range, plus one page of movements.

    Every query is an index range on (account_number, date, seq).
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

    rows = session.scalars(
        select(Movement)
        .where(in_range)
        .order_by(Movement.date, Movement.seq)
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


def daily_balances(session, account, date_from, date_to):
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


def lock_account(session, account_number):
    """The account, locked until commit: postings to one account happen one after another."""
    return session.get(SavingsAccount, account_number, with_for_update=True)


def movement_by_reference(session, account_number, reference):
    if not reference:
        return None
    return session.scalars(
        select(Movement).where(
            Movement.account_number == account_number, Movement.reference == reference
        )
    ).first()


def post_movement(session, account, day, description, reference, debit, credit):
    """Append a movement at the end of the account's history and update its balances."""
    last = session.execute(
        select(Movement.date)
        .where(Movement.account_number == account.account_number)
        .order_by(Movement.date.desc(), Movement.seq.desc())
        .limit(1)
    ).scalar()
    if last is not None and day < last:
        raise ValueError("back-dated movement")
    new_balance = domain.apply_movement(account.balance, debit, credit)
    account.last_seq = (account.last_seq or 0) + 1
    movement = Movement(
        account_number=account.account_number,
        seq=account.last_seq,
        date=day,
        posted_at=CLOCK.utcnow().replace(microsecond=0),
        description=description,
        reference=reference,
        debit=debit or ZERO,
        credit=credit or ZERO,
        balance=new_balance,
    )
    account.available_balance = account.available_balance + (new_balance - account.balance)
    account.balance = new_balance
    session.add(movement)
    session.flush()
    return movement
