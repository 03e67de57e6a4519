"""notifications: turns events into Spanish e-mails (SMTP, or .eml files when embedded).

Idempotent by event_id: the inbox claim and the delivery row commit together, so a redelivered
event sends nothing twice. A transient SMTP failure is recorded (attempts, last error) and the
handler raises: the event goes back through `<queue>.retry` with a growing delay (RETRY_DELAYS,
several hours in all, for an SMTP server that is down for a while) and is parked in
`<queue>.dead` only after that, where operators can requeue it. Nothing is dropped.
"""

import logging
import uuid

from nameko.dependency_providers import Config

from services.accounts.contracts import AccountsRpc
from services.auth.contracts import AuthRpc
from services.common import config as portal_config
from services.common.correlation import CorrelationContext
from services.common.db import Database
from services.common.entrypoints import event_handler, rpc
from services.common.errors import NotFound, ServiceUnavailable, ValidationError
from services.common.events import Inbox
from services.common.rpc import ServiceRpc
from services.common.schemas import load_or_raise
from services.notifications import domain, store
from services.notifications.contracts import (
    DeliveriesQuerySchema,
    DeliverySchema,
    RecoveryCodeSchema,
    SecondFactorCodeSchema,
)
from services.notifications.mail import Mailer, PermanentFailure, compose
from services.notifications.models import processed_events
from services.notifications.sms import SmsSender
from services.notifications.store import WriteTurn

log = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    """The e-mail could not be handed over now; the event goes back to its queue."""


# seconds before each new try of an e-mail that could not be handed to SMTP (about 3.5 h in all)
RETRY_DELAYS = (1, 5, 30, 120, 300, 600, 1800, 3600, 3600, 3600)


