"""payments: beneficiaries, limits, money-moving orders and their requests to the core
(docs/payments.md).

RPCs: ping, create_transfer, confirm_transfer, list_transfers, get_transfer,
create_loan_payment, confirm_loan_payment, list_loan_payments, get_loan_payment, list_orders,
get_order, confirm_order, get_limits, lower_limits, change_limits, get_limit_change,
confirm_limit_change, list_beneficiaries, add_beneficiary, confirm_beneficiary,
delete_beneficiary, pending_requests, order_evidence, resolve_request, sweep, inbound_status.
Events (exchange `payments.events`, through the outbox; docs/events.md): order_created,
order_sent, order_completed, order_rejected, order_cancelled, order_in_verification,
order_resolved, limits_lowered, limits_raised, beneficiary_added. Requests to the core on
`portal.requests` (routing key = request_type), through their own outbox. Consumes the core's
request_completed / request_rejected (`core.payments`), and accounts.request_movement_posted
(money moved for a rejected order).

The use cases live in `usecases/`; this module only wires nameko to them.
"""

import logging

from kombu import Exchange
from nameko.extensions import DependencyProvider
from nameko.timer import timer

from services.accounts.contracts import AccountsRpc
from services.auth.contracts import AuthRpc
from services.common import inbound
from services.common.clock_provider import ClockProvider
from services.common.config import env
from services.common.correlation import CorrelationContext
from services.common.db import Database
from services.common.entrypoints import event_handler, rpc
from services.common.events import EventOutbox, Inbox
from services.common.inbound import core_events
from services.common.rpc import ServiceRpc
from services.credit.contracts import CreditRpc
from services.payments.models import outbox, processed_events, request_outbox
from services.payments.usecases import HANDLERS, PaymentsUseCases, Settings

log = logging.getLogger("services.payments")

PORTAL_REQUESTS = Exchange("portal.requests", type="topic", durable=True, auto_delete=False)


def sweep_seconds():
    return float(env("PAYMENTS_SWEEP_SECONDS") or 5)


class PaymentsSettings(DependencyProvider):
    def get_dependency(self, worker_ctx):
        return Settings(self.container.config)


