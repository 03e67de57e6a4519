"""The reports service on the real broker: statements of thousands of movements, page numbers,
rendering off the eventlet loop, the cache of closed periods."""

import base64
import io

import eventlet
import pytest
from pypdf import PdfReader

from services.common.errors import NotFound
from services.reports import domain
from services.reports.service import ReportsService
from tests.report_samples import synthetic_loan, synthetic_statement


@pytest.fixture
def reports(service_config, container_factory, rpc_proxy):
    container = container_factory(ReportsService, service_config)
    container.start()
    return rpc_proxy("reports")


def pages_of(answer):
    reader = PdfReader(io.BytesIO(base64.b64decode(answer["pdf_base64"])))
    return [page.extract_text() for page in reader.pages]


def squeeze(text):
    return " ".join(text.split())


def test_statement_of_2000_movements_has_every_movement_and_numbered_pages(reports):
    data = synthetic_statement(2000)
    answer = reports.render("statement", data, filename="ec.pdf")
    assert answer["filename"] == "ec.pdf" and answer["content_type"] == "application/pdf"
    pages = pages_of(answer)
    assert len(pages) > 20
    for number, text in enumerate(pages, start=1):
        assert f"Página {number} de {len(pages)}" in text
    text = squeeze("\n".join(pages))
    for movement in data["movements"]:
        for line in domain.movement_lines(movement):
            assert squeeze(line) in text
    last = squeeze(pages[-1])
    assert (
        f"Saldo final al {domain.fecha(data['to'])}: {domain.money(data['closing_balance'])}"
        in last
    )
    assert f"Total débitos: {domain.money(data['total_debits'])}" in last


def test_empty_statement_says_so_on_one_page(reports):
    data = synthetic_statement(0)
    pages = pages_of(reports.render("statement", data))
    assert len(pages) == 1
    assert "No hay movimientos en el período." in pages[0]
    assert "Página 1 de 1" in pages[0]


def test_ping_is_answered_while_a_big_statement_renders(reports, rpc_proxy):
    # the render runs in worker processes, off the service's eventlet loop: ten pings sent after
    # the render (a second client) are all answered before it
    order, rendered = [], []
    pending = reports.render.call_async("statement", synthetic_statement(3000))
    waiter = eventlet.spawn(lambda: (rendered.append(pending.result()), order.append("render")))
    pinger = rpc_proxy("reports")
    for _ in range(10):
        assert pinger.ping() == "pong"
        order.append("ping")
    waiter.wait()
    assert order == ["ping"] * 10 + ["render"]
    assert len(pages_of(rendered[0])) > 30


def test_closed_periods_come_from_the_cache(reports, tmp_path):
    data = synthetic_statement(60)
    first = reports.render("statement", data, cacheable=True)
    cached = list((tmp_path / "var" / "cache" / "reports").glob("*.pdf"))
    assert len(cached) == 1
    second = reports.render("statement", data, cacheable=True)
    assert second["pdf_base64"] == first["pdf_base64"]
    other = reports.render("statement", {**data, "closing_balance": "1.00"}, cacheable=True)
    assert other["pdf_base64"] != first["pdf_base64"]


def test_unknown_document_is_not_found(reports):
    with pytest.raises(NotFound):
        reports.render("../../etc/passwd", {"title": "x"})
    with pytest.raises(NotFound):
        reports.render("no_such_report", {"title": "x"})


def test_a_240_row_loan_table_names_itself_on_every_page_and_totals_once_at_the_end(reports):
    data = synthetic_loan(240)
    pages = pages_of(reports.render("loan_schedule", data))
    assert len(pages) > 2
    for number, text in enumerate(pages, start=1):
        assert "Tabla de amortización · Crédito CR-100234-09" in text, number
        assert f"Página {number} de {len(pages)}" in text
        assert domain.schedule_columns() in text  # the column titles on every page
    totals = [n for n, text in enumerate(pages, start=1) if "Totales" in text]
    assert totals == [len(pages)]  # once, after the last installment
    assert "$ 85.000,00" in pages[-1]  # total capital
    every_line = "\n".join(pages)
    for row in data["loan"]["rows"]:
        # each installment on one line: number, date and every amount together
        assert domain.schedule_line(row) in every_line, row["number"]
