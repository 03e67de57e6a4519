"""maria's loan in arrears on a 360 px phone and a 1366 px desktop (issue 26): the position, the
loan list and the loan page say since when and how many days, the late interest and the total to
pay today on the core's date (the same figures in every place), the loan page its overdue and next
installment before the table, every word whole and nothing scrolling sideways. Run by
tests/e2e/test_credit_browser.py through tests/browser_runner.py (a process of its own)."""

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


MONEY = r"\$\s\d{1,3}(?:\.\d{3})*,\d\d"


def figures_of(text):
    """(late interest, total to pay today, the core's date) as a sentence says them."""
    text = " ".join(text.split())
    late = re.search(rf"[Ii]nterés de mora (?:de )?({MONEY})", text)[1]
    on = re.search(rf"según la cooperativa al ({DATE})", text)[1]
    return late, on


def arrears_on_a_phone(page, base):
    """At the viewport given (360 px or 1366 px): every place says the same figures of the
    core's snapshot, and the loan page shows the overdue and the next installment first."""
    base = base.rstrip("/")
    browser_login(page, base, "maria", "Socia-2026!")
    page.goto(base + "/")
    card = page.locator("#due-CR-100234-02")
    expect(card).to_contain_text(SINCE)
    expect(card).to_contain_text(ON)
    expect(card).to_contain_text("interés de mora")
    expect(card).not_to_contain_text("para evitar intereses de mora")
    said = figures_of(card.inner_text())
    total = " ".join(card.locator(".due-amount").inner_text().split())
    since = re.search(SINCE, card.inner_text())[0].removeprefix("vencida desde ")
    reads_whole(page)
    page.goto(base + "/creditos")
    row = page.locator("table tbody tr", has_text="CR-100234-02")
    expect(row).to_contain_text(SINCE)
    expect(row).to_contain_text(ON)
    assert figures_of(row.inner_text()) == said
    assert total in " ".join(row.inner_text().split())
    reads_whole(page)
    page.goto(base + "/creditos/CR-100234-02")
    notice = page.locator("#loan-arrears")
    expect(notice).to_contain_text(SINCE)
    expect(notice).to_contain_text("Interés de mora $")
    expect(notice).to_contain_text(ON)
    assert figures_of(notice.inner_text()) == said
    assert total in " ".join(notice.inner_text().split())
    assert since in " ".join(notice.inner_text().split())
    # what she came for, before the table: the overdue installment, then the next one (never a
    # past date), both within the first screen on a desktop and right after the figures on a
    # phone
    to_pay = page.locator("#loan-to-pay tbody tr")
    expect(to_pay.first).to_contain_text("vencida desde")
    expect(to_pay.last).to_contain_text("próxima")
    top = to_pay.first.evaluate("e => e.getBoundingClientRect().top + window.scrollY")
    schedule = page.locator("table.schedule").first
    assert top < schedule.evaluate("e => e.getBoundingClientRect().top + window.scrollY")
    if page.viewport_size["width"] >= 1024:
        assert top < page.viewport_size["height"], top
    reads_whole(page)
