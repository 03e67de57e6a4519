"""What a member still tripped on (issue 26): one combined story at a phone's and a desktop's
size (tests/e2e/member_ux_story.py), on a portal of the module's own (it saves and withdraws
applications)."""

import pytest

from tests.browser_runner import run_story

SIZES = {
    "phone": ({"width": 360, "height": 740}, "25.000"),
    "desktop": ({"width": 1366, "height": 900}, "26.000,00"),
}


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("size", list(SIZES))
def test_a_members_pages_at_360_and_1366_px(private_portal, size):
    viewport, amount = SIZES[size]
    run_story(
        "tests.e2e.member_ux_story:member_ux",
        private_portal.base_url,
        viewport=viewport,
        size=size,
        amount=amount,
    )
