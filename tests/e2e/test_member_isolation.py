"""No member reaches another member's data: every endpoint that takes an identifier answers 404
to someone else's, exactly like to one that does not exist (docs/api.md: "an account or loan
number of another member answers 404, exactly like one that does not exist").

The tables below must name every API path with a `{parameter}` in /api/v1/openapi.json and every
gateway route with a `<parameter>`: a new member-scoped path fails here until it is covered.
Identifiers that travel in a page's query string or form are listed in PAGES_WITH_IDENTIFIERS.
"""

import inspect
import re

import pytest

from gateway.service import GatewayService
from tests.e2e.private_portal import private_portal
from tests.helpers import DEMO_USERS, api_login, bearer, web_login_post

pytestmark = pytest.mark.slow  # real processes

MARIA_ACCOUNT = "4100234001"
MARIA_LOAN = "CR-100234-01"
MARIA_OVERDUE_LOAN = "CR-100234-02"  # the core's arrears snapshot: payable online
UNKNOWN_ACCOUNT = "4199999001"
UNKNOWN_LOAN = "CR-199999-01"

# API path (as in the OpenAPI document) -> (maria's identifier, an identifier nobody has)
API_PATHS = {
    "/api/v1/accounts/{account_number}/statement": (
        {"account_number": MARIA_ACCOUNT},
        {"account_number": UNKNOWN_ACCOUNT},
    ),
    "/api/v1/accounts/{account_number}/statement.pdf": (
        {"account_number": MARIA_ACCOUNT},
        {"account_number": UNKNOWN_ACCOUNT},
    ),
    "/api/v1/accounts/{account_number}/statement.csv": (
        {"account_number": MARIA_ACCOUNT},
        {"account_number": UNKNOWN_ACCOUNT},
    ),
    # orders, beneficiaries and applications: another member's answers 404 like an unknown one
    # in tests/service/test_payments_api.py, test_payments_pages.py and test_credit_gateway.py
    "/api/v1/transfers/{id}": None,
    "/api/v1/transfers/{id}/confirm": None,
    "/api/v1/beneficiaries/{id}": None,
    "/api/v1/beneficiaries/{id}/confirm": None,
    "/api/v1/me/limits/changes/{id}/confirm": None,
    "/api/v1/transfers/{id}/receipt.pdf": None,
    "/api/v1/payments/{id}/receipt.pdf": None,
    "/api/v1/credit/applications/{application_number}/withdraw": None,
    "/api/v1/loans/{loan_number}": (
        {"loan_number": MARIA_LOAN},
        {"loan_number": UNKNOWN_LOAN},
    ),
    "/api/v1/loans/{loan_number}/payment": (
        {"loan_number": MARIA_OVERDUE_LOAN},
        {"loan_number": UNKNOWN_LOAN},
    ),
    # a loan payment of another member's loan, and another member's payment, answer 404 in
    # tests/service/test_payments_api.py
    "/api/v1/loans/{loan_number}/payments": None,
    "/api/v1/payments/{id}": None,
    "/api/v1/payments/{id}/confirm": None,
    "/api/v1/loans/{loan_number}/schedule.pdf": (
        {"loan_number": MARIA_LOAN},
        {"loan_number": UNKNOWN_LOAN},
    ),
    # POST/DELETE on the member's own security records: another member's device, session or
    # app enrolment answers 404 like an unknown one in tests/service/test_auth_second_factor.py
    "/api/v1/me/second-factor/totp/{enrollment_id}/confirm": None,
    "/api/v1/me/devices/{device_id}": None,
    "/api/v1/me/sessions/{session_id}": None,
}
# web route with a path parameter (werkzeug rule) -> (maria's path, a path nobody has)
WEB_ROUTES = {
    "/static/<path:filename>": None,  # public files, no member data
    # a background statement's job id is random and made per request: another member's answers
    # 404 in tests/service/test_long_statements.py (page and PDF)
    "/estado-de-cuenta/reporte/<job_id>": None,
    "/estado-de-cuenta/reporte/<job_id>/pdf": None,
    # POST-only forms over auth's RPCs, which answer another member's device or session as
    # not found (tests/service/test_auth_second_factor.py); the "No fui yo" link's token is
    # one-time and random (an unknown one answers 410 there too)
    "/seguridad/dispositivos/<device_id>/quitar": None,
    "/seguridad/sesiones/<session_id>/cerrar": None,
    "/no-fui-yo/<token>": None,
    # the payments pages and Desistir: another member's order, beneficiary or application
    # answers 404 in tests/service/test_payments_pages.py and test_credit_gateway.py
    "/transferencias/<order_id>": None,
    "/transferencias/<order_id>/comprobante.pdf": None,
    "/transferencias/<order_id>/confirmar": None,
    "/transferencias/<order_id>/reenviar": None,
    "/transferencias/beneficiarios/<beneficiary_id>/confirmar": None,
    "/transferencias/beneficiarios/<beneficiary_id>/eliminar": None,
    "/transferencias/beneficiarios/<beneficiary_id>/reenviar": None,
    "/transferencias/limites/cambios/<change_id>/confirmar": None,
    "/transferencias/limites/cambios/<change_id>/reenviar": None,
    "/creditos/solicitudes/<application_number>/desistir": None,
    "/creditos/<loan_number>": (f"/creditos/{MARIA_LOAN}", f"/creditos/{UNKNOWN_LOAN}"),
    "/creditos/<loan_number>/pagar": (
        f"/creditos/{MARIA_OVERDUE_LOAN}/pagar",
        f"/creditos/{UNKNOWN_LOAN}/pagar",
    ),
    "/creditos/<loan_number>/tabla.pdf": (
        f"/creditos/{MARIA_LOAN}/tabla.pdf",
        f"/creditos/{UNKNOWN_LOAN}/tabla.pdf",
    ),
}
# pages that take an identifier in the query string: (maria's URL, a URL nobody has)
PAGES_WITH_IDENTIFIERS = [
    (f"/estado-de-cuenta?cuenta={MARIA_ACCOUNT}", f"/estado-de-cuenta?cuenta={UNKNOWN_ACCOUNT}"),
    (
        f"/estado-de-cuenta/reporte?cuenta={MARIA_ACCOUNT}",
        f"/estado-de-cuenta/reporte?cuenta={UNKNOWN_ACCOUNT}",
    ),
]


