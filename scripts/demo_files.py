"""The demo cooperative written as the core would send it: the bulk-load CSV files of
docs/integration.md (members, accounts, movements, loans, installments, guarantors, deposits).

`scripts.portal setup` writes them under var/demo-core/ and loads them with the bulk import, the
one way in for data. Deterministic: the census (services/common/demo.py) and every figure derive
from fixed seeds and `today`, so README's demo logins and figures stay true.
"""

import csv
from pathlib import Path

from services.common import core_data
from services.common.db import session_scope


def write_csv(path, name, rows):
    required, optional = core_data.FILES[name]
    columns = list(required) + [c for c in optional if rows and c in rows[0]]
    with open(Path(path) / name, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def write(directory, today, urls, count=None):
    """Write the census's files into `directory`; `urls` of the credit and deposit databases give
    the products and the rate chart (the core's own rates). Returns {file: rows}."""
    from services.accounts.demo import census_rows as accounts_rows
    from services.credit.demo import census_dues, products_of
    from services.credit.demo import census_rows as credit_rows
    from services.deposit.demo import census_rows as deposit_rows

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    members, accounts, movements = accounts_rows(today, count)
    with session_scope(urls["credit"]) as session:
        loans, installments, guarantors = credit_rows(products_of(session), today, count)
    with session_scope(urls["deposit"]) as session:
        deposits = deposit_rows(session, today, count)
    files = {
        "members.csv": members,
        "accounts.csv": accounts,
        "movements.csv": movements,
        "loans.csv": loans,
        "installments.csv": installments,
        "guarantors.csv": guarantors,
        "deposits.csv": deposits,
        "loan_dues.csv": census_dues(loans, installments, today),
    }
    for name, rows in files.items():
        write_csv(directory, name, rows)
    return {name: len(rows) for name, rows in files.items()}
