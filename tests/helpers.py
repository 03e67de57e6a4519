"""Helpers for tests of any area that need a logged-in member.

- `api_login(session, "maria", "Socia-2026!") -> token` over the JSON API (a requests session
  whose relative URLs go to the gateway, like the `http_session` and `api` fixtures).
- `bearer(token)` -> the Authorization header.
- `browser_login(page, base_url, "maria", "Socia-2026!")` on a playwright page: fills /login and
  waits until the portal has set the session cookie.
- `start_auth_stack(container_factory, service_config, today)` starts accounts + auth (demo users
  loaded) on the test's vhost; add the gateway with `start_gateway(...)`.
"""

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
