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
- Second factor: the demo users have a remembered device (tests/conftest.py load_demo), whose
  current token `device_tokens(base_url)` knows and `api_login`/`browser_login` send and renew;
  `emailed_code(challenge_id)` reads a code from the portal's var/mail.
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


DEVICE_TOKENS_FILE = "test_device_tokens.json"
DEVICE_COOKIE = "portal_device"
CODE_MAIL_KIND = "second_factor_code"


def portal_var_dir(base_url=None):
    """The var directory of the portal at `base_url`: a process portal (scripts/processes.py
    Portal) says it by its port; an in-process gateway shares the test's PORTAL_VAR_DIR."""
    from pathlib import Path
    from urllib.parse import urlsplit

    from services.common.config import var_dir

    port = urlsplit(base_url).port if base_url else None
    given = os.environ.get(f"PORTAL_VAR_DIR_{port}") if port else None
    return Path(given) if given else var_dir()


def device_tokens(base_url=None):
    """{username: the current token of the user's remembered device} of that portal."""
    import json

    path = portal_var_dir(base_url) / DEVICE_TOKENS_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def save_device_tokens(tokens, base_url=None):
    """Remember device tokens (merged with those known); each login replaces the one it used."""
    import json

    directory = portal_var_dir(base_url)
    directory.mkdir(parents=True, exist_ok=True)
    merged = {**device_tokens(base_url), **tokens}
    partial = directory / f".{DEVICE_TOKENS_FILE}.part"
    partial.write_text(json.dumps(merged))
    os.replace(partial, directory / DEVICE_TOKENS_FILE)


def challenge_reference(challenge_id):
    """What the code e-mail shows of its challenge (notifications' domain.challenge_reference)."""
    import re

    return re.sub(r"[^A-Za-z0-9]", "", challenge_id)[:8].upper()


def emailed_code(challenge_id, base_url=None, timeout=20, reference=None):
    """The 6-digit code e-mailed for a challenge, read from the portal's var/mail (the embedded
    mailer, or `start_code_catcher`): the newest message naming the challenge's reference (the
    one the code page shows, or made from `challenge_id`)."""
    import email
    import email.policy
    import re
    import time

    mail = portal_var_dir(base_url) / "mail"
    reference = f"Referencia: {reference or challenge_reference(challenge_id)}"
    deadline = time.monotonic() + timeout
    while True:
        found = []
        for path in mail.glob(f"*{CODE_MAIL_KIND}*.eml") if mail.exists() else ():
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            part = message.get_body(("plain",)) if message.is_multipart() else message
            text = part.get_content() if part is not None else ""
            code = re.search(r"^\s*(\d{6})\s*$", text, re.M)
            if reference in text and code:
                found.append((path.stat().st_mtime_ns, code.group(1)))
        if found:
            return max(found)[1]
        assert time.monotonic() < deadline, f"no code e-mailed for {reference} in {mail}"
        time.sleep(0.1)


def emailed_recovery_codes(email_address, base_url=None):
    """Every temporary code e-mailed to `email_address` so far, oldest first."""
    import email
    import email.policy
    import re

    mail = portal_var_dir(base_url) / "mail"
    found = []
    for path in mail.glob("*recovery_code*.eml") if mail.exists() else ():
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if email_address.lower() not in str(message["To"]).lower():
            continue
        part = message.get_body(("plain",)) if message.is_multipart() else message
        code = re.search(r"código temporal es: ([A-Za-z0-9]{8})", part.get_content())
        if code:
            found.append((path.stat().st_mtime_ns, code.group(1)))
    return [code for _, code in sorted(found)]