class PaymentsService:
    name = "payments"

    db = Database("payments")
    events = EventOutbox("payments", outbox)
    requests = EventOutbox("payments", request_outbox, exchange=PORTAL_REQUESTS)
    inbox = Inbox("payments", processed_events)
    accounts = ServiceRpc[AccountsRpc]("accounts")
    auth = ServiceRpc[AuthRpc]("auth")
    credit = ServiceRpc[CreditRpc]("credit")
    settings = PaymentsSettings()
    clock = ClockProvider()
    correlation = CorrelationContext()

    @property
    def payments(self):
        return PaymentsUseCases(
            self.db,
            self.events,
            self.requests,
            self.accounts,
            self.auth,
            self.settings,
            self.clock,
            self.credit,
        )

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def create_transfer(
        self,
        member_number=None,
        from_account=None,
        to_account=None,
        beneficiary_id=None,
        amount=None,
        description="",
        client_ip=None,
        session_id=None,
        idempotency_key=None,
        user_agent=None,
        channel=None,
    ):
        return self.payments.create_transfer(
            idempotency_key=idempotency_key,
            member_number=member_number,
            from_account=from_account,
            to_account=to_account,
            beneficiary_id=beneficiary_id,
            amount=amount,
            description=description,
            client_ip=client_ip,
            session_id=session_id,
            user_agent=user_agent,
            channel=channel,
        )

    @rpc
    def confirm_transfer(
        self,
        member_number=None,
        order_id=None,
        method=None,
        code=None,
        client_ip=None,
        session_id=None,
        user_agent=None,
        channel=None,
    ):
        return self.payments.confirm(
            "transfer",
            member_number=member_number,
            order_id=order_id,
            method=method,
            code=code,
            client_ip=client_ip,
            session_id=session_id,
            user_agent=user_agent,
            channel=channel,
        )

    @rpc
    def list_transfers(self, member_number):
        return self.payments.list_transfers(member_number)

    @rpc
    def get_transfer(self, member_number, order_id):
        return self.payments.get_transfer(member_number, order_id)

    @rpc
    def create_loan_payment(
        self,
        member_number=None,
        loan_number=None,
        from_account=None,
        amount=None,
        installment_numbers=None,
        as_of=None,
        client_ip=None,
        session_id=None,
        idempotency_key=None,
        user_agent=None,
        channel=None,
    ):
        return self.payments.create_loan_payment(
            idempotency_key=idempotency_key,
            user_agent=user_agent,
            channel=channel,
            member_number=member_number,
            loan_number=loan_number,
            from_account=from_account,
            amount=amount,
            installment_numbers=installment_numbers,
            as_of=as_of,
            client_ip=client_ip,
            session_id=session_id,
        )

    @rpc
    def confirm_loan_payment(
        self,
        member_number=None,
        order_id=None,
        method=None,
        code=None,
        client_ip=None,
        session_id=None,
        user_agent=None,
        channel=None,
    ):
        return self.payments.confirm(
            "loan_payment",
            member_number=member_number,
            order_id=order_id,
            method=method,
            code=code,
            client_ip=client_ip,
            session_id=session_id,
            user_agent=user_agent,
            channel=channel,
        )

    @rpc
    def list_loan_payments(self, member_number):
        return self.payments.list_transfers(member_number, "loan_payment")

    @rpc
    def get_loan_payment(self, member_number, order_id):
        return self.payments.get_transfer(member_number, order_id, "loan_payment")

    # every kind of order in one shape: the pages' history, order page and code step

    @rpc
    def list_orders(self, member_number):
        return self.payments.list_transfers(member_number, None)

    @rpc
    def get_order(self, member_number, order_id):
        return self.payments.get_transfer(member_number, order_id, None)

    @rpc
    def confirm_order(
        self,
        member_number=None,
        order_id=None,
        method=None,
        code=None,
        client_ip=None,
        session_id=None,
        user_agent=None,
        channel=None,
    ):
        return self.payments.confirm(
            None,
            member_number=member_number,
            order_id=order_id,
            method=method,
            code=code,
            client_ip=client_ip,
            session_id=session_id,
            user_agent=user_agent,
            channel=channel,
        )

    @rpc
    def get_limits(self, member_number):
        return self.payments.get_limits(member_number)

    @rpc
    def lower_limits(self, member_number, per_transfer=None, daily_to_others=None):
        return self.payments.lower_limits(member_number, per_transfer, daily_to_others)

    @rpc
    def change_limits(self, member_number, per_transfer=None, daily_to_others=None):
        return self.payments.change_limits(member_number, per_transfer, daily_to_others)

    @rpc
    def get_limit_change(self, member_number, change_id):
        return self.payments.get_limit_change(member_number, change_id)

    @rpc
    def confirm_limit_change(self, member_number=None, change_id=None, method=None, code=None):
        return self.payments.confirm_limit_change(member_number, change_id, method, code)

    @rpc
    def list_beneficiaries(self, member_number):
        return self.payments.list_beneficiaries(member_number)

    @rpc
    def add_beneficiary(
        self,
        member_number=None,
        alias=None,
        account_number=None,
        identification=None,
        idempotency_key=None,
    ):
        return self.payments.add_beneficiary(
            idempotency_key=idempotency_key,
            member_number=member_number,
            alias=alias,
            account_number=account_number,
            identification=identification,
        )

    @rpc
    def confirm_beneficiary(self, member_number=None, beneficiary_id=None, method=None, code=None):
        return self.payments.confirm_beneficiary(member_number, beneficiary_id, method, code)

    @rpc
    def delete_beneficiary(self, member_number=None, beneficiary_id=None):
        self.payments.delete_beneficiary(member_number, beneficiary_id)

    @rpc
    def pending_requests(self):
        return self.payments.pending_requests()

    @rpc
    def order_evidence(self, order_id=None):
        return self.payments.order_evidence(order_id)

    @rpc
    def resolve_request(self, order_id=None, outcome=None, operator=None, note=""):
        return self.payments.resolve(
            order_id=order_id, outcome=outcome, operator=operator, note=note
        )

    @rpc
    def sweep(self):
        """One pass of the sweeper now (operators, tests); the timer runs it every few seconds."""
        return self.payments.sweep()

    @timer(interval=sweep_seconds())
    def sweep_periodically(self):
        try:
            self.payments.sweep()
        except Exception:  # noqa: BLE001  accounts or the database away: next time
            log.warning("payments: the sweep did not finish", exc_info=True)

    @core_events("payments", HANDLERS.event_types)
    def on_core_event(self, event):
        HANDLERS.dispatch(event["event_type"], self.payments, event)

    @event_handler("accounts", "request_movement_posted")
    def on_request_movement(self, payload):
        if self.inbox.claim(payload):
            self.payments.on_movement_posted(payload)

    @rpc
    def inbound_status(self):
        return {
            "service": "payments",
            "refusals": inbound.refusal_counts(self.db, "payments"),
            "held": 0,
        }
