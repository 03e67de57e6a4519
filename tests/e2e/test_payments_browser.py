"""Transferencias in headless chromium on the real processes with the demo core answering
(tests/e2e/payments_story.py): at 360 px and at 1366 px maria orders, confirms and gets the
receipt of a transfer between her own accounts; on a phone she pays her overdue installment
(*Pagar cuota*). A portal of the module's own: the orders change maria's balances for good."""

import signal
import subprocess
import sys

import pytest

from scripts import broker_users
from services.common.config import PROJECT_ROOT
from tests.browser_runner import run_story
from tests.e2e.private_portal import private_portal
from tests.service.core_tools import core_uri

SIZES = {
    "phone": ({"width": 360, "height": 740}, "1.234,56", "$ 1.234,56", "1.500,00"),
    "desktop": ({"width": 1366, "height": 900}, "25,5", "$ 25,50", "1.400,00"),
}


@pytest.fixture(scope="module")
def portal_with_core(tmp_path_factory, rabbit_manager, amqp_base):
    with private_portal(tmp_path_factory.mktemp("payments"), rabbit_manager, amqp_base) as portal:
        broker_users.declare_requests(portal.amqp_uri)  # what `make run` does at start
        core = subprocess.Popen(  # noqa: S603  our own demo core
            [sys.executable, "-m", "scripts.demo_core"],
            cwd=PROJECT_ROOT,
            env={**portal.env, "CORE_AMQP_URI": core_uri(portal.amqp_uri)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield portal
        finally:
            core.send_signal(signal.SIGTERM)
            core.wait(20)


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("size", list(SIZES))
def test_a_transfer_ordered_confirmed_and_its_receipt(portal_with_core, size):
    viewport, typed, shown, daily = SIZES[size]
    run_story(
        "tests.e2e.payments_story:transfers",
        portal_with_core.base_url,
        viewport=viewport,
        username="maria",
        password="Socia-2026!",
        amount_typed=typed,
        amount_shown=shown,
        daily_limit=daily,
    )


@pytest.mark.browser
@pytest.mark.slow
def test_maria_pays_her_overdue_installment_on_a_phone(portal_with_core):
    run_story(
        "tests.e2e.payments_story:loan_payment",
        portal_with_core.base_url,
        viewport=SIZES["phone"][0],
        username="maria",
        password="Socia-2026!",
        loan_number="CR-100234-02",
    )
