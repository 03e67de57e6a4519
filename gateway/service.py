"""The gateway: the only public entry point (web pages and JSON API), nameko @http.

It owns nothing durable. Each feature area is a mixin in gateway/api (JSON) or gateway/web
(pages); this class only puts them together with the RPC proxies they use.
"""

from gateway.api.accounts import AccountsApi
from gateway.api.operations import OperationsApi
from gateway.api.position import PositionApi
from gateway.principal import AuthenticationMixin
from gateway.web.statements import StatementsWeb
from services.common.rpc import ServiceRpc


class GatewayService(AuthenticationMixin, OperationsApi, PositionApi, AccountsApi, StatementsWeb):
    name = "gateway"

    auth_rpc = ServiceRpc("auth")
    accounts_rpc = ServiceRpc("accounts")
    credit_rpc = ServiceRpc("credit")
    deposit_rpc = ServiceRpc("deposit")
    reports_rpc = ServiceRpc("reports")
    notifications_rpc = ServiceRpc("notifications")
    audit_rpc = ServiceRpc("audit")

    def rpc_for(self, service):
        return getattr(self, f"{service}_rpc")
