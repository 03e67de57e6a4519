"""The platform as a newcomer meets it: real processes, the demo cooperative, HTTP."""

from datetime import timedelta
from decimal import Decimal

from nameko.standalone.rpc import ClusterRpcProxy

from services.common.clock import CLOCK


def test_health_names_all_seven_services(api, portal):
    answer = api.get("/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}  # the public learns nothing more
    body = portal.health_detail().json()  # the operator's detail
    assert body["status"] == "ok"
    for name in ("auth", "accounts", "credit", "deposit", "reports", "notifications", "audit"):
        assert body["services"][name] == "ok"


def test_statement_rpc_of_maria_main_account_is_consistent(portal):
    today = CLOCK.today()
    with ClusterRpcProxy({"AMQP_URI": portal.env["AMQP_URI"]}, timeout=20) as rpc:
        stmt = rpc.accounts.get_statement(
            "100234",
            "4100234001",
            (today - timedelta(days=365)).isoformat(),
            today.isoformat(),
            1,
            5000,
        )
    assert stmt["total_movements"] == len(stmt["movements"]) > 100
    opening = Decimal(stmt["opening_balance"])
    credits, debits = Decimal(stmt["total_credits"]), Decimal(stmt["total_debits"])
    assert opening + credits - debits == Decimal(stmt["closing_balance"])
    assert Decimal(stmt["movements"][-1]["balance"]) == Decimal(stmt["closing_balance"])


def test_unknown_path_is_json_404_without_internals(api):
    answer = api.get("/api/v1/no-such-thing")
    assert answer.status_code == 404
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["error"]["code"] == "not_found"


def test_security_headers_and_request_id(api):
    answer = api.get("/health")
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["X-Request-ID"]


def test_openapi_document_is_served(api):
    answer = api.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    assert answer.json()["openapi"].startswith("3.")
