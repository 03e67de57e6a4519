"""The deposit service's file of the bulk load (deposits.csv; docs/integration.md): each row
checked by the schema of the `deposit_opened` event it stands for (schemas.py), so a CSV row and
an event are held to the same rules (services/common/core_data.py).
"""

from services.common.core_data import Parser, SchemaParser
from services.deposit.schemas import DepositOpenedSchema

parse_deposit = SchemaParser(DepositOpenedSchema, ints=("term_days",))

PARSERS: dict[str, Parser] = {"deposits.csv": parse_deposit}
