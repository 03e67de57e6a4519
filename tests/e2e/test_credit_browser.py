"""Créditos in a real browser against the running portal: maria simulates, applies (Proyectar
then Grabar), sees her application, opens the table of a loan with an overdue installment and
downloads its PDF; jose has no active loan.

The browser is driven by tests/e2e/credit_browser_story.py in a process of its own (this test
process is monkey-patched by eventlet, under which playwright's navigation waits hang)."""

import json
import os
import re
import subprocess
import sys

import pytest
from pypdf import PdfReader

from services.common.config import PROJECT_ROOT
from tests.browser_runner import run_story as run_in_browser

STORY = PROJECT_ROOT / "tests" / "e2e" / "credit_browser_story.py"


def run_story(story, portal, out_dir):
    result = subprocess.run(
        [sys.executable, str(STORY), story, portal.base_url, str(out_dir)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(out_dir),
            # the login's second step reads the e-mailed code from the portal's var/mail
            # (tests/helpers.py browser_login): the project importable, the portal's directory
            "PYTHONPATH": str(PROJECT_ROOT),
            **{k: v for k, v in os.environ.items() if k.startswith("PORTAL_VAR_DIR")},
        },
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.browser
@pytest.mark.slow
def test_maria_simulates_applies_and_downloads_her_loan_table(portal, tmp_path):
    seen = run_story("maria", portal, tmp_path)
    # 2.2: the projected table of 12 monthly installments with its totals
    assert seen["simulation_rows"] == 12
    assert "Totales" in seen["simulation_footer"]
    # 2.3: no Grabar before Proyectar; the table shown, then the saved application listed
    assert seen["grabar_before_proyectar"] == 0
    assert seen["application_rows"] == 24
    assert "/creditos/solicitudes" in seen["after_grabar_url"]
    number = re.search(r"SC-\d{4}-\d{6}", seen["application_notice"]).group(0)
    assert "ingresada" in seen["application_notice"]
    assert number in seen["applications_table"]
    # 2.1: CR-100234-02 has exactly one overdue installment; its PDF holds it
    assert seen["overdue_rows"] == 1
    text = "\n".join(page.extract_text() for page in PdfReader(seen["pdf"]).pages)
    assert "CR-100234-02" in text and "vencida" in text
    # the overdue row's installment, in the table's es-EC figures without "$" (the columns say
    # USD); "Próxima cuota" is never that past installment any more (API.md, loans in arrears)
    installment = seen["overdue_installment"].replace("\xa0", " ").removeprefix("$ ")
    assert installment in text


@pytest.mark.browser
@pytest.mark.slow
def test_jose_sees_no_active_loans(portal, tmp_path):
    assert run_story("jose", portal, tmp_path) == {"no_loans": "No posee créditos vigentes"}


@pytest.mark.browser
@pytest.mark.parametrize("width,height", [(360, 740), (1366, 900)])
def test_a_loan_in_arrears_is_said_plainly_on_a_phone_and_a_desktop(portal, width, height):
    run_in_browser(
        "tests.e2e.arrears_browser_story:arrears_on_a_phone",
        portal.base_url,
        viewport={"width": width, "height": height},
    )
