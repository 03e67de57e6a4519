"""Estado de cuenta end to end: real processes, real login, a real browser."""

import io
import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader

from services.common.clock import CLOCK
from tests.helpers import api_login, bearer


def pdf_text(content):
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@pytest.mark.parametrize("username, password", [("maria", "Socia-2026!"), ("jose", "Socio-2026!")])
def test_position_and_statement_over_the_api(api, username, password):
    headers = bearer(api_login(api, username, password))
    position = api.get("/api/v1/position", headers=headers).json()
    assert position["unavailable"] == []
    totals = {k: Decimal(v) for k, v in position["totals"].items()}
    # certificados de aportación are capital, counted in the assets apart from savings
    assert totals["assets"] == totals["savings"] + totals["deposits"] + totals["shares"]
    assert totals["shares"] == sum(Decimal(s["balance"]) for s in position["shares"])
    assert totals["net"] == totals["assets"] - totals["loans_outstanding"]
    assert totals["savings"] == sum(Decimal(s["balance"]) for s in position["savings"])
    account = position["savings"][0]["account_number"]
    today = CLOCK.today()
    params = {"from": (today - timedelta(days=180)).isoformat(), "to": today.isoformat()}
    statement = api.get(
        f"/api/v1/accounts/{account}/statement", params=params, headers=headers
    ).json()
    assert Decimal(statement["opening_balance"]) + Decimal(statement["total_credits"]) - Decimal(
        statement["total_debits"]
    ) == Decimal(statement["closing_balance"])
    pdf = api.get(f"/api/v1/accounts/{account}/statement.pdf", params=params, headers=headers)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_maria_has_loans_and_a_deposit_and_jose_has_none(api):
    maria = api.get("/api/v1/position", headers=bearer(api_login(api, "maria", "Socia-2026!")))
    body = maria.json()
    assert {loan["loan_number"] for loan in body["loans"]} == {"CR-100234-01", "CR-100234-02"}
    assert [d["deposit_number"] for d in body["deposits"]] == ["DPF-100234-01"]
    assert body["totals"]["deposits"] == "5000.00"
    jose = api.get("/api/v1/position", headers=bearer(api_login(api, "jose", "Socio-2026!")))
    assert jose.json()["loans"] == [] and jose.json()["deposits"] == []


@pytest.mark.browser
def test_maria_position_report_statement_and_download(portal):
    """The scenario runs in a plain child process: playwright's sync API stalls under the
    eventlet monkey-patching of the pytest process (see statements_browser_scenario.py)."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.e2e.statements_browser_scenario", portal.url("/")],
        capture_output=True,
        text=True,
        timeout=180,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "position report, statement and download: ok" in result.stdout