def gateway_routes():
    """Every (method, rule) the gateway serves."""
    routes = set()
    for _, member in inspect.getmembers(GatewayService, inspect.isfunction):
        for entrypoint in getattr(member, "nameko_entrypoints", ()):
            url = getattr(entrypoint, "url", None)
            if url:
                routes.add((entrypoint.method, url))
    return routes


def expand(template, values):
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)


@pytest.fixture(scope="module")
def portal(tmp_path_factory, rabbit_manager, amqp_base):
    """Its own portal: other stories change maria's and jose's passwords on the shared one."""
    with private_portal(tmp_path_factory.mktemp("isolation"), rabbit_manager, amqp_base) as it:
        yield it


@pytest.fixture(scope="module")
def spec(portal):
    import requests

    return requests.get(portal.url("/api/v1/openapi.json"), timeout=30).json()


@pytest.fixture
def api(portal):
    import requests

    class PortalSession(requests.Session):
        base_url = portal.base_url

        def request(self, method, url, *args, **kwargs):
            kwargs.setdefault("timeout", 60)
            return super().request(method, portal.url(url), *args, **kwargs)

    with PortalSession() as session:
        yield session


@pytest.fixture
def tokens(api):
    return {name: bearer(api_login(api, name, DEMO_USERS[name][0])) for name in ("maria", "jose")}


def page_login(session, username):
    page = session.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = web_login_post(
        session,
        data={"csrf_token": token, "username": username, "password": DEMO_USERS[username][0]},
        allow_redirects=False,
    )
    assert answer.status_code in (302, 303), answer.text[:500]


def test_every_path_with_an_identifier_is_covered(spec):
    with_parameters = {path for path in spec["paths"] if "{" in path}
    assert with_parameters - set(API_PATHS) == set(), "add them to API_PATHS"
    for path in with_parameters:
        for method, operation in spec["paths"][path].items():
            assert "404" in operation["responses"], f"{method.upper()} {path} documents no 404"
    routes = {rule for _, rule in gateway_routes() if "<" in rule and not rule.startswith("/api/")}
    assert routes - set(WEB_ROUTES) == set(), "add them to WEB_ROUTES"


def test_another_members_identifiers_answer_404_like_unknown_ones(api, spec, tokens):
    covered = [path for path in API_PATHS if path in spec["paths"] and API_PATHS[path]]
    assert covered, "no API path with an identifier in the document"
    for template in covered:
        mine, unknown = API_PATHS[template]
        own = api.get(expand(template, mine), headers=tokens["maria"])
        assert own.status_code == 200, f"maria's own {template}: {own.status_code} {own.text[:300]}"
        other = api.get(expand(template, mine), headers=tokens["jose"])
        missing = api.get(expand(template, unknown), headers=tokens["jose"])
        missing_for_owner = api.get(expand(template, unknown), headers=tokens["maria"])
        for answer in (other, missing, missing_for_owner):
            assert answer.status_code == 404, (
                f"{template}: {answer.status_code} {answer.text[:300]}"
            )
            assert answer.headers["Content-Type"].startswith("application/json"), template
            assert answer.json()["error"]["code"] == "not_found"
        # nothing tells "exists but not yours" from "does not exist"
        assert other.content == missing.content == missing_for_owner.content, template
        assert "María" not in other.text and "100234" not in other.text


def test_pages_answer_404_to_another_members_identifiers(portal):
    import requests

    served = {rule for _, rule in gateway_routes()}
    cases = [case for rule, case in WEB_ROUTES.items() if case and rule in served]
    cases += PAGES_WITH_IDENTIFIERS
    with requests.Session() as maria, requests.Session() as jose:
        for session, name in ((maria, "maria"), (jose, "jose")):
            session.request = _relative(session.request, portal)
            session.base_url = portal.base_url
            page_login(session, name)
        for mine, unknown in cases:
            own = maria.get(mine)
            assert own.status_code == 200, f"maria's own {mine}: {own.status_code}"
            other = jose.get(mine)
            missing = jose.get(unknown)
            assert (other.status_code, missing.status_code) == (404, 404), mine
            assert "text/html" in other.headers["Content-Type"], mine
            assert "María" not in other.text and MARIA_ACCOUNT not in other.text, mine
            assert other.text.count("no existe") == missing.text.count("no existe") > 0, mine
        # a form that names the account does no better
        form = jose.get("/estado-de-cuenta")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        posted = jose.post("/estado-de-cuenta", data={"csrf_token": token, "cuenta": MARIA_ACCOUNT})
        assert posted.status_code == 404
        assert "María" not in posted.text and MARIA_ACCOUNT not in posted.text


def _relative(request, portal):
    def call(method, url, *args, **kwargs):
        kwargs.setdefault("timeout", 60)
        return request(method, portal.url(url) if url.startswith("/") else url, *args, **kwargs)

    return call
