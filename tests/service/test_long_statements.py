"""Statements of any range up to ten years (docs/api.md): the page stays paged, the PDF comes
inline when it is small and is prepared in the background, with its progress, when it is long."""

import io
import re
import time
from datetime import timedelta

import pytest
from pypdf import PdfReader

from services.reports.service import ReportsService
from tests.helpers import api_login, start_auth_stack, start_gateway


@pytest.fixture
def maria(service_config, container_factory, today, http_session):
    start_auth_stack(container_factory, service_config, today)
    container_factory(ReportsService, service_config).start()
    start_gateway(container_factory, service_config)
    http_session.cookies.set("portal_session", api_login(http_session, "maria", "Socia-2026!"))
    return http_session


def three_years(today):
    return {
        "cuenta": "4100234001",
        "desde": (today - timedelta(days=3 * 365)).isoformat(),
        "hasta": today.isoformat(),
    }


def pdf_text(content):
    reader = PdfReader(io.BytesIO(content))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def test_a_three_year_statement_on_screen_is_paged(maria, today):
    page = maria.get("/estado-de-cuenta", params=three_years(today))
    assert page.status_code == 200
    total = int(re.search(r"· (\d+) movimientos", page.text)[1])
    assert total == 480  # the demo's whole history of the account (730 days)
    assert re.search(r"Página 1 de (\d+)", page.text)[1] == str(-(-total // 50))
    assert page.text.count('<tr><td data-label="Fecha">') == 50


def test_a_three_year_statement_as_pdf(maria, today):
    answer = maria.get("/estado-de-cuenta/reporte", params=three_years(today))
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/pdf"
    _, text = pdf_text(answer.content)
    assert "4100234001" in text and "480" in text.replace(".", "")


def test_a_long_statement_is_prepared_in_the_background_never_a_timeout(maria, today, monkeypatch):
    monkeypatch.setenv("STATEMENT_INLINE_MOVEMENTS", "100")  # 480 movements count as long
    started = maria.get(
        "/estado-de-cuenta/reporte", params=three_years(today), allow_redirects=False
    )
    assert started.status_code == 303
    job_page = started.headers["Location"]
    assert job_page.startswith("/estado-de-cuenta/reporte/")
    first = maria.get(job_page)
    assert first.status_code == 200 and "no-store" in first.headers["Cache-Control"]
    assert "Su reporte está listo" in first.text or 'id="job-progress"' in first.text
    deadline = time.monotonic() + 60
    while True:
        state = maria.get(job_page, params={"formato": "json"}).json()
        assert state["status"] in ("pending", "running", "ready"), state
        if state["status"] == "ready":
            break
        assert time.monotonic() < deadline, state
        time.sleep(0.2)
    ready = maria.get(job_page)
    assert "Su reporte está listo" in ready.text
    link = re.search(r'id="job-pdf" href="([^"]+)"', ready.text)[1]
    pdf = maria.get(link)
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert "no-store" in pdf.headers["Cache-Control"]
    assert "estado-de-cuenta-4100234001" in pdf.headers["Content-Disposition"]
    _, text = pdf_text(pdf.content)
    assert "4100234001" in text
    # the job is maria's only
    jose = api_login(maria, "jose", "Socio-2026!")
    assert maria.get(link, cookies={"portal_session": jose}).status_code == 404
    assert maria.get(job_page, cookies={"portal_session": jose}).status_code == 404
