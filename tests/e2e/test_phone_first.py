"""The portal at four screen sizes (issue 15): 360×740 and 390×844 phones, a 768×1024 tablet and
a 1366×900 desktop, one story each (tests/e2e/phone_first_story.py): no page scrolls sideways,
no money column of a listed table is off-screen, axe-core on every page, screenshots under
var/screenshots/<size>/07-telefono/."""

import pytest

from tests.browser_runner import run_story
from tests.e2e.private_portal import private_portal

SIZES = {
    "phone": {"width": 360, "height": 740},
    "phone-390": {"width": 390, "height": 844},
    "tablet": {"width": 768, "height": 1024},
    "desktop": {"width": 1366, "height": 900},
}


@pytest.fixture(scope="module")
def portal_of_maria(tmp_path_factory, rabbit_manager, amqp_base):
    """One portal for the four sizes: the story only reads (and logs maria in and out). Her
    3-year statement (480 movements) counts as long here, so its PDF is prepared in the
    background as a ten-year one would be."""
    workdir = tmp_path_factory.mktemp("phone-first")
    env = {"STATEMENT_INLINE_MOVEMENTS": "300"}
    with private_portal(workdir, rabbit_manager, amqp_base, extra_env=env) as p:
        yield p


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("size", list(SIZES))
def test_every_page_reads_without_sideways_scrolling(portal_of_maria, size):
    run_story(
        "tests.e2e.phone_first_story:phone_first",
        portal_of_maria.base_url,
        viewport=SIZES[size],
        size=size,
    )
