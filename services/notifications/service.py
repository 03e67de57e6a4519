"""notifications: turns events into Spanish e-mails (SMTP, or .eml files when embedded) and the
second factor's security alerts into e-mails and SMS.

The use cases live in `usecases.py`; this module only wires nameko to them. The events it
consumes are the ones of `usecases.HANDLERS` (one queue per source and type).
"""

from nameko.dependency_providers import Config

from services.accounts.contracts import AccountsRpc
from services.auth.contracts import AuthRpc
from services.common.correlation import CorrelationContext
from services.common.db import Database
from services.common.entrypoints import event_handler, rpc
from services.common.events import Inbox
from services.common.rpc import ServiceRpc
from services.notifications.mail import Mailer
from services.notifications.models import processed_events
from services.notifications.sms import SmsSender
from services.notifications.store import WriteTurn
from services.notifications.usecases import HANDLERS, RETRY_DELAYS, NotificationUseCases


class NotificationsService:
    name = "notifications"

    db = Database("notifications")
    inbox = Inbox("notifications", processed_events)
    mailer = Mailer()
    write_turn = WriteTurn()
    accounts = ServiceRpc[AccountsRpc]("accounts")
    auth = ServiceRpc[AuthRpc]("auth")
    sms = SmsSender()
    config = Config()
    correlation = CorrelationContext()

    @property
    def notifications(self):
        return NotificationUseCases(
            self.db,
            self.inbox,
            self.write_turn,
            self.mailer,
            self.sms,
            self.accounts,
            self.auth,
            self.config,
        )

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def send_recovery_code(self, email, username, code):
        return self.notifications.send_recovery_code(email, username, code)

    @rpc
    def send_second_factor_code(
        self, email, username, code, purpose, expires_at=None, challenge_id=None, order=None
    ):
        return self.notifications.send_second_factor_code(
            email, username, code, purpose, expires_at, challenge_id, order
        )

    @rpc
    def deliveries(self, limit=50):
        return self.notifications.deliveries(limit)


def _handler(key):
    event, _, variant = key.partition("/")
    source, event_type = event.split(".")

    def handler(self, payload):
        HANDLERS.dispatch(key, self.notifications, payload)

    handler.__name__ = f"on_{event_type}" + (f"_{variant}" if variant else "")
    return event_handler(source, event_type, retry_delays=RETRY_DELAYS)(handler)


# one handler per entry of HANDLERS, `on_<type>[_<variant>]` (the names its queues have had)
for _event in HANDLERS.event_types:
    _method = _handler(_event)
    setattr(NotificationsService, _method.__name__, _method)
