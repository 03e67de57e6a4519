"""The member record, the accounts, their statements and daily balances, transfer targets."""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from services.accounts import domain, store
from services.accounts.contracts import (
    NEWEST_FIRST,
    AccountSchema,
    DailyBalancesSchema,
    MemberSchema,
    StatementQuerySchema,
    StatementSchema,
    VerifyMemberSchema,
)
from services.accounts.models import (
    SavingsAccount,
)
from services.accounts.usecases import ACCOUNT_NOT_FOUND
from services.common.clock import Clock
from services.common.errors import NotFound, ValidationError
from services.common.money import fmt
from services.common.schemas import load_or_raise, member_batch

# schemas built once: building one copies every declared field, on the hottest RPCs
MEMBER = MemberSchema()
ACCOUNTS = AccountSchema(many=True)
STATEMENT = StatementSchema()
DAILY_BALANCES = DailyBalancesSchema()


# --- the member and the accounts ------------------------------------------------------------


def member_dict(member: Any) -> dict[str, Any]:  # a Member, or its row
    data = {
        "member_number": member.member_number,
        "identification_masked": domain.mask_identification(member.identification),
        "given_names": member.given_names,
        "surnames": member.surnames,
        "display_name": domain.display_name(member.given_names, member.surnames),
        "email": member.email,
        "email_masked": domain.mask_email(member.email),
        "phone": member.phone,
        "joined_on": member.joined_on,
        "status": member.status,
    }
    return MEMBER.dump(data)


def accounts_answer(rows: Sequence[Any]) -> list[dict[str, Any]]:
    """The member's accounts as published, each with the available balance the member may
    dispose of (certificados de aportación: 0.00)."""
    answer = ACCOUNTS.dump(rows)
    for account in answer:
        stored = Decimal(account["available_balance"])
        account["available_balance"] = fmt(domain.available_balance(account["product"], stored))
    return answer


def verify_member(
    db: Session,
    member_number: object,
    identification: object,
    first_name: object,
    last_name: object,
    email: object,
) -> dict[str, bool]:
    """Yes/no: does this data match one member record? Never says which field failed."""
    data = load_or_raise(
        VerifyMemberSchema(),
        {
            "member_number": member_number,
            "identification": identification,
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
        },
    )
    member = store.get_member(db, data["member_number"].strip())
    record = (
        domain.MemberRecord(
            member.member_number,
            member.identification,
            member.given_names,
            member.surnames,
            member.email,
        )
        if member is not None
        else None
    )
    return {"match": domain.registration_matches(record, **data)}


def is_member_identification(
    db: Session, member_number: str | None, identification: str | None
) -> bool:
    member = store.get_member(db, (member_number or "").strip())
    return member is not None and member.identification == (identification or "").strip()


def get_member(db: Session, member_number: str) -> dict[str, Any]:
    member = store.get_member(db, member_number)
    if member is None:
        raise NotFound("El socio no existe.")
    return member_dict(member)


def overview(db: Session, member_number: str) -> dict[str, Any]:
    member, accounts = store.member_overview(db, member_number)
    if member is None:
        raise NotFound("El socio no existe.")
    return _overview(member, accounts)


def _overview(member: Any, accounts: Any) -> dict[str, Any]:  # the rows of member_overview
    return {"member": member_dict(member), "accounts": accounts_answer(accounts)}


def overviews(db: Session, member_numbers: object) -> dict[str, Any]:
    """`overview` of several members in one call (the gateway's coalesced position):
    {member_number: overview}; a member that does not exist is left out."""
    found = store.member_overviews(db, member_batch(member_numbers))
    return {number: _overview(member, accounts) for number, (member, accounts) in found.items()}


def list_accounts(db: Session, member_number: str) -> list[dict[str, Any]]:
    return accounts_answer(store.list_accounts(db, member_number))


def _member_account_range(
    db: Session, clock: Clock, member_number: str, account_number: str, query: dict[str, Any]
) -> SavingsAccount:
    account = store.member_account(db, member_number, account_number)
    if account is None:
        raise NotFound(ACCOUNT_NOT_FOUND)
    errors = domain.statement_range_errors(query["from_"], query["to"], clock.today())
    if errors:
        raise ValidationError(fields=errors)
    return account


def get_statement(
    db: Session,
    clock: Clock,
    member_number: str,
    account_number: str,
    date_from: object,
    date_to: object,
    page: object,
    page_size: object,
    order: object,
) -> dict[str, Any]:
    query = load_or_raise(
        StatementQuerySchema(),
        {"from": date_from, "to": date_to, "page": page, "page_size": page_size, "order": order},
    )
    account = _member_account_range(db, clock, member_number, account_number, query)
    result = store.statement(
        db,
        account,
        query["from_"],
        query["to"],
        query["page"],
        query["page_size"],
        newest_first=query["order"] == NEWEST_FIRST,
    )
    return STATEMENT.dump(result)


def daily_balances(
    db: Session,
    clock: Clock,
    member_number: str,
    account_number: str,
    date_from: object,
    date_to: object,
) -> dict[str, Any]:
    """The end-of-day balance of each day with movements in the range (≤ 3 660 points); the same
    rules as get_statement (the member's own account, the same range limits)."""
    query = load_or_raise(StatementQuerySchema(), {"from": date_from, "to": date_to})
    account = _member_account_range(db, clock, member_number, account_number, query)
    days = store.daily_balances(db, account, query["from_"], query["to"])
    return DAILY_BALANCES.dump(
        {
            "account_number": account.account_number,
            "from_": query["from_"],
            "to": query["to"],
            "opening_balance": store.balance_before(db, account, query["from_"]),
            "days": [{"date": day, "balance": balance} for day, balance in days],
        }
    )


def transfer_destination(
    db: Session, account_number: str | None, identification: str | None
) -> dict[str, Any] | None:
    """Another member's savings account a transfer may credit, when `identification` is its
    holder's cédula; None otherwise (never says which part failed)."""
    account = db.get(SavingsAccount, (account_number or "").strip())
    if account is None or not domain.can_receive_transfer(account.product, account.status):
        return None
    member = store.get_member(db, account.member_number)
    if member is None or member.identification != (identification or "").strip():
        return None
    return {
        "member_number": member.member_number,
        "product": account.product,
        "holder_name_masked": domain.mask_holder(member.given_names, member.surnames),
    }
