"""Helpers for tests of any area that need a logged-in member.

- `api_login(session, "maria", "Socia-2026!") -> token` over the JSON API (a requests session
  whose relative URLs go to the gateway, like the `http_session` and `api` fixtures).
- `bearer(token)` -> the Authorization header.
- `browser_login(page, base_url, "maria", "Socia-2026!")` on a playwright page: fills /login and
  waits until the portal has set the session cookie.
- `chromium_page()`: a context manager giving a fresh playwright page on Debian's headless chromium.
  Browser tests run their story with `tests.browser_runner.run_story(...)` (a process without
  eventlet: playwright hangs at random inside the monkey-patched test process), e.g.

      def story(page, base):
          browser_login(page, base, "maria", "Socia-2026!")
          ...

      @pytest.mark.browser
      def test_x(portal):
          run_story("tests.e2e.test_x:story", portal.base_url)
- `start_auth_stack(container_factory, service_config, today)` starts accounts + auth (demo users
  loaded) on the test's vhost; add the gateway with `start_gateway(...)`.
"""

import contextlib
import os

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
_playwright = None

DEMO_USERS = {
    "maria": ("Socia-2026!", "100234", "María Pérez"),
    "jose": ("Socio-2026!", "100517", "José Andrade"),
    "luis": ("Socio-2026!", "101002", "Luis Cárdenas"),
}


def api_login(session, username, password):
    """Log in over the API and return the session token (asserts the login succeeded)."""
    answer = session.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    return answer.json()["token"]


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def browser_login(page, base_url, username, password):
    """Log in through the /login page of a playwright page (the portal_session cookie is set)."""
    page.goto(base_url.rstrip("/") + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    cookies = {c["name"] for c in page.context.cookies()}
    assert "portal_session" in cookies, page.content()[:2000]
    return page


@contextlib.contextmanager
def chromium_page(viewport=None, timeout_ms=20000):
    """A page of its own browser; closed afterwards.

    Playwright is started once per test process and never stopped: under eventlet's monkey
    patching its `stop()` waits forever for the driver, which exits by itself with the process.
    """
    global _playwright
    from playwright.sync_api import sync_playwright

    if _playwright is None:
        _playwright = sync_playwright().start()
    browser = _playwright.chromium.launch(
        executable_path="/usr/bin/chromium",
        headless=True,
        args=[*CHROMIUM_ARGS, "--lang=es-EC"],
        # date fields shown as dd/mm/aaaa, as a member in Ecuador sees them (chromium-l10n)
        env={**os.environ, "LANG": "es_EC.UTF-8", "LANGUAGE": "es_EC:es"},
    )
    try:
        context = browser.new_context(
            locale="es-EC", viewport=viewport or {"width": 390, "height": 844}
        )
        page = context.new_page()
        page.set_default_timeout(timeout_ms)
        yield page
        context.close()
    finally:
        browser.close()


def start_auth_stack(container_factory, service_config, today, count=2):
    """accounts and auth containers with the demo loaded (maria, jose, luis have users)."""
    from services.accounts.service import AccountsService
    from services.auth.service import AuthService
    from tests.conftest import load_demo

    load_demo(service_config, today, services=["accounts", "auth"], count=count)
    accounts = container_factory(AccountsService, service_config)
    accounts.start()
    auth = container_factory(AuthService, service_config)
    auth.start()
    return auth


def start_gateway(container_factory, service_config):
    from gateway.service import GatewayService

    gateway = container_factory(GatewayService, service_config)
    gateway.start()
    return gateway


def csrf_of(html):
    """The form token a page carries (signed for its session: a cookie alone is not enough)."""
    import re

    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
