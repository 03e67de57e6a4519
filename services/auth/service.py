"""auth: portal users, sessions, change of password and recovery (docs/identity.md).

RPCs: ping, register, login, authenticate, logout, change_password, request_recovery, me,
guessing_status; and the second factor's: login_second_factor, resend_second_factor_code,
security, start_totp_enrollment, confirm_totp_enrollment, remove_totp, new_recovery_codes,
forget_device, end_session, security_state, not_me_link, report_not_me (docs/identity.md,
"Second factor").
Events (exchange `auth.events`, through the outbox; catalogue in docs/events.md): user_registered,
login_succeeded, login_failed, account_locked, account_throttled, recovery_login,
password_changed, password_reset_requested, logged_out; login_new_device, totp_enrolled,
totp_removed, recovery_codes_regenerated, device_removed, session_removed,
second_factor_locked, recovery_code_used, second_factor_failed, not_me_reported. No event ever
carries a password, a hash, a session token, a device token, a TOTP secret or any code.
Consumes accounts.member_updated (e-mail, names and status of the member; a changed e-mail
holds recovery codes back for 72 h).

The use cases live in `usecases.py`; this module only wires nameko to them.
"""

from nameko.extensions import DependencyProvider

from services.accounts.contracts import AccountsRpc
from services.auth import factor_rules, guessing
from services.auth.models import outbox, processed_events
from services.auth.passwords import HashingWorkers
from services.auth.settings import Settings
from services.auth.usecases import AuthUseCases
from services.common.clock_provider import ClockProvider
from services.common.correlation import CorrelationContext
from services.common.db import Database
from services.common.entrypoints import event_handler, rpc
from services.common.events import EventOutbox, Inbox
from services.common.rpc import ServiceRpc
from services.notifications.contracts import NotificationsRpc


class AuthSettings(DependencyProvider):
    def setup(self):
        # the User-Agent parser compiles its tables at its first use (~0.5 s): at start, not
        # inside a member's login
        factor_rules.device_label("Mozilla/5.0 (Linux; Android 14) Chrome/120.0 Mobile")

    def get_dependency(self, worker_ctx):
        return Settings(self.container.config)


class AuthService:
    name = "auth"

    db = Database("auth")
    events = EventOutbox("auth", outbox)
    inbox = Inbox("auth", processed_events)
    accounts = ServiceRpc[AccountsRpc]("accounts")
    notifications = ServiceRpc[NotificationsRpc]("notifications")
    settings = AuthSettings()
    clock = ClockProvider()
    correlation = CorrelationContext()
    hashing = HashingWorkers()  # Argon2 in its own processes (passwords.py)

    @property
    def auth(self):
        return AuthUseCases(
            self.db, self.events, self.accounts, self.notifications, self.settings, self.clock
        )

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def register(
        self,
        username=None,
        password=None,
        member_number=None,
        identification=None,
        first_name=None,
        last_name=None,
        email=None,
        client_ip=None,
    ):
        return self.auth.register(
            username=username,
            password=password,
            member_number=member_number,
            identification=identification,
            first_name=first_name,
            last_name=last_name,
            email=email,
            client_ip=client_ip,
        )

    @rpc
    def login(
        self, username=None, password=None, client_ip=None, device_token=None, user_agent=None
    ):
        return self.auth.login(username, password, client_ip, device_token, user_agent)

    @rpc
    def start_order_challenge(self, member_number=None, order_id=None, digest=None, summary=None):
        return self.auth.start_order_challenge(member_number, order_id, digest, summary)

    @rpc
    def verify_order_code(self, challenge_id=None, digest=None, method=None, code=None):
        return self.auth.verify_order_code(challenge_id, digest, method, code)

    @rpc
    def login_second_factor(
        self,
        challenge_id=None,
        method=None,
        code=None,
        remember_device=False,
        client_ip=None,
        user_agent=None,
    ):
        return self.auth.login_second_factor(
            challenge_id, method, code, remember_device, client_ip, user_agent
        )

    @rpc
    def resend_second_factor_code(self, challenge_id=None, client_ip=None):
        self.auth.resend_second_factor_code(challenge_id, client_ip)

    @rpc
    def security(self, token=None):
        return self.auth.security(token)

    @rpc
    def start_totp_enrollment(self, token=None, password=None, client_ip=None):
        return self.auth.start_totp_enrollment(token, password, client_ip)

    @rpc
    def confirm_totp_enrollment(
        self, token=None, enrollment_id=None, totp_code=None, code=None, client_ip=None
    ):
        return self.auth.confirm_totp_enrollment(token, enrollment_id, totp_code, code, client_ip)

    @rpc
    def remove_totp(self, token=None, password=None, code=None, client_ip=None):
        self.auth.remove_totp(token, password, code, client_ip)

    @rpc
    def new_recovery_codes(self, token=None, password=None, code=None, client_ip=None):
        return self.auth.new_recovery_codes(token, password, code, client_ip)

    @rpc
    def forget_device(self, token=None, device_id=None, client_ip=None):
        self.auth.forget_device(token, device_id, client_ip)

    @rpc
    def end_session(self, token=None, session_id=None, client_ip=None):
        self.auth.end_session(token, session_id, client_ip)

    @rpc
    def security_state(self, member_number=None):
        return self.auth.security_state(member_number)

    @rpc
    def not_me_link(self, event_id=None, member_number=None, event_type=None):
        return self.auth.not_me_link(event_id, member_number, event_type)

    @rpc
    def report_not_me(self, token=None, client_ip=None):
        return self.auth.report_not_me(token, client_ip)

    @rpc
    def authenticate(self, token=None):
        return self.auth.authenticate(token)

    @rpc
    def me(self, token=None):
        return self.auth.me(token)

    @rpc
    def logout(self, token=None, client_ip=None):
        self.auth.logout(token, client_ip)

    @rpc
    def change_password(self, token=None, current_password=None, new_password=None, client_ip=None):
        self.auth.change_password(token, current_password, new_password, client_ip)

    @rpc
    def request_recovery(self, username=None, email=None, member_number=None, client_ip=None):
        return self.auth.request_recovery(username, email, member_number, client_ip)

    @rpc
    def guessing_status(self):
        """{episodes, throttled}: guessing from many addresses, for the gateway's /metrics."""
        return guessing.figures(self.auth, self.clock.utcnow())

    @event_handler("accounts", "member_updated")
    def on_member_updated(self, payload):
        if self.inbox.claim(payload):
            self.auth.member_updated(payload)