def notify(source, event_type):
    return event_handler(source, event_type, retry_delays=RETRY_DELAYS)


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

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def send_recovery_code(self, email, username, code):
        """Point-to-point e-mail with a temporary code. The code is never logged nor stored."""
        args = load_or_raise(
            RecoveryCodeSchema(), {"email": email, "username": username, "code": code}
        )
        errors = {}
        if domain.clean_address(args["email"]) is None:
            errors["email"] = ["Correo electrónico inválido."]
        if not domain.valid_code(args["code"]):
            errors["code"] = ["Código inválido."]
        if errors:
            raise ValidationError(fields=errors)
        notice = domain.recovery_code_notice(
            str(uuid.uuid4()), args["email"], args["username"], args["code"]
        )
        try:
            location = self.mailer.send(compose(notice, self.mailer.settings.sender))
        except Exception as exc:
            with self.write_turn:
                store.record(self.db, notice, "failed", 1, error=_describe(exc))
                self.db.commit()  # the failure stays on record although the call fails
            log.warning("recovery e-mail %s not sent: %s", notice.event_id, _describe(exc))
            raise ServiceUnavailable("No se pudo enviar el correo. Intente nuevamente.") from None
        with self.write_turn:
            store.record(self.db, notice, "sent", 1, location=location)
            self.db.commit()
        log.info("recovery e-mail %s sent", notice.event_id)
        return {"sent": True, "delivery_id": notice.event_id}

    @rpc
    def send_second_factor_code(
        self, email, username, code, purpose, expires_at=None, challenge_id=None, order=None
    ):
        """Point-to-point e-mail with a second-factor code, bound to its challenge (reference)
        and, for an order, naming its amount and masked destination. The code is never logged
        nor stored, and never travels in an event."""
        args = load_or_raise(
            SecondFactorCodeSchema(),
            {
                "email": email,
                "username": username,
                "code": code,
                "purpose": purpose,
                "expires_at": expires_at,
                "challenge_id": challenge_id,
                "order": order,
            },
        )
        errors = {}
        if domain.clean_address(args["email"]) is None:
            errors["email"] = ["Correo electrónico inválido."]
        if not domain.valid_second_factor_code(args["code"]):
            errors["code"] = ["Código inválido."]
        if errors:
            raise ValidationError(fields=errors)
        notice = domain.second_factor_code_notice(
            str(uuid.uuid4()),
            args["email"],
            args["username"],
            args["code"],
            args["purpose"],
            expires_at=args["expires_at"],
            challenge_id=args["challenge_id"],
            order=args["order"],
        )
        try:
            location = self.mailer.send(compose(notice, self.mailer.settings.sender))
        except Exception as exc:
            with self.write_turn:
                store.record(self.db, notice, "failed", 1, error=_describe(exc))
                self.db.commit()
            log.warning("second-factor e-mail %s not sent: %s", notice.event_id, _describe(exc))
            raise ServiceUnavailable("No se pudo enviar el correo. Intente nuevamente.") from None
        with self.write_turn:
            store.record(self.db, notice, "sent", 1, location=location)
            self.db.commit()
        log.info("second-factor e-mail %s sent (%s)", notice.event_id, args["purpose"])
        return {
            "sent": True,
            "delivery_id": notice.event_id,
            "email_masked": domain.mask_email(args["email"]),
        }

    @rpc
    def deliveries(self, limit=50):
        """The latest deliveries for operators (subjects and addresses only, never bodies)."""
        args = load_or_raise(DeliveriesQuerySchema(), {"limit": limit})
        return DeliverySchema(many=True).dump(store.recent(self.db, args["limit"]))

    # One handler per event that e-mails the member.

    @notify("auth", "user_registered")
    def on_user_registered(self, payload):
        self._deliver(payload)

    @notify("auth", "account_locked")
    def on_account_locked(self, payload):
        self._deliver(payload)

    @notify("auth", "account_throttled")
    def on_account_throttled(self, payload):
        self._deliver(payload)

    @notify("auth", "recovery_login")
    def on_recovery_login(self, payload):
        self._deliver(payload)

    @notify("auth", "password_changed")
    def on_password_changed(self, payload):
        self._deliver(payload)

    @notify("auth", "password_reset_requested")
    def on_password_reset_requested(self, payload):
        self._deliver(payload)

    @notify("accounts", "member_email_changed")
    def on_member_email_changed(self, payload):
        self._deliver(payload)

    @notify("credit", "application_submitted")
    def on_application_submitted(self, payload):
        self._deliver(payload)

    @notify("credit", "application_status_changed")
    def on_application_status_changed(self, payload):
        self._deliver(payload)

    # Security alerts of the second factor: e-mail with a "No fui yo" link, and SMS.

    @notify("auth", "login_new_device")
    def on_login_new_device(self, payload):
        self._alert(payload)

    @notify("auth", "totp_enrolled")
    def on_totp_enrolled(self, payload):
        self._alert(payload)

    @notify("auth", "totp_removed")
    def on_totp_removed(self, payload):
        self._alert(payload)

    @notify("auth", "recovery_codes_regenerated")
    def on_recovery_codes_regenerated(self, payload):
        self._alert(payload)

    @notify("auth", "device_removed")
    def on_device_removed(self, payload):
        self._alert(payload)

    @notify("auth", "session_removed")
    def on_session_removed(self, payload):
        self._alert(payload)

    @notify("auth", "second_factor_locked")
    def on_second_factor_locked(self, payload):
        self._alert(payload)

    @notify("auth", "recovery_code_used")
    def on_recovery_code_used(self, payload):
        self._alert(payload)

    @notify("auth", "not_me_reported")
    def on_not_me_reported(self, payload):
        self._alert(payload)

    def _alert(self, payload):
        """One alert: what is still owed of its e-mail and SMS (a redelivered event after a
        partial failure sends only the rest). The link token and the phone are asked before any
        transaction opens; either service away → the event comes back through the retry queue."""
        alert = domain.alert_for(payload)
        event_id = payload.get("event_id") if isinstance(payload, dict) else None
        if alert is None or not isinstance(event_id, str) or not event_id:
            log.error("notifications refused an alert without event_id or of an unknown type")
            return
        email_owed = not self._delivered(event_id, alert.kind)
        sms_owed = self.sms.name != "none" and not self._delivered(event_id, alert.kind + "_sms")
        link = self._not_me_link(event_id) if alert.link and email_owed else None
        phone = self._phone(payload) if sms_owed else None
        with self.write_turn:
            done = self._alert_now(payload, alert, link, phone, email_owed, sms_owed)
            self.db.commit()
        if not done:
            raise DeliveryFailed(payload.get("event_type"))

    def _delivered(self, event_id, kind):
        previous = store.find(self.db, event_id, kind)
        return previous is not None and previous.status in ("sent", "skipped")

    def _not_me_link(self, event_id):
        """The one-time "No fui yo" URL of an alert (auth issues the token), or None."""
        try:
            answer = self.auth.not_me_link(event_id)
        except NotFound:
            return None
        token = answer.get("token") if isinstance(answer, dict) else None
        base = self.config.get("PORTAL_PUBLIC_URL") or portal_config.env(
            "PORTAL_PUBLIC_URL",
            "http://" + portal_config.env("GATEWAY_ADDRESS", "127.0.0.1:8000"),
        )
        return domain.not_me_url(base, token)

    def _phone(self, payload):
        data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
        number = data.get("member_number")
        if not isinstance(number, str):
            return None
        try:
            member = self.accounts.get_member(number)
        except NotFound:
            return None
        return domain.phone_e164(member.get("phone") if isinstance(member, dict) else None)

    def _alert_now(self, payload, alert, link, phone, email_owed, sms_owed):
        if not self.inbox.claim(payload):
            return True
        extra = {"event_id": payload["event_id"], "event_type": payload.get("event_type")}
        outcomes = []  # (notice, status, attempts, error, location)
        notice = domain.alert_notice(payload, alert, link)
        if email_owed:
            outcomes.append(
                self._attempt(
                    notice,
                    notice.recipient,
                    "sin dirección de correo",
                    lambda: self.mailer.send(compose(notice, self.mailer.settings.sender)),
                )
            )
        if sms_owed:
            text = domain.alert_sms_text(payload, alert)
            sms_notice = domain.Notice(
                kind=alert.kind + "_sms",
                event_id=notice.event_id,
                subject=alert.subject,
                recipient=phone,
            )
            outcomes.append(
                self._attempt(
                    sms_notice,
                    phone,
                    "sin teléfono",
                    lambda: self.sms.send(phone, text, alert.kind),
                )
            )
        retry = any(outcome[1] == "retry" for outcome in outcomes)
        if retry:
            self.db.rollback()  # the claim goes: the event comes back for what is still owed
        for sent, status, attempts, error, location in outcomes:
            final = "failed" if status == "retry" else status
            store.record(self.db, sent, final, attempts, error=error, location=location)
            log.info("%s %s", sent.kind, final, extra=extra)
        return not retry

    def _attempt(self, notice, recipient, missing, send):
        """Send one message of an alert: (notice, sent|skipped|failed|retry, attempts, error,
        location). Only the kind and the outcome are logged, never the text."""
        if recipient is None:
            return notice, "skipped", 0, missing, None
        previous = store.find(self.db, notice.event_id, notice.kind)
        attempts = (previous.attempts if previous else 0) + 1
        try:
            return notice, "sent", attempts, None, send()
        except PermanentFailure as exc:
            return notice, "failed", attempts, _describe(exc), None
        except Exception as exc:  # noqa: BLE001  tried again through the retry queue
            return notice, "retry", attempts, _describe(exc), None

    def _member(self, payload):
        """The member's current record when the e-mail goes to their address on file (a changed
        e-mail is used for every later notice). accounts away: the call fails within its
        deadline and the event comes back later through the retry queue; nothing is lost."""
        number = domain.needs_member(payload)
        if number is None:
            return None
        try:
            return self.accounts.get_member(number)
        except NotFound:
            return None  # no such member: nothing to send (recorded as skipped)

    def _deliver(self, payload):
        member = self._member(payload)
        with self.write_turn:
            done = self._deliver_now(payload, member)
            self.db.commit()
        if not done:
            # the failure is on record; the event comes back later through the retry queue
            raise DeliveryFailed(payload.get("event_type"))

    def _deliver_now(self, payload, member=None):
        """Send the e-mail of one event; False when it must be tried again later."""
        notice = domain.notice_for(payload, member)
        if notice is None:
            log.error("notifications refused an event without event_id or of an unknown type")
            return True
        extra = {"event_id": notice.event_id, "event_type": payload.get("event_type")}
        if not self.inbox.claim(payload):
            return True
        previous = store.find(self.db, notice.event_id, notice.kind)
        if previous is not None and previous.status in ("sent", "skipped"):
            return True
        if notice.recipient is None:
            store.record(self.db, notice, "skipped", 0, error="sin dirección de correo")
            log.info("no e-mail address in %s: nothing sent", notice.kind, extra=extra)
            return True
        attempts = (previous.attempts if previous else 0) + 1
        try:
            location = self.mailer.send(compose(notice, self.mailer.settings.sender))
        except PermanentFailure as exc:
            store.record(self.db, notice, "failed", attempts, error=_describe(exc))
            log.warning("%s e-mail refused for good: %s", notice.kind, exc, extra=extra)
            return True
        except Exception as exc:
            # undo the claim so the event comes back, but keep the record of this attempt
            self.db.rollback()
            store.record(self.db, notice, "failed", attempts, error=_describe(exc))
            log.warning(
                "%s e-mail not sent (attempt %s): %s",
                notice.kind,
                attempts,
                _describe(exc),
                extra=extra,
            )
            return False
        store.record(self.db, notice, "sent", attempts, location=location)
        log.info("%s e-mail sent", notice.kind, extra=extra)
        return True


def _describe(exc):
    return f"{type(exc).__name__}: {exc}"[:300]
