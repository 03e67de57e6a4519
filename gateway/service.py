"""The gateway: the only public entry point (web pages and JSON API), nameko @http.

It owns nothing durable. Each feature area is a mixin in gateway/api (JSON) or gateway/web
(pages); this class only puts them together with the RPC proxies they use.
"""

from nameko.dependency_providers import Config

from gateway import metrics
from gateway.api.accounts import AccountsApi
from gateway.api.auth import AuthApi
from gateway.api.credit import CreditApi
from gateway.api.deposit import DepositApi
from gateway.api.operations import OperationsApi
from gateway.api.payments import PaymentsApi
from gateway.api.position import PositionApi
from gateway.principal import AuthenticationMixin
from gateway.web.auth import AuthPages
from gateway.web.credit import CreditPages
from gateway.web.deposit import DepositPages
from gateway.web.payments import PaymentsPages
from gateway.web.report_jobs import ReportJobs
from gateway.web.security import SecurityPages
from gateway.web.site import SitePages
from gateway.web.statements import StatementsWeb
from services.common.rpc import ServiceRpc


class GatewayService(
    AuthenticationMixin,
    OperationsApi,
    AuthApi,
    AuthPages,
    DepositApi,
    DepositPages,
    PositionApi,
    AccountsApi,
    StatementsWeb,
    CreditApi,
    CreditPages,
    PaymentsApi,
    PaymentsPages,
    SecurityPages,
    SitePages,
):
    name = "gateway"

    auth_rpc = ServiceRpc("auth", on_error=metrics.rpc_error)
    accounts_rpc = ServiceRpc("accounts", on_error=metrics.rpc_error)
    credit_rpc = ServiceRpc("credit", on_error=metrics.rpc_error)
    deposit_rpc = ServiceRpc("deposit", on_error=metrics.rpc_error)
    payments_rpc = ServiceRpc("payments", on_error=metrics.rpc_error)
    reports_rpc = ServiceRpc("reports", on_error=metrics.rpc_error)
    notifications_rpc = ServiceRpc("notifications", on_error=metrics.rpc_error)
    audit_rpc = ServiceRpc("audit", on_error=metrics.rpc_error)
    metrics_server = metrics.MetricsServer()
    config = Config()  # the container's (the broker's address for /health)
    report_jobs = ReportJobs()

    def rpc_for(self, service):
        return getattr(self, f"{service}_rpc")
