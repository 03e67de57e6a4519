"""The statement's search and CSV (docs/statements.md "Search and CSV"), without services."""

from gateway.statement_csv import statement_csv
from gateway.web.statement_search import matching, read_search

MOVEMENTS = [
    {"date": "2026-11-03", "description": "Depósito en ventanilla", "reference": "DEP-1",
     "debit": "0.00", "credit": "1250.00", "balance": "3250.00"},
    {"date": "2026-11-04", "description": "Retiro cajero", "reference": "=HYPERLINK(1)",
     "debit": "40.50", "credit": "0.00", "balance": "3209.50"},
]  # fmt: skip


def found(query):
    search, errors = read_search(query)
    assert errors == []
    return [m["reference"] for m in matching(MOVEMENTS, search)]


def test_text_ignores_case_and_accents_and_amounts_are_read_es_ec():
    assert found("DEPOSITO ventanilla") == ["DEP-1"]
    assert found("1.250,00") == found("1250") == found("$ 1.250") == ["DEP-1"]
    assert found("40,50") == ["=HYPERLINK(1)"]
    assert found("0") == []  # not every movement's empty side


def test_an_amount_that_reads_two_ways_is_refused_not_guessed():
    search, errors = read_search("1,250.00")
    assert search is None and "2.500,00" in errors[0]


def test_csv_is_what_a_spreadsheet_in_ecuador_opens_and_runs_no_formula():
    content = statement_csv(MOVEMENTS)
    assert content.startswith(b"\xef\xbb\xbf")
    lines = content.decode("utf-8-sig").split("\r\n")
    assert lines[0] == "Fecha;Descripción;Referencia;Débito;Crédito;Saldo"
    assert lines[1] == "03/11/2026;Depósito en ventanilla;DEP-1;;1250,00;3250,00"
    assert lines[2] == "04/11/2026;Retiro cajero;'=HYPERLINK(1);40,50;;3209,50"
