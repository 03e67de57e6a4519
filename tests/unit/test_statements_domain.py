"""Pure rules of "Estado de cuenta": the statement's printed lines and pages, the position's
totals, the statement's default range."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.api.accounts import statement_range
from gateway.consolidation import build_position, totals
from services.common.clock import CLOCK
from services.common.errors import ValidationError
from services.reports import domain, renderer

MOVEMENT = {
    "date": "2026-03-05",
    "description": "Transferencia recibida de la cuenta de ahorros de un socio de nombre extenso",
    "reference": "TRF-2026-000123456",
    "debit": "0.00",
    "credit": "1234.50",
    "balance": "98765.43",
}


def test_a_movement_prints_on_one_line_with_every_column():
    short = {**MOVEMENT, "description": "Depósito en ventanilla", "reference": "VT-1"}
    (line,) = domain.movement_lines(short)
    assert line.startswith("05/03/2026 Depósito en ventanilla")
    assert line.endswith("1.234,50      98.765,43")
    assert "VT-1" in line
    assert len(line) <= len(domain.column_titles())


def test_a_long_description_continues_on_the_next_lines_and_loses_nothing():
    lines = domain.movement_lines(MOVEMENT)
    assert len(lines) == 2
    words = " ".join(lines).split()
    for word in MOVEMENT["description"].split():
        assert word in words
    assert "TRF-2026-000" in lines[0] and "123456" in lines[1]


@given(st.text(alphabet="abcdefghij ", max_size=200), st.integers(min_value=3, max_value=50))
def test_cut_keeps_every_character_within_the_width(text, width):
    lines = domain._cut(text, width)
    assert all(len(line) <= width for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


@given(
    st.lists(st.integers(min_value=1, max_value=4), max_size=300),
    st.integers(min_value=4, max_value=60),
    st.integers(min_value=4, max_value=80),
    st.integers(min_value=0, max_value=10),
)
def test_pages_respect_capacities_never_split_a_movement_and_leave_room_for_totals(
    sizes, first, other, closing
):
    blocks = [[f"m{i}"] * size for i, size in enumerate(sizes)]
    pages = domain.paginate(blocks, first, other, closing)
    assert [b for page in pages for b in page] == blocks  # every movement, in order, whole
    for number, page in enumerate(pages):
        assert sum(len(b) for b in page) <= (first if number == 0 else other)
    if pages[-1]:  # the totals fit under the last movements, else they got a page of their own
        last_capacity = first if len(pages) == 1 else other
        assert last_capacity - sum(len(b) for b in pages[-1]) >= closing


@given(st.integers(min_value=1, max_value=500), st.integers(min_value=1, max_value=8))
def test_chunks_cover_every_page_once(count, parts):
    chunks = domain.balanced_chunks(count, parts, renderer.MIN_CHUNK_PAGES)
    covered = [page for start, stop in chunks for page in range(start, stop)]
    assert covered == list(range(count))
    assert len(chunks) <= parts


def test_statement_pages_are_numbered_and_hold_every_line():
    data = {"movements": [dict(MOVEMENT, reference=str(i)) for i in range(300)]}
    pages = renderer.statement_pages(data)
    first, other, _ = renderer.statement_capacities()
    assert [p["number"] for p in pages] == list(range(1, len(pages) + 1))
    assert sum(len(p["lines"]) for p in pages) == 600
    assert len(pages[0]["lines"]) <= first
    assert all(len(p["lines"]) <= other for p in pages[1:])


def test_position_totals_in_decimal_to_the_cent():
    savings = [{"balance": "100.10"}, {"balance": "0.20"}]
    deposits = [{"amount": "5000.00"}]
    loans = [{"outstanding_principal": "1234.56"}, {"outstanding_principal": "0.01"}]
    result = totals(savings, deposits, loans, [])
    assert result == {
        "savings": Decimal("100.30"),
        "deposits": Decimal("5000.00"),
        "shares": Decimal("0.00"),
        "assets": Decimal("5100.30"),
        "loans_outstanding": Decimal("1234.57"),
        "net": Decimal("3865.73"),
    }


def test_certificados_de_aportacion_are_shares_apart_from_savings_and_count_in_assets():
    accounts = [
        {"account_number": "1", "product": "AHORRO_VISTA", "product_name": "A", "balance": "10.00"},
        {"account_number": "3", "product": "CERTIFICADOS", "product_name": "C", "balance": "2.50"},
    ]
    position = build_position({}, accounts, [{"amount": "100.00"}], [], [], "t")
    assert [a["account_number"] for a in position["savings"]] == ["1"]
    assert position["shares"] == [{"account_number": "3", "product_name": "C", "balance": "2.50"}]
    assert position["totals"]["savings"] == "10.00"
    assert position["totals"]["shares"] == "2.50"
    assert position["totals"]["assets"] == "112.50"
    missing = build_position({}, None, [], [], ["savings"], "t")
    assert missing["shares"] == [] and missing["totals"]["shares"] is None


def test_a_missing_section_blanks_only_the_totals_that_need_it():
    result = totals([{"balance": "10.00"}], [], [{"outstanding_principal": "3.00"}], ["deposits"])
    assert result["savings"] == Decimal("10.00")
    assert result["loans_outstanding"] == Decimal("3.00")
    assert result["deposits"] is None and result["assets"] is None and result["net"] is None


def test_position_shape_keeps_sections_in_order_and_money_as_strings():
    position = build_position(
        {"member_number": "1"},
        [{"account_number": "4", "product_name": "Ahorro", "balance": "1.5", "x": 1}],
        None,
        [],
        ["deposits"],
        "2026-11-25T16:47:33Z",
    )
    assert position["savings"] == [
        {"account_number": "4", "product_name": "Ahorro", "balance": "1.5"}
    ]
    assert position["deposits"] == [] and position["unavailable"] == ["deposits"]
    assert position["totals"]["savings"] == "1.50" and position["totals"]["net"] is None


def test_statement_range_defaults_to_the_current_month():
    today = date(2026, 11, 25)
    with CLOCK.travel(datetime(2026, 11, 25, 21, 0)):  # Ecuador; already the 26th in UTC
        assert statement_range({}) == (date(2026, 11, 1), today, 1, 100)
        assert statement_range({"to": "2026-10-10"})[:2] == (
            date(2026, 10, 1),
            date(2026, 10, 10),
        )


def test_statement_range_refuses_bad_formats_in_spanish():
    with pytest.raises(ValidationError) as err:
        statement_range({"from": "25/11/2026", "page_size": "1000"})
    assert err.value.fields == {
        "from": ["Fecha inválida: use el formato AAAA-MM-DD."],
        "page_size": ["Debe estar entre 1 y 500."],
    }