def emailed_recovery_code(email_address, base_url=None, timeout=20, after=()):
    """The newest temporary code e-mailed to `email_address` that is not one of `after`."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        fresh = [c for c in emailed_recovery_codes(email_address, base_url) if c not in after]
        if fresh:
            return fresh[-1]
        assert time.monotonic() < deadline, f"no temporary code e-mailed to {email_address}"
        time.sleep(0.1)


def finish_second_factor(session, challenge, base_url=None, remember_device=True):
    """Complete an API login's challenge with its e-mailed code; the login's answer."""
    assert challenge.get("methods") == ["email_code"], challenge
    code = emailed_code(challenge["challenge_id"], base_url)
    answer = session.post(
        "/api/v1/auth/login/second-factor",
        json={
            "challenge_id": challenge["challenge_id"],
            "method": "email_code",
            "code": code,
            "remember_device": remember_device,
        },
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def login_post(session, json, headers=None, **kwargs):
    """POST /api/v1/auth/login as the user's remembered device (X-Device-Token, when the test
    knows one); keeps the replacement token of a successful answer. The raw response."""
    base = getattr(session, "base_url", None)
    name = str((json or {}).get("username") or "").strip().lower()
    known = device_tokens(base).get(name)
    answer = session.post(
        "/api/v1/auth/login",
        json=json,
        headers={**({"X-Device-Token": known} if known else {}), **(headers or {})},
        **kwargs,
    )
    if answer.status_code == 200 and answer.json().get("device_token"):
        save_device_tokens({name: answer.json()["device_token"]}, base)
    return answer


def web_login_post(session, data, path="/login", **kwargs):
    """POST the /login form from the user's remembered device (the `portal_device` cookie, when
    the test knows one); keeps the cookie the portal sets in exchange. Without one it passes the
    code step (the e-mailed code, remembering the device). The last raw response."""
    from urllib.parse import urlsplit

    base = getattr(session, "base_url", None)
    host = urlsplit(base).hostname if base else None
    name = str((data or {}).get("username") or "").strip().lower()
    known = device_tokens(base).get(name)
    if known and host:
        session.cookies.set(DEVICE_COOKIE, known, domain=host, path="/")
    answer = session.post(path, data=data, **kwargs)
    if answer.status_code in (302, 303) and answer.headers.get("Location") == "/login/codigo":
        # no remembered device: the code step, with the e-mailed code, remembering the device
        import re

        page_url = path.replace("/login", "/login/codigo", 1)
        page = session.get(page_url)
        reference = re.search(r'id="challenge-reference">([A-Z0-9]+)<', page.text).group(1)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        answer = session.post(
            page_url,
            data={
                "csrf_token": token,
                "method": "email_code",
                "code": emailed_code(None, base, reference=reference),
                "remember_device": "1",
            },
            **kwargs,
        )
    renewed = answer.cookies.get(DEVICE_COOKIE)
    if renewed:
        save_device_tokens({name: renewed}, base)
    return answer


def login_at(base_url, username, password, timeout=30, code_timeout=20, headers=None):
    """POST /api/v1/auth/login at a portal's absolute address as the user's own device: its
    remembered device when known, else the challenge passed with the e-mailed code (the device
    then remembered). The final response; None when the code never came (e.g. a broker outage
    kept notifications from sending it)."""
    import requests

    base = base_url.rstrip("/")
    name = username.strip().lower()
    known = device_tokens(base).get(name)
    answer = requests.post(
        base + "/api/v1/auth/login",
        json={"username": username, "password": password},
        headers={**({"X-Device-Token": known} if known else {}), **(headers or {})},
        timeout=timeout,
    )
    if answer.status_code == 200 and answer.json().get("second_factor_required"):
        challenge = answer.json()
        try:
            code = emailed_code(challenge["challenge_id"], base, timeout=code_timeout)
        except AssertionError:
            return None
        answer = requests.post(
            base + "/api/v1/auth/login/second-factor",
            json={
                "challenge_id": challenge["challenge_id"],
                "method": "email_code",
                "code": code,
                "remember_device": True,
            },
            headers=headers,
            timeout=timeout,
        )
    if answer.status_code == 200 and answer.json().get("device_token"):
        save_device_tokens({name: answer.json()["device_token"]}, base)
    return answer


def api_login(session, username, password):
    """Log in over the API and return the session token (asserts the login succeeded).

    It sends the user's remembered device (the demo users have one, tests/conftest.py
    load_demo) and keeps its replacement; without one it passes the second factor with the
    e-mailed code and asks to remember the device."""
    base = getattr(session, "base_url", None)
    known = device_tokens(base).get(username)
    answer = session.post(
        "/api/v1/auth/login",
        json={"username": username, "password": password},
        headers={"X-Device-Token": known} if known else None,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    if body.get("second_factor_required"):
        body = finish_second_factor(session, body, base)
    if body.get("device_token"):
        save_device_tokens({username: body["device_token"]}, base)
    return body["token"]


class RememberingAuth:
    """The auth RPC proxy as a member's own device uses it: `login` sends the user's remembered
    device (and keeps its replacement); from an unknown device it passes the second factor with
    the e-mailed code (read from var/mail: run `start_code_catcher` or notifications) and
    remembers the device. Every other call goes to the proxy unchanged."""

    def __init__(self, proxy, base_url=None):
        self._proxy = proxy
        self._base = base_url

    @property
    def raw(self):
        """The proxy itself: a login from an unknown device, answered with its challenge."""
        return self._proxy

    def __getattr__(self, name):
        return getattr(self._proxy, name)

    def login(self, username=None, password=None, client_ip=None, **kwargs):
        name = (username or "").strip().lower()
        kwargs.setdefault("device_token", device_tokens(self._base).get(name))
        answer = self._proxy.login(username, password, client_ip, **kwargs)
        if answer.get("second_factor_required"):
            code = emailed_code(answer["challenge_id"], self._base)
            answer = self._proxy.login_second_factor(
                answer["challenge_id"], "email_code", code, True, client_ip
            )
        if answer.get("device_token"):
            save_device_tokens({name: answer["device_token"]}, self._base)
        return answer


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def browser_login(page, base_url, username, password):
    """Log in through the /login page of a playwright page (the portal_session cookie is set).

    The browser carries the user's remembered device (the `portal_device` cookie) when the test
    knows one; otherwise it passes the second step with the e-mailed code, remembering the
    device. The device token the portal sets in exchange is kept for the next login."""
    base = base_url.rstrip("/")
    known = device_tokens(base).get(username)
    if known:
        page.context.add_cookies([{"name": DEVICE_COOKIE, "value": known, "url": base + "/"}])
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    if page.locator("input[name=code]").count():
        reference = page.locator("#challenge-reference").inner_text().strip()
        page.fill("input[name=code]", emailed_code(None, base, reference=reference))
        remember = page.locator("input[name=remember_device]")
        if remember.count():
            remember.check()
        with page.expect_navigation():
            page.click("button[type=submit]")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert "portal_session" in cookies, page.content()[:2000]
    if cookies.get(DEVICE_COOKIE):
        save_device_tokens({username: cookies[DEVICE_COOKIE]}, base)
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


def start_auth_stack(container_factory, service_config, today, count=2, catch_codes=False):
    """accounts and auth containers with the demo loaded (maria, jose, luis have users, each
    with a remembered device); `catch_codes` adds `start_code_catcher` as notifications."""
    from services.accounts.service import AccountsService
    from services.auth.service import AuthService
    from tests.conftest import load_demo

    load_demo(service_config, today, services=["accounts", "auth"], count=count)
    accounts = container_factory(AccountsService, service_config)
    accounts.start()
    auth = container_factory(AuthService, service_config)
    auth.start()
    if catch_codes:
        start_code_catcher(container_factory, service_config)
    return auth


def start_code_catcher(container_factory, service_config):
    """A stand-in `notifications` for tests that run without it: it writes each code it is
    given (second factor, recovery) to var/mail as the embedded mailer would, where
    `emailed_code` and the tests read it. Never start it beside the real notifications."""
    from tests.code_catcher import CodeCatcher

    catcher = container_factory(CodeCatcher, service_config)
    catcher.start()
    return catcher


def start_gateway(container_factory, service_config):
    from gateway.service import GatewayService

    gateway = container_factory(GatewayService, service_config)
    gateway.start()
    return gateway


def csrf_of(html):
    """The form token a page carries (signed for its session: a cookie alone is not enough)."""
    import re

    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
