"""What the gateway's mixins (gateway/api, gateway/web, gateway/principal.py) take from each
other and from GatewayService, declared once so that mypy checks every use.

GatewayService (gateway/service.py) provides all of it at run time: the RPC proxies, each typed
by its service's contract (a call to an operation the contract does not name fails `make lint`),
its dependencies, and the methods one mixin offers the others. At run time this class is empty.
"""

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from services.accounts.contracts import AccountsRpc
from services.audit.contracts import AuditRpc
from services.auth.contracts import AuthRpc
from services.common.operations import JSON, ServiceOperations
from services.credit.contracts import CreditRpc
from services.deposit.contracts import DepositRpc
from services.notifications.contracts import NotificationsRpc
from services.payments.contracts import PaymentsRpc
from services.reports.contracts import ReportsRpc

if TYPE_CHECKING:
    from werkzeug.wrappers import Request, Response

    from gateway.coalesce import Coalescer
    from gateway.web.report_jobs import ReportJobs


@dataclass(frozen=True)
class Principal:
    """The session's member, as gateway/principal.py's `require_member` hands it to every
    handler: member-scoped handlers use `member_number` from here only, never from the client."""

    token: str
    username: str
    member_number: str
    display_name: str
    must_change_password: bool
    session_id: str
    last_login_at: str | None = None  # the login before this session's (UTC), for the pages


class GatewayParts:
    auth_rpc: AuthRpc
    accounts_rpc: AccountsRpc
    credit_rpc: CreditRpc
    deposit_rpc: DepositRpc
    payments_rpc: PaymentsRpc
    reports_rpc: ReportsRpc
    notifications_rpc: NotificationsRpc
    audit_rpc: AuditRpc

    if TYPE_CHECKING:
        config: dict[str, Any]  # the container's
        report_jobs: ReportJobs
        position_asks: dict[str, Coalescer] | None  # gateway/coalesce.py

        def rpc_for(self, service: str) -> ServiceOperations: ...

        # gateway/principal.py
        def require_member(
            self, request: Request, allow_password_change: bool = False
        ) -> Principal: ...
        def optional_member(self, request: Request) -> Principal | None: ...
        def forget_session(self, token: str) -> None: ...

        # gateway/api/accounts.py
        def member_statement(
            self,
            principal: Principal,
            account_number: str,
            date_from: date,
            date_to: date,
            page: int,
            page_size: int,
            order: str = ...,
        ) -> JSON: ...
        def statement_movements(
            self, principal: Principal, account_number: str, date_from: date, date_to: date
        ) -> tuple[JSON, list[JSON]]: ...
        def statement_csv(
            self, principal: Principal, account_number: str, date_from: date, date_to: date
        ) -> Response: ...
        def statement_pdf(
            self, principal: Principal, account_number: str, date_from: date, date_to: date
        ) -> Response: ...
        def render_statement(
            self,
            principal: Principal,
            account_number: str,
            date_from: date,
            date_to: date,
            timeout: float | None = None,
            progress: Any = None,
        ) -> JSON: ...

        # gateway/api/position.py
        def consolidated_position(self, principal: Principal) -> JSON: ...
        def position_pdf(self, principal: Principal) -> Response: ...

        # gateway/api/credit.py, gateway/api/deposit.py
        def loan_schedule_pdf(self, member_number: str, loan_number: str) -> Response: ...
        def simulation_pdf(self, member_number: str, query: JSON) -> Response: ...
        def deposit_simulation_pdf(self, principal: Principal, args: JSON) -> Response: ...
