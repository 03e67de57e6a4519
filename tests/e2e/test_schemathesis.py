"""schemathesis against the running portal's /api/v1/openapi.json (real processes, demo loaded).

It runs schemathesis's CLI in a child process (the test process is monkey-patched by eventlet)
against a portal of its own: fuzzing logs in with made-up names, asks for recovery codes and
fails logins, which trips the per-address throttles and may lock users; the shared `portal`
fixture of the other end-to-end tests must not see any of that.

Every check runs (no 5xx, status codes, content types, headers and bodies as documented, 405
with `Allow` for undocumented methods, authentication not ignored, ...) except
`positive_data_acceptance`: a body can match the schema and still break a business rule
(a term under 30 days, a password that contains the user name), which is a documented 422.

Deterministic for CI: `--generation-deterministic` (no random seed, no example database), one
worker, a bounded number of examples per operation and a deadline for the child process.
"""

import subprocess
import sys

import pytest

from tests.e2e.private_portal import private_portal
from tests.helpers import DEMO_USERS, api_login

pytestmark = pytest.mark.slow  # real processes

MAX_EXAMPLES = 25
RUN_TIMEOUT = 150  # seconds for one schemathesis run, at most
CHECKS_SKIPPED = "positive_data_acceptance"
# logout ends the token the run uses: it runs on its own, with another member's token
LOGOUT = "/api/v1/auth/logout"
# identifiers that exist: half of the generated cases use one (maria's, or another member's,
# which must be a 404), so the answers with data are checked too, not only the 404s
CONFIG = """
[dictionaries.accounts]
values = ["4100234001", "4100234002", "4100517001"]

[dictionaries.loans]
values = ["CR-100234-01", "CR-100234-02", "CR-101002-01"]

[parameters]
"path.account_number" = { dictionary = "accounts", probability = 0.5 }
"path.loan_number" = { dictionary = "loans", probability = 0.5 }
"""


@pytest.fixture(scope="module")
def fuzz_portal(tmp_path_factory, rabbit_manager, amqp_base):
    # thousands of made-up logins and registrations from one address would throttle it, and a
    # throttled address is refused before any password check (tests/service/test_auth_*): the
    # fuzzer checks contracts, not the throttle, so its address gets a limit it cannot reach
    quiet = {"AUTH_ADDRESS_FAILURE_LIMIT": "1000000"}
    with private_portal(
        tmp_path_factory.mktemp("fuzz"), rabbit_manager, amqp_base, extra_env=quiet
    ) as portal:
        yield portal


def login(portal, username):
    import requests

    with requests.Session() as session:
        session.request = _relative(session.request, portal)
        session.base_url = portal.base_url
        return api_login(session, username, DEMO_USERS[username][0])


def _relative(request, portal):
    def call(method, url, *args, **kwargs):
        kwargs.setdefault("timeout", 30)
        return request(method, portal.url(url), *args, **kwargs)

    return call


def schemathesis(portal, token, tmp_path, name, *filters):
    report = tmp_path / f"{name}.xml"
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--no-color",
        "--config-file",
        str(config),
        "run",
        portal.url("/api/v1/openapi.json"),
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--exclude-checks",
        CHECKS_SKIPPED,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--generation-deterministic",  # implies no example database
        "--suppress-health-check",
        "too_slow",  # a PDF takes a while on a busy CI machine; that is no finding
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
        *filters,
    ]
    try:
        result = subprocess.run(  # noqa: S603  our own interpreter and module
            command, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=tmp_path
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout
        pytest.fail(f"schemathesis ({name}) ran over {RUN_TIMEOUT} s:\n{(out or '')[-6000:]}")
    output = result.stdout + result.stderr
    failures = output[output.find("FAILURES") :] if "FAILURES" in output else output
    assert result.returncode == 0, f"schemathesis ({name}) found problems:\n{failures[:12000]}"
    return output


def operations_tested(output):
    for line in output.splitlines():
        if line.strip().startswith("Tested:"):
            return int(line.split(":", 1)[1])
    return 0


def test_the_api_keeps_its_documented_contract(fuzz_portal, tmp_path):
    import requests

    spec = requests.get(fuzz_portal.url("/api/v1/openapi.json"), timeout=30).json()
    operations = sum(len(ops) for ops in spec["paths"].values())
    output = schemathesis(
        fuzz_portal, login(fuzz_portal, "maria"), tmp_path, "api", "--exclude-path", LOGOUT
    )
    assert operations_tested(output) == operations - 1, output[-4000:]
    # the portal is still whole afterwards: the fuzzing broke no process
    assert fuzz_portal.wait_healthy(timeout=30)["status"] == "ok"


def test_logout_keeps_its_documented_contract(fuzz_portal, tmp_path):
    output = schemathesis(
        fuzz_portal, login(fuzz_portal, "luis"), tmp_path, "logout", "--include-path", LOGOUT
    )
    assert operations_tested(output) == 1, output[-4000:]
