"""Search in a statement's movements: by text (description or reference) and by amount.

One field. Words are looked for in the description and the reference, without regard to case
or accents ("deposito" finds "Depósito"); a query that reads as an amount the es-EC way
(`1.250,00`, `1250`, `$ 1.250`; gateway/web/amounts.py) also finds the movements whose debit or
credit is that amount, to the cent. A query of digits and separators that reads two ways
(`1,250.00`) is answered with the expected format, never guessed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gateway.web.amounts import read_amounts

MAX_QUERY = 80
_AMOUNT_LIKE = re.compile(r"^\$?\s*[\d.,\s]+$")


def _folded(text: Any) -> str:
    decomposed = unicodedata.normalize("NFKD", str(text or "").casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


@dataclass(frozen=True)
class Search:
    text: str
    amount: Decimal | None

    def matches(self, movement: Mapping[str, Any]) -> bool:
        if self.amount is not None and self.amount in (
            Decimal(str(movement["debit"])),
            Decimal(str(movement["credit"])),
        ):
            return True
        haystack = _folded(f"{movement.get('description') or ''} {movement.get('reference') or ''}")
        return bool(self.text) and all(word in haystack for word in self.text.split())


def read_search(query: str | None) -> tuple[Search | None, list[str]]:
    """(the search, errors for the field): None when the field is empty."""
    raw = " ".join((query or "").split())[:MAX_QUERY]
    if not raw:
        return None, []
    amount = None
    if _AMOUNT_LIKE.match(raw):
        amounts, errors = read_amounts({"buscar": raw}, ["buscar"])
        if errors:
            return None, errors["buscar"]
        # zero is the empty side of every movement: it finds nothing by amount
        amount = Decimal(amounts["buscar"]) or None
    return Search(text=_folded(raw), amount=amount), []


def matching(movements: Iterable[Mapping[str, Any]], search: Search) -> list[Mapping[str, Any]]:
    return [m for m in movements if search.matches(m)]
