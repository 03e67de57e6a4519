"""A statement as a CSV file a spreadsheet in Ecuador opens as it is (docs/statements.md).

Excel and LibreOffice set up for Spanish (Ecuador) split columns at `;` (the `,` is the decimal
mark), read `1234,50` as a number and `dd/mm/aaaa` as a date, and take the file as UTF-8 only
when it starts with a byte-order mark (without it "Depósito" shows as "DepÃ³sito"). Amounts carry
no thousands mark, so no spreadsheet can read `1.234` as one-point-something.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from services.common.ecuador_locale import fecha

BOM = "\ufeff"
HEADER = ("Fecha", "Descripción", "Referencia", "Débito", "Crédito", "Saldo")
# a cell starting with one of these is a formula to a spreadsheet: text from the core never is
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_amount(value: Any) -> str:
    """`1234.5` → `1234,50`; zero debits or credits are left empty, as on the page."""
    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    return f"{amount:f}".replace(".", ",")


def _text(value: Any) -> str:
    text = " ".join(str(value or "").split())
    return "'" + text if text.startswith(FORMULA_START) else text


def statement_csv(movements: Iterable[Mapping[str, Any]]) -> bytes:
    """The movements as CSV (UTF-8 with BOM, `;`, decimal comma, dd/mm/aaaa, CRLF)."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    for m in movements:
        debit, credit = Decimal(str(m["debit"])), Decimal(str(m["credit"]))
        writer.writerow(
            (
                fecha(m["date"]),
                _text(m.get("description")),
                _text(m.get("reference")),
                csv_amount(debit) if debit else "",
                csv_amount(credit) if credit else "",
                csv_amount(m["balance"]),
            )
        )
    return out.getvalue().encode("utf-8")


def csv_filename(account_number: str, date_from: Any, date_to: Any) -> str:
    return f"estado-de-cuenta-{account_number}-{date_from}-{date_to}.csv"
