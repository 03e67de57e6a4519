"""The second factor in headless chromium, on the real processes (tests/e2e/second_factor_story.py):
at 360 px maria, at 1366 px jose — each logs in from a new browser with the e-mailed code,
remembers the device, comes back without a code, and registers an authenticator app on the
Seguridad page. A portal of the module's own: registering the app changes the users for good."""

from pathlib import Path

import pytest

from tests.browser_runner import run_story
from tests.e2e.private_portal import private_portal

MEMBERS = {
    "phone": (
        {"width": 360, "height": 740},
        ("maria", "Socia-2026!", "María Pérez", "maria.perez@example.com"),
    ),
    "desktop": (
        {"width": 1366, "height": 900},
        ("jose", "Socio-2026!", "José Andrade", "jose.andrade@example.com"),
    ),
}


@pytest.fixture(scope="module")
def portal_of_codes(tmp_path_factory, rabbit_manager, amqp_base):
    with private_portal(tmp_path_factory.mktemp("second-factor"), rabbit_manager, amqp_base) as p:
        yield p


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("size", list(MEMBERS))
def test_login_with_the_emailed_code_a_remembered_device_and_an_app(portal_of_codes, size):
    viewport, (username, password, display_name, address) = MEMBERS[size]
    run_story(
        "tests.e2e.second_factor_story:second_factor",
        portal_of_codes.base_url,
        viewport=viewport,
        username=username,
        password=password,
        display_name=display_name,
        email_to=address,
        mail_dir=str(Path(portal_of_codes.env["PORTAL_VAR_DIR"]) / "mail"),
    )
