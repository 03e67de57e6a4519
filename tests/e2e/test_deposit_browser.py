"""Plazo fijo in a real browser, on the running portal (every service as its own process).

The scenarios are in deposit_browser_scenarios.py; each runs in a child process of its own
(playwright's sync API stalls under the eventlet monkey-patching of this pytest process).
"""

import subprocess
import sys

import pytest

from services.common.config import PROJECT_ROOT
from tests.browser_runner import run_story
from tests.e2e.deposit_browser_scenarios import SCENARIOS


def run_scenario(portal, name):
    result = subprocess.run(
        [sys.executable, "-m", "tests.e2e.deposit_browser_scenarios", portal.url("/"), name],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, f"{name} failed:\n{result.stdout[-4000:]}{result.stderr[-4000:]}"
    assert result.stdout.strip().endswith("ok")


@pytest.mark.browser
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_plazo_fijo_in_the_browser(portal, scenario):
    run_scenario(portal, scenario)


@pytest.mark.browser
@pytest.mark.parametrize("width", [320, 360, 1366])
def test_plazo_fijo_reads_whole_on_a_small_phone_and_a_desktop(portal, width):
    run_story(
        "tests.e2e.deposit_browser_scenarios:plazo_fijo_reads_whole",
        portal.url("/"),
        viewport={"width": width, "height": 800},
    )
