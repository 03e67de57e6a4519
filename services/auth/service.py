"""auth: portal users, sessions, change of password and recovery (docs/identity.md).

RPCs: ping, register, login, authenticate, logout, change_password, request_recovery, me,
guessing_status.
Events (exchange `auth.events`, through the outbox; catalogue in docs/events.md): user_registered,
login_succeeded, login_failed, account_locked, account_throttled, recovery_login, password_changed,
password_reset_requested, logged_out. No event ever carries a password, a hash, a session token
or a temporary code. Consumes accounts.member_updated (e-mail, names and status of the member;
a changed e-mail holds recovery codes back for 72 h).

The use cases live in `usecases.py`; this module only wires nameko to them.
"""

from nameko.extensions import DependencyProvider

from services.auth import guessing
from services.auth.models import outbox, processed_events
from services.auth.passwords import HashingWorkers
from services.auth.usecases import AuthUseCases, Settings
from services.common.clock_provider import ClockProvider
from services.common.correlation import Tracker
from services.common.db import Database
from services.common.entrypoints import event_handler, rpc
from services.common.events import EventOutbox, Inbox
from services.common.rpc import ServiceRpc


class AuthSettings(DependencyProvider):
    def get_dependency(self, worker_ctx):
        return Settings(self.container.config)


class AuthService:
    name = "auth"

    db = Database("auth")
    events = EventOutbox("auth", outbox)
    inbox = Inbox("auth", processed_events)
    accounts = ServiceRpc("accounts")
    notifications = ServiceRpc("notifications")
    settings = AuthSettings()
    clock = ClockProvider()
    tracker = Tracker()
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
    def login(self, username=None, password=None, client_ip=None):
        return self.auth.login(username, password, client_ip)

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
