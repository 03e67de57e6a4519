"""What a report shows, independent of how it is drawn: titles, formats of money and dates."""

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

# the report templates' filters (renderer.py): the one es-EC formatting of the portal
from services.common.ecuador_locale import fecha, money, number  # noqa: F401

# --- Statement layout -------------------------------------------------------------------------
#
# A statement can hold thousands of movements. WeasyPrint spends about 1 ms per table cell
# (style, layout and drawing are each linear in the number of boxes), so a 2 000-row table of six
# columns takes many seconds. A statement is instead printed the way banks print them: one line
# of fixed-width columns per movement, in a monospaced font — one text box per movement instead
# of six. The line height is fixed, so how many movements fit on a page is known in advance: the
# pages are cut here, each carries its literal "Página X de Y", and pages can be drawn in
# parallel chunks and merged without renumbering.

DATE_WIDTH = 10
DESCRIPTION_WIDTH = 42
REFERENCE_WIDTH = 12
AMOUNT_WIDTH = 13
BALANCE_WIDTH = 14

# a movement or an installment as the report RPC receives it (JSON: amounts and dates as text)
WireRow = Mapping[str, Any]
Block = list[str]  # the printed lines of one movement, never split across pages


def _cut(text: str | None, width: int) -> list[str]:
    """Lines of at most `width` characters, broken at spaces when possible (nothing is lost)."""
    words = (text or "").split()
    lines: list[str] = []
    current = ""
    for word in words:
        while len(word) > width:
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:width])
            word = word[width:]
        if not current:
            current = word
        elif len(current) + 1 + len(word) <= width:
            current = f"{current} {word}"
        else:
            lines.append(current)
            current = word
    if current or not lines:
        lines.append(current)
    return lines


def _amount(value: object) -> str:
    if value in (None, ""):
        return ""
    return "" if Decimal(str(value)) == 0 else number(value)


def column_titles() -> str:
    return " ".join(
        (
            "Fecha".ljust(DATE_WIDTH),
            "Descripción".ljust(DESCRIPTION_WIDTH),
            "Referencia".ljust(REFERENCE_WIDTH),
            "Débito".rjust(AMOUNT_WIDTH),
            "Crédito".rjust(AMOUNT_WIDTH),
            "Saldo".rjust(BALANCE_WIDTH),
        )
    )


def movement_lines(movement: WireRow) -> Block:
    """The printed lines of one movement: the first with every column, then the rest of a long
    description (or reference) on continuation lines."""
    description = _cut(movement.get("description"), DESCRIPTION_WIDTH)
    reference = _cut(movement.get("reference") or "", REFERENCE_WIDTH)
    first = " ".join(
        (
            fecha(movement.get("date")).ljust(DATE_WIDTH),
            description[0].ljust(DESCRIPTION_WIDTH),
            reference[0].ljust(REFERENCE_WIDTH),
            _amount(movement.get("debit")).rjust(AMOUNT_WIDTH),
            _amount(movement.get("credit")).rjust(AMOUNT_WIDTH),
            number(movement.get("balance")).rjust(BALANCE_WIDTH),
        )
    )
    lines = [first.rstrip()]
    for extra in range(1, max(len(description), len(reference))):
        text = description[extra] if extra < len(description) else ""
        ref = reference[extra] if extra < len(reference) else ""
        lines.append((" " * DATE_WIDTH + " " + text.ljust(DESCRIPTION_WIDTH) + " " + ref).rstrip())
    return lines


def paginate(
    blocks: Iterable[Block], first_capacity: int, capacity: int, closing_lines: int
) -> list[list[Block]]:
    """Cut blocks of lines (one block per movement, never split) into pages.

    The first page holds `first_capacity` lines (it also carries the statement's heading), the
    others `capacity`; the last page must keep `closing_lines` free for the totals, else a page
    is added for them. Returns a list of pages, each a list of blocks; at least one page.
    """
    if first_capacity < 1 or capacity < 1:
        raise ValueError("a page must hold at least one line")
    pages: list[list[Block]] = []
    current: list[Block] = []
    room = first_capacity
    for block in blocks:
        size = len(block)
        if size > room and current:
            pages.append(current)
            current, room = [], capacity
        current.append(block)
        room -= size
    pages.append(current)
    if room < closing_lines:
        pages.append([])
    return pages


