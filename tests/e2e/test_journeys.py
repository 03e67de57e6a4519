"""The member's experience, the whole manual in a real browser on a desktop and on a phone.

One journey per section of docs/manual.md and one across all of them (Ana registers, logs in, and
goes through the position, its report, a statement and its download, the loans table, a
simulation, an application, the guarantees, the term deposits, a deposit simulation, changes
her password and leaves with Salir), each at a desktop size and at a phone size (360×740).
Every page they reach is checked by axe-core (no serious or critical violation) and
photographed, full page, into var/screenshots/<size>/<journey>/ (see docs/pages.md).

The stories are in journey_stories.py; each runs in a child process (tests/browser_runner.py).
The journeys register members and change passwords, so each size has a portal of its own.
"""

from pathlib import Path

import pytest

from tests.browser_runner import run_story
from tests.e2e.private_portal import private_portal

SIZES = {
    "desktop": {"width": 1366, "height": 900},
    "phone": {"width": 360, "height": 740},
}


@pytest.fixture(scope="module", params=sorted(SIZES))
def size(request):
    return request.param


@pytest.fixture(scope="module")
def journey_portal(size, tmp_path_factory, rabbit_manager, amqp_base):
    """A portal of each size's own: Ana and Carmen register once per portal, and maria's
    password changes in the recovery journey."""
    workdir = tmp_path_factory.mktemp(f"journeys-{size}")
    with private_portal(workdir, rabbit_manager, amqp_base) as instance:
        yield instance


def journey(name, portal, size, **kwargs):
    return run_story(
        f"tests.e2e.journey_stories:{name}",
        portal.base_url,
        viewport=SIZES[size],
        size=size,
        **kwargs,
    )


@pytest.mark.browser
def test_the_accessibility_check_fails_a_broken_page():
    shown = run_story("tests.e2e.journey_stories:axe_gate_catches_a_broken_page", "", size="phone")
    assert "[critical] image-alt" in shown and "[serious] color-contrast" in shown


@pytest.mark.browser
@pytest.mark.slow
def test_estado_de_cuenta(journey_portal, size):
    journey("estado_de_cuenta", journey_portal, size)


@pytest.mark.browser
@pytest.mark.slow
def test_creditos(journey_portal, size):
    journey("creditos", journey_portal, size)


@pytest.mark.browser
@pytest.mark.slow
def test_plazo_fijo(journey_portal, size):
    journey("plazo_fijo", journey_portal, size)


@pytest.mark.browser
@pytest.mark.slow
def test_opciones_de_usuario_and_registro(journey_portal, size):
    journey("opciones_de_usuario", journey_portal, size)


@pytest.mark.browser
@pytest.mark.slow
def test_the_whole_manual_as_ana(journey_portal, size):
    shown = journey("whole_manual", journey_portal, size)
    assert "/plazo-fijo/simulacion\tSimulación de plazo fijo" in shown


@pytest.mark.browser
@pytest.mark.slow
def test_keyboard_only(journey_portal, size):
    journey("keyboard", journey_portal, size)


@pytest.mark.browser
@pytest.mark.slow
def test_recuperacion_de_contrasena(journey_portal, size):
    # last at each size: it changes maria's password, which the journeys above log in with
    mail_dir = str(Path(journey_portal.env["PORTAL_VAR_DIR"]) / "mail")
    journey("recuperacion", journey_portal, size, mail_dir=mail_dir)
