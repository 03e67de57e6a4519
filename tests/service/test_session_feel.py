"""Session feel (issue 9): after the idle timeout a page sends the member to /login with a Spanish
message and the way back; after logging in the member is where they were; "Continuar" on the idle
warning really keeps the session; `next` never leads to another site.

In-process gateway with auth and accounts on the real broker; time moves with the cooperative's
clock (`CLOCK.advance`, services/common/clock.py), so nothing sleeps.
"""

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from gateway import sessions
from services.common.clock import CLOCK
from tests.helpers import start_auth_stack, start_gateway, web_login_post

MINUTE = 60
PAGE = "/estado-de-cuenta?cuenta=4100234001"


@pytest.fixture
def auth_container(service_config, container_factory, today):
    auth = start_auth_stack(container_factory, service_config, today)
    start_gateway(container_factory, service_config)
    return auth


@pytest.fixture
def advance(auth_container):
    yield CLOCK.advance
    CLOCK.reset()


@pytest.fixture
def web(auth_container, http_session, monkeypatch):
    # the gateway trusts a session check for SESSION_CACHE_SECONDS of wall time; the auth clock
    # moves by minutes in no time, so every page here asks auth (except where a test says)
    monkeypatch.setattr(sessions.cache, "ttl", 0)
    return http_session


def csrf_of(page):
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def login(web):
    page = web.get("/login")
    form = {"username": "maria", "password": "Socia-2026!", "csrf_token": csrf_of(page)}
    return web_login_post(web, data=form, allow_redirects=False)


def test_after_login_the_member_lands_on_the_consolidated_position(web):
    answer = login(web)
    assert answer.status_code == 303 and answer.headers["Location"] == "/"


def test_idle_timeout_sends_to_login_with_a_message_and_back_to_the_page(web, advance):
    assert login(web).status_code == 303
    assert web.get(PAGE).status_code == 200
    advance(16 * MINUTE)

    expired = web.get(PAGE, allow_redirects=False)
    assert expired.status_code == 303
    location = urlsplit(expired.headers["Location"])
    query = parse_qs(location.query)
    assert location.path == "/login"
    assert query == {"aviso": ["inactividad"], "next": [PAGE]}
    # the dead session cookie goes with the redirect
    assert "portal_session=;" in expired.headers["Set-Cookie"]

    page = web.get(expired.headers["Location"])
    assert "Su sesión expiró por inactividad" in page.text
    assert f'name="next" value="{PAGE}"' in page.text

    answer = web_login_post(
        web,
        data={"username": "maria", "password": "Socia-2026!", "csrf_token": csrf_of(page)}
        | {"next": PAGE},
        allow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["Location"] == PAGE
    again = web.get(PAGE)
    assert again.status_code == 200 and "Estado de cuenta" in again.text


def test_a_form_sent_after_the_timeout_returns_to_the_page_of_the_form(web, advance, gateway_url):
    login(web)
    form_page = web.get("/estado-de-cuenta")
    advance(16 * MINUTE)
    sent = web.post(
        "/estado-de-cuenta",
        data={"cuenta": "4100234001", "csrf_token": csrf_of(form_page)},
        headers={"Referer": gateway_url + "/estado-de-cuenta"},
        allow_redirects=False,
    )
    assert sent.status_code == 303
    assert parse_qs(urlsplit(sent.headers["Location"]).query) == {
        "aviso": ["inactividad"],
        "next": ["/estado-de-cuenta"],
    }


def test_without_a_session_a_page_asks_for_login_and_remembers_it(web):
    answer = web.get("/creditos/garantias", allow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/login?next=%2Fcreditos%2Fgarantias"
    assert "Su sesión" not in web.get(answer.headers["Location"]).text  # nothing had expired


@pytest.mark.parametrize(
    "evil",
    [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/logout",
    ],
)
def test_login_never_redirects_outside_the_portal(web, evil):
    page = web.get("/login", params={"next": evil})
    assert 'name="next"' not in page.text
    form = {"username": "maria", "password": "Socia-2026!", "csrf_token": csrf_of(page)}
    answer = web_login_post(web, data={**form, "next": evil}, allow_redirects=False)
    assert answer.status_code == 303 and answer.headers["Location"] == "/"


def test_continuar_keeps_the_session_even_behind_the_gateway_cache(web, advance, monkeypatch):
    login(web)
    page = web.get(PAGE)
    assert 'data-idle-seconds="900"' in page.text
    assert "Su sesión está por expirar" in page.text  # the dialog, opened by static/ux.js
    monkeypatch.setattr(sessions.cache, "ttl", 3600)  # the gateway would trust its cache
    web.get(PAGE)
    advance(14 * MINUTE)
    kept = web.post(
        "/sesion/continuar",
        data={"csrf_token": csrf_of(page)},
        headers={"X-Requested-With": "fetch"},
        allow_redirects=False,
    )
    assert kept.status_code == 204
    advance(14 * MINUTE)  # 28 minutes after the page, 14 after Continuar
    sessions.cache._entries.clear()
    assert web.get(PAGE, allow_redirects=False).status_code == 200


def test_continuar_without_a_script_returns_to_the_page_and_needs_the_csrf_token(web):
    login(web)
    page = web.get(PAGE)
    refused = web.post("/sesion/continuar", data={"next": PAGE}, allow_redirects=False)
    assert refused.status_code == 400
    kept = web.post(
        "/sesion/continuar",
        data={"csrf_token": csrf_of(page), "next": PAGE},
        allow_redirects=False,
    )
    assert kept.status_code == 303 and kept.headers["Location"] == PAGE
    outside = web.post(
        "/sesion/continuar",
        data={"csrf_token": csrf_of(page), "next": "//evil.example"},
        allow_redirects=False,
    )
    assert outside.headers["Location"] == "/"


def test_continuar_after_the_timeout_is_too_late(web, advance):
    login(web)
    page = web.get(PAGE)
    advance(16 * MINUTE)
    late = web.post(
        "/sesion/continuar",
        data={"csrf_token": csrf_of(page)},
        headers={"X-Requested-With": "fetch"},
        allow_redirects=False,
    )
    assert late.status_code == 303
    assert late.headers["Location"] == "/login?aviso=inactividad"
    # (a post from another site never gets this far: 403, test_gateway_hardening.py)
