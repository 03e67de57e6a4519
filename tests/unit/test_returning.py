"""The way back after login (gateway/web/returning.py): local paths only."""

import pytest

from gateway.web.returning import login_location, page_to_return_to, safe_next


@pytest.mark.parametrize(
    "value",
    ["/estado-de-cuenta?cuenta=4100234001&desde=2026-01-01", "/creditos/CR-100234-01", "/"],
)
def test_local_paths_are_kept(value):
    assert safe_next(value) == value


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil.example/x",
        "/\t/evil.example",
        "/\n/evil.example",
        "/ /evil.example",
        "/login?next=/",
        "/logout",
        "/sesion/continuar",
        "/" + "a" * 600,
        ["/"],
    ],
)
def test_anything_else_is_refused(value):
    assert safe_next(value) is None


def test_the_page_of_a_get_or_the_form_page_of_a_post():
    assert page_to_return_to("GET", "/creditos", "", None, "h:1") == "/creditos"
    assert page_to_return_to("GET", "/estado-de-cuenta", "cuenta=1", None, "h:1") == (
        "/estado-de-cuenta?cuenta=1"
    )
    assert page_to_return_to("GET", "/", "", None, "h:1") is None
    assert page_to_return_to("POST", "/x", "", "http://h:1/creditos/simulacion", "h:1") == (
        "/creditos/simulacion"
    )
    assert page_to_return_to("POST", "/x", "", "http://other:1/creditos", "h:1") is None
    assert page_to_return_to("POST", "/x", "", None, "h:1") is None


def test_a_pdf_returns_to_the_page_of_its_link():
    statement = "http://h:1/estado-de-cuenta?cuenta=1&desde=2026-01-01"
    assert page_to_return_to("GET", "/estado-de-cuenta/reporte", "cuenta=1", statement, "h:1") == (
        "/estado-de-cuenta?cuenta=1&desde=2026-01-01"
    )
    assert page_to_return_to("GET", "/creditos/CR-1/tabla.pdf", "", None, "h:1") is None


def test_login_location_says_why():
    assert login_location() == "/login"
    assert login_location("/creditos") == "/login?next=%2Fcreditos"
    assert login_location(None, "idle_timeout") == "/login?aviso=inactividad"
    assert login_location(None, "absolute_timeout") == "/login?aviso=expirada"
    assert login_location(None, None, had_session=True) == "/login?aviso=expirada"