def balanced_chunks(count: int, parts: int, minimum: int = 1) -> list[tuple[int, int]]:
    """Split `count` pages into at most `parts` contiguous (start, stop) ranges of similar size,
    none smaller than `minimum` pages (small documents stay in one piece)."""
    parts = max(1, min(parts, count // max(minimum, 1) or 1))
    size, extra = divmod(count, parts)
    ranges: list[tuple[int, int]] = []
    start = 0
    for index in range(parts):
        stop = start + size + (1 if index < extra else 0)
        ranges.append((start, stop))
        start = stop
    return ranges


# --- Amortization tables (loan table and credit simulation PDFs) --------------------------------
#
# Up to 240 installments: drawn like the statement, one monospaced line per installment (one box
# instead of eight, ~8× less work for WeasyPrint), the column titles repeated on every page (the
# table's header group) and the grand totals printed once, after the last installment.

SCHEDULE_WIDTHS = (3, 10, 11, 10, 13, 11, 12)
SCHEDULE_TITLES = ("N.º", "Vencimiento", "Capital", "Interés", "Seguro desgr.", "Cuota", "Saldo")
# two spaces between columns: with one, a full-width title ("Seguro desgr.") or a balance over
# 10 000 ran into its neighbour ("Interés Seguro", "11.736,48 pagada"); 101 characters still fit
# A4 between the margins at 8 pt
COLUMN_GAP = "  "


def schedule_columns(with_status: bool = True) -> str:
    cells = [
        title.rjust(width) if index in (0, 2, 3, 4, 5, 6) else title.ljust(width)
        for index, (title, width) in enumerate(zip(SCHEDULE_TITLES, SCHEDULE_WIDTHS, strict=True))
    ]
    return COLUMN_GAP.join(cells + (["Estado"] if with_status else []))


def schedule_line(row: WireRow, with_status: bool = True) -> str:
    """One installment on one line: amounts es-EC without the "$" (the columns say USD)."""
    n, d, c, i, s, q, b = SCHEDULE_WIDTHS
    cells = [
        str(row.get("number", "")).rjust(n),
        fecha(row.get("due_date")).ljust(d),
        number(row.get("principal")).rjust(c),
        number(row.get("interest")).rjust(i),
        number(row.get("insurance")).rjust(s),
        number(row.get("installment")).rjust(q),
        number(row.get("balance")).rjust(b),
    ]
    if with_status:
        status = row.get("status") or ""
        if row.get("paid_on"):
            status = f"{status} {fecha(row.get('paid_on'))}"
        cells.append(status)
    return COLUMN_GAP.join(cells)


# --- A receipt's amount in words ------------------------------------------------------------------


def amount_words(value: object) -> str:
    """An amount as an Ecuadorian receipt writes it: the dollars in Spanish words, the cents as
    `con NN/100` ('1234.56' → 'MIL DOSCIENTOS TREINTA Y CUATRO DÓLARES CON 56/100')."""
    from num2words import num2words  # type: ignore[import-untyped]  # no stubs published

    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    dollars = int(amount)
    cents = int((amount - dollars) * 100)
    words = str(num2words(dollars, lang="es"))
    # before a noun "uno" is "un": veintiún dólares, ciento un dólares, un dólar
    if words.endswith("veintiuno"):
        words = words[: -len("veintiuno")] + "veintiún"
    elif words.endswith("uno"):
        words = words[: -len("uno")] + "un"
    noun = "DÓLAR" if dollars == 1 else "DÓLARES"
    # "un millón de dólares": a round million takes "de" before the noun
    joint = " DE" if words.endswith(("millón", "millones")) else ""
    return f"{words.upper()}{joint} {noun} CON {cents:02d}/100"
