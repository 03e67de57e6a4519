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
from gateway.coalesce import PositionAsks
from gateway.principal import AuthenticationMixin
from gateway.web.auth import AuthPages
from gateway.web.credit import CreditPages
from gateway.web.deposit import DepositPages
from gateway.web.payments import PaymentsPages
from gateway.web.position import PositionPages
from gateway.web.report_jobs import ReportJobs
from gateway.web.security import SecurityPages
from gateway.web.site import SitePages
from gateway.web.statements import StatementPages
from services.accounts.contracts import AccountsRpc
from services.audit.contracts import AuditRpc
from services.auth.contracts import AuthRpc
from services.common.rpc import ServiceRpc
from services.credit.contracts import CreditRpc
from services.deposit.contracts import DepositRpc
from services.notifications.contracts import NotificationsRpc
from services.payments.contracts import PaymentsRpc
from services.reports.contracts import ReportsRpc


class GatewayService(
    AuthenticationMixin,
    OperationsApi,
    AuthApi,
    AuthPages,
    DepositApi,
    DepositPages,
    PositionApi,
    AccountsApi,
    PositionPages,
    StatementPages,
    CreditApi,
    CreditPages,
    PaymentsApi,
    PaymentsPages,
    SecurityPages,
    SitePages,
):
    name = "gateway"

    auth_rpc = ServiceRpc[AuthRpc]("auth", on_error=metrics.rpc_error)
    accounts_rpc = ServiceRpc[AccountsRpc]("accounts", on_error=metrics.rpc_error)
    credit_rpc = ServiceRpc[CreditRpc]("credit", on_error=metrics.rpc_error)
    deposit_rpc = ServiceRpc[DepositRpc]("deposit", on_error=metrics.rpc_error)
    payments_rpc = ServiceRpc[PaymentsRpc]("payments", on_error=metrics.rpc_error)
    reports_rpc = ServiceRpc[ReportsRpc]("reports", on_error=metrics.rpc_error)
    notifications_rpc = ServiceRpc[NotificationsRpc]("notifications", on_error=metrics.rpc_error)
    audit_rpc = ServiceRpc[AuditRpc]("audit", on_error=metrics.rpc_error)
    metrics_server = metrics.MetricsServer()
    config = Config()  # the container's (the broker's address for /health)
    report_jobs = ReportJobs()
    position_asks = PositionAsks()  # members' concurrent positions, asked together

    def rpc_for(self, service):
        return getattr(self, f"{service}_rpc")
