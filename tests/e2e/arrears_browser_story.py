"""maria's loan in arrears on a 360 px phone (issue 26): the position, the loan list and the loan
page say since when and how many days, the late interest and the total to pay today on the core's
date, every word whole and nothing scrolling sideways. Run by tests/e2e/test_credit_browser.py
through tests/browser_runner.py (a process of its own)."""

import re

from playwright.sync_api import expect

from tests.e2e.deposit_browser_scenarios import READS_WHOLE
from tests.helpers import browser_login

DATE = r"\d\d/\d\d/\d{4}"
SINCE = re.compile(rf"vencida desde {DATE} \(\d+ días?\)")
ON = re.compile(rf"según la cooperativa al {DATE}")


def reads_whole(page):
    found = page.evaluate(READS_WHOLE)
    assert found == {"breaking": [], "tall": [], "cut": [], "sideways": False}, (page.url, found)


def arrears_on_a_phone(page, base):
    base = base.rstrip("/")
    browser_login(page, base, "maria", "Socia-2026!")
    page.goto(base + "/")
    card = page.locator("#due-CR-100234-02")
    expect(card).to_contain_text(SINCE)
    expect(card).to_contain_text(ON)
    expect(card).to_contain_text("interés de mora")
    expect(card).not_to_contain_text("para evitar intereses de mora")
    reads_whole(page)
    page.goto(base + "/creditos")
    row = page.locator("table tbody tr", has_text="CR-100234-02")
    expect(row).to_contain_text(SINCE)
    expect(row).to_contain_text(ON)
    reads_whole(page)
    page.goto(base + "/creditos/CR-100234-02")
    notice = page.locator("#loan-arrears")
    expect(notice).to_contain_text(SINCE)
    expect(notice).to_contain_text("Interés de mora $")
    expect(notice).to_contain_text(ON)
    reads_whole(page)
