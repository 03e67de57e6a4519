"""The accounts service's files of the bulk load (members.csv, accounts.csv, movements.csv;
docs/integration.md): each row checked by the schema of the inbound event it stands for
(schemas.py), so a CSV row and an event are held to the same rules (services/common/core_data.py).
"""

from datetime import UTC, date, datetime
from decimal import Decimal

from services.accounts.schemas import AccountOpenedSchema, CoreMovementSchema, MemberUpsertedSchema
from services.common.core_data import MONEY2_RE, Parsed, Parser, RawRow, SchemaParser

_parse_member = SchemaParser(MemberUpsertedSchema, optional=("phone",), extra_dates=("joined_on",))
parse_account = SchemaParser(AccountOpenedSchema)
_movement_schema = SchemaParser(CoreMovementSchema, ints=("sequence",))


def parse_member(raw: RawRow) -> Parsed:
    clean, errors = _parse_member(raw)
    if clean is not None and clean.get("phone") == "":
        clean["phone"] = None
    return clean, errors


def parse_movement(raw: RawRow) -> Parsed:
    """A million of these in a bulk load: a good row takes a fast path that accepts only what
    the event schema accepts; anything else goes through the schema, which names the problem."""
    try:
        account, reference, description = (
            raw["account_number"],
            raw["reference"],
            raw["description"],
        )
        sequence, debit, credit, balance = (
            raw["sequence"],
            raw["debit"],
            raw["credit"],
            raw["balance"],
        )
        posted = raw["posted_at"]
        if (
            0 < len(account) <= 16
            and 0 < len(reference) <= 40
            and 0 < len(description) <= 120
            and sequence.isdigit()
            and len(sequence) < 10
            and sequence[0] != "0"
            and MONEY2_RE.fullmatch(debit)
            and MONEY2_RE.fullmatch(credit)
            and MONEY2_RE.fullmatch(balance)
            and (debit == "0.00") != (credit == "0.00")
            and len(raw["date"]) == 10
            and posted[-1:] == "Z"
        ):
            instant = datetime.fromisoformat(posted[:-1])
            if instant.tzinfo is None:
                return {
                    "account_number": account,
                    "sequence": int(sequence),
                    "date": date.fromisoformat(raw["date"]),
                    "posted_at": instant,
                    "description": description,
                    "reference": reference,
                    "debit": Decimal(debit),
                    "credit": Decimal(credit),
                    "balance": Decimal(balance),
                }, []
    except (KeyError, TypeError, ValueError, IndexError):
        pass
    clean, errors = _movement_schema(raw)
    if clean is not None:
        instant = clean["posted_at"]
        if instant.tzinfo is not None:  # stored as naive UTC
            clean["posted_at"] = instant.astimezone(UTC).replace(tzinfo=None)
    return clean, errors


PARSERS: dict[str, Parser] = {
    "members.csv": parse_member,
    "accounts.csv": parse_account,
    "movements.csv": parse_movement,
}
