"""The member record, the accounts, their statements and daily balances, transfer targets."""

from decimal import Decimal

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
from services.common.errors import NotFound, ValidationError
from services.common.money import fmt
from services.common.schemas import load_or_raise

# schemas built once: building one copies every declared field, on the hottest RPCs
MEMBER = MemberSchema()
ACCOUNTS = AccountSchema(many=True)
STATEMENT = StatementSchema()
DAILY_BALANCES = DailyBalancesSchema()


# --- the member and the accounts ------------------------------------------------------------


def member_dict(member):
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


def accounts_answer(rows):
    """The member's accounts as published, each with the available balance the member may
    dispose of (certificados de aportación: 0.00)."""
    answer = ACCOUNTS.dump(rows)
    for account in answer:
        stored = Decimal(account["available_balance"])
        account["available_balance"] = fmt(domain.available_balance(account["product"], stored))
    return answer


def verify_member(db, member_number, identification, first_name, last_name, email):
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
    record = member and domain.MemberRecord(
        member.member_number,
        member.identification,
        member.given_names,
        member.surnames,
        member.email,
    )
    return {"match": domain.registration_matches(record, **data)}


def is_member_identification(db, member_number, identification):
    member = store.get_member(db, (member_number or "").strip())
    return member is not None and member.identification == (identification or "").strip()


def get_member(db, member_number):
    member = store.get_member(db, member_number)
    if member is None:
        raise NotFound("El socio no existe.")
    return member_dict(member)


def overview(db, member_number):
    member, accounts = store.member_overview(db, member_number)
    if member is None:
        raise NotFound("El socio no existe.")
    return {"member": member_dict(member), "accounts": accounts_answer(accounts)}


def list_accounts(db, member_number):
    return accounts_answer(store.list_accounts(db, member_number))


def _member_account_range(db, clock, member_number, account_number, query):
    account = store.member_account(db, member_number, account_number)
    if account is None:
        raise NotFound(ACCOUNT_NOT_FOUND)
    errors = domain.statement_range_errors(query["from_"], query["to"], clock.today())
    if errors:
        raise ValidationError(fields=errors)
    return account


def get_statement(
    db, clock, member_number, account_number, date_from, date_to, page, page_size, order
):
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


def daily_balances(db, clock, member_number, account_number, date_from, date_to):
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


def transfer_destination(db, account_number, identification):
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
