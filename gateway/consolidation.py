"""The consolidated position: merging what accounts, credit and deposit answered (pure rules).

The gateway asks the three services in parallel with one deadline; whatever did not answer in
time is named in `unavailable` and the rest is still shown. A total that would need a missing
section is `None` (shown as "No disponible"), never a misleading partial sum.

The fields of a row are those of its service's position schema (its contracts module), never
listed here again.
"""

from decimal import Decimal

from services.accounts.contracts import SHARES_PRODUCT, SavingsPositionSchema, SharePositionSchema
from services.common.money import fmt
from services.credit.contracts import LoanPositionSchema
from services.deposit.contracts import DepositPositionSchema

SECTIONS = ("savings", "deposits", "loans")
ZERO = Decimal("0.00")


def wire_names(schema):
    """The keys a schema's rows carry on the wire, in its order."""
    return tuple(field.data_key or name for name, field in schema().fields.items())


SAVINGS_FIELDS = wire_names(SavingsPositionSchema)
SHARE_FIELDS = wire_names(SharePositionSchema)
DEPOSIT_FIELDS = wire_names(DepositPositionSchema)
LOAN_FIELDS = wire_names(LoanPositionSchema)


def _pick(rows, names):
    return [{name: row.get(name) for name in names if name in row} for row in rows or []]


def _sum(rows, field):
    return sum((Decimal(str(row.get(field) or "0")) for row in rows), ZERO)


def totals(savings, deposits, loans, unavailable, shares=()):
    """Money totals (Decimal or None when a section they need is missing). The certificados de
    aportación (`shares`) come from accounts with the savings: missing together."""
    missing = set(unavailable)
    saved = None if "savings" in missing else _sum(savings, "balance")
    capital = None if "savings" in missing else _sum(shares, "balance")
    deposited = None if "deposits" in missing else _sum(deposits, "amount")
    owed = None if "loans" in missing else _sum(loans, "outstanding_principal")
    assets = (
        None
        if saved is None or deposited is None or capital is None
        else saved + deposited + capital
    )
    net = None if assets is None or owed is None else assets - owed
    return {
        "savings": saved,
        "deposits": deposited,
        "shares": capital,
        "assets": assets,
        "loans_outstanding": owed,
        "net": net,
    }


def build_position(member, savings, deposits, loans, unavailable, generated_at):
    """docs/api.md's consolidated position; `savings/deposits/loans` are the services' answers (None
    when their service is in `unavailable`)."""
    missing = [section for section in SECTIONS if section in set(unavailable)]
    accounts = [] if "savings" in missing else savings or []
    # certificados de aportación are the member's capital, not savings: a section of their own
    savings_rows = _pick(
        [a for a in accounts if a.get("product") != SHARES_PRODUCT], SAVINGS_FIELDS
    )
    share_rows = _pick([a for a in accounts if a.get("product") == SHARES_PRODUCT], SHARE_FIELDS)
    deposit_rows = [] if "deposits" in missing else _pick(deposits, DEPOSIT_FIELDS)
    loan_rows = [] if "loans" in missing else _pick(loans, LOAN_FIELDS)
    money = totals(savings_rows, deposit_rows, loan_rows, missing, share_rows)
    return {
        "member": member,
        "generated_at": generated_at,
        "savings": savings_rows,
        "shares": share_rows,
        "deposits": deposit_rows,
        "loans": loan_rows,
        "totals": {key: None if value is None else fmt(value) for key, value in money.items()},
        "unavailable": missing,
    }
