"""notifications' use cases: the e-mails (SMTP, or .eml files when embedded) and SMS that the
portal's events and two point-to-point RPCs ask for.

The application layer between the nameko entrypoints (`service.py`) and the pure rules
(`domain.py`: which event sends which notice, its Spanish text). `NotificationUseCases` takes the
unit of work (the worker's session) with its inbox, the turn writers take on SQLite, the senders
(the mailer and the SMS sender: this service's outbox to the world) and the accounts and auth
proxies. The events it consumes are the ones of `HANDLERS`, the table that also binds one queue
per source and type.

Idempotent by event_id: the inbox claim and the delivery row commit together, so a redelivered
event sends nothing twice. A transient SMTP failure is recorded (attempts, last error) and the
handler raises: the event goes back through `<queue>.retry` with a growing delay (RETRY_DELAYS,
several hours in all, for an SMTP server that is down for a while) and is parked in
`<queue>.dead` only after that, where operators can requeue it. Nothing is dropped.
"""

import logging
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, cast

from sqlalchemy.orm import Session

from services.common import config as portal_config
from services.common.errors import NotFound, ServiceUnavailable, ValidationError
from services.common.events import Claimer
from services.common.handlers import HandlerTable
from services.common.schemas import load_or_raise
from services.notifications import domain, store
from services.notifications.contracts import (
    DeliveriesQuerySchema,
    DeliverySchema,
    RecoveryCodeSchema,
    SecondFactorCodeSchema,
)
from services.notifications.mail import PermanentFailure, compose

log = logging.getLogger(__name__)

# seconds before each new try of an e-mail that could not be handed to SMTP (about 3.5 h in all)
RETRY_DELAYS = (1, 5, 30, 120, 300, 600, 1800, 3600, 3600, 3600)
NOT_SENT = "No se pudo enviar el correo. Intente nuevamente."

# (notice, sent|skipped|failed|retry, attempts, error, location)
Outcome = tuple[domain.Notice, str, int, str | None, str | None]


class DeliveryFailed(Exception):
    """The e-mail could not be handed over now; the event goes back to its queue."""


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


class NotificationUseCases:
    def __init__(
        self,
        session: Session,
        inbox: Claimer,
        write_turn: AbstractContextManager[Any],
        mailer: Any,
        sms: Any,
        accounts: Any,
        auth: Any,
        config: Mapping[str, Any],
    ) -> None:
        self.db = session
        self.inbox = inbox
        self.write_turn = write_turn
        self.mailer = mailer  # mail.Transport: .send(message) → where it went
        self.sms = sms  # sms.*Sender: .name, .send(phone, text, kind) → where it went
        self.accounts = accounts
        self.auth = auth
        self.config = config

    # --- point to point (RPC) ---------------------------------------------------------------

    def _send_now(self, notice: domain.Notice, what: str) -> None:
        """Send one e-mail now; its delivery row commits whether it went or not (the call fails
        when it did not)."""
        try:
            location = self.mailer.send(compose(notice, self.mailer.settings.sender))
        except Exception as exc:
            with self.write_turn:
                store.record(self.db, notice, "failed", 1, error=_describe(exc))
                self.db.commit()  # the failure stays on record although the call fails
            log.warning("%s e-mail %s not sent: %s", what, notice.event_id, _describe(exc))
            raise ServiceUnavailable(NOT_SENT) from None
        with self.write_turn:
            store.record(self.db, notice, "sent", 1, location=location)
            self.db.commit()

    def send_recovery_code(self, email: object, username: object, code: object) -> dict[str, Any]:
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
        self._send_now(notice, "recovery")
        log.info("recovery e-mail %s sent", notice.event_id)
        return {"sent": True, "delivery_id": notice.event_id}

    def send_second_factor_code(
        self,
        email: object,
        username: object,
        code: object,
        purpose: object,
        expires_at: object = None,
        challenge_id: object = None,
        order: object = None,
    ) -> dict[str, Any]:
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
        self._send_now(notice, "second-factor")
        log.info("second-factor e-mail %s sent (%s)", notice.event_id, args["purpose"])
        return {
            "sent": True,
            "delivery_id": notice.event_id,
            "email_masked": domain.mask_email(args["email"]),
        }

    def deliveries(self, limit: object = 50) -> list[dict[str, Any]]:
        """The latest deliveries for operators (subjects and addresses only, never bodies)."""
        args = load_or_raise(DeliveriesQuerySchema(), {"limit": limit})
        answer: list[dict[str, Any]] = DeliverySchema(many=True).dump(
            store.recent(self.db, args["limit"])
        )
        return answer

    # --- the e-mail of a member event -------------------------------------------------------

    def deliver(self, payload: Any) -> None:
        """The e-mail one event asks for; DeliveryFailed when it must be tried again later."""
        member = self._member(payload)
        with self.write_turn:
            done = self._deliver_now(payload, member)
            self.db.commit()
        if not done:
            # the failure is on record; the event comes back later through the retry queue
            raise DeliveryFailed(payload.get("event_type"))

    def _member(self, payload: Any) -> Any:
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

    def _deliver_now(self, payload: Any, member: Any = None) -> bool:
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

    # --- the security alerts of the second factor: e-mail with a "No fui yo" link, and SMS ---

    def alert(self, payload: Any) -> None:
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

    def notice_sms(self, payload: Any) -> None:
        """The SMS of a security notice that is not an alert (domain.NOTICE_SMS): its own queue,
        so a phone provider that is away never holds back nor repeats the e-mail."""
        sms = domain.notice_sms(payload)
        event_id = payload.get("event_id") if isinstance(payload, dict) else None
        if sms is None or self.sms.name == "none" or not isinstance(event_id, str) or not event_id:
            return
        kind, text = sms
        if self._delivered(event_id, kind):
            return
        phone = self._phone(payload)  # before the transaction: accounts may be slow
        mailing = domain.mailing_for(payload.get("source"), payload.get("event_type"))
        subject = mailing.subject if mailing else kind
        notice = domain.Notice(kind=kind, event_id=event_id, subject=subject, recipient=phone)
        with self.write_turn:
            if not self.inbox.claim(payload):
                return
            sent, status, attempts, error, location = self._attempt(
                notice, phone, "sin teléfono", lambda: self.sms.send(phone, text, kind)
            )
            if status == "retry":
                self.db.rollback()  # the claim goes: the event comes back through the retry queue
            final = "failed" if status == "retry" else status
            store.record(self.db, sent, final, attempts, error, location)
            self.db.commit()
        if status == "retry":
            raise DeliveryFailed(payload.get("event_type"))

    # --- orders that move money: completada / rechazada; a beneficiary added, a limit raised ----

    def order_alert(self, payload: Any) -> None:
        """The member's e-mail and SMS of an order that ended, a beneficiary added or a limit
        raised (payments' events; idempotent by event_id and kind like the security alerts: a
        redelivery after a partial failure sends only the rest). The member's address and phone
        are asked of accounts before any transaction opens."""
        kind = domain.order_alert_kind(payload)
        event_id = payload.get("event_id") if isinstance(payload, dict) else None
        if kind is None or not isinstance(event_id, str) or not event_id:
            return  # an order's other steps (or an unusable event) send nothing
        email_owed = not self._delivered(event_id, kind)
        sms_owed = self.sms.name != "none" and not self._delivered(event_id, kind + "_sms")
        member = self._order_member(payload) if email_owed or sms_owed else None
        link = self._order_not_me_link(payload, event_id) if email_owed else None
        with self.write_turn:
            done = self._order_alert_now(payload, kind, member, link, email_owed, sms_owed)
            self.db.commit()
        if not done:
            raise DeliveryFailed(payload.get("event_type"))

    def _order_not_me_link(self, payload: dict[str, Any], event_id: str) -> str | None:
        """The order's "No fui yo" link: auth makes it for the member the event names."""
        data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
        number = data.get("member_number") if data else None
        if not isinstance(number, str):
            return None
        return self._not_me_link(
            event_id, number, f"{payload.get('source')}.{payload.get('event_type')}"
        )

    def _order_member(self, payload: dict[str, Any]) -> Any:
        data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
        number = data.get("member_number") if data else None
        if not isinstance(number, str):
            return None
        try:
            return self.accounts.get_member(number)
        except NotFound:
            return None

    def _order_alert_now(
        self,
        payload: dict[str, Any],
        kind: str,
        member: Any,
        link: str | None,
        email_owed: bool,
        sms_owed: bool,
    ) -> bool:
        if not self.inbox.claim(payload):
            return True
        notice = domain.order_notice(payload, kind, member, link)
        phone = domain.phone_e164(member.get("phone") if isinstance(member, dict) else None)
        outcomes: list[Outcome] = []
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
            text = domain.order_sms_text(payload, kind)
            sms_notice = domain.Notice(
                kind=kind + "_sms",
                event_id=notice.event_id,
                subject=notice.subject,
                recipient=phone,
            )
            outcomes.append(
                self._attempt(
                    sms_notice, phone, "sin teléfono", lambda: self.sms.send(phone, text, kind)
                )
            )
        retry = any(outcome[1] == "retry" for outcome in outcomes)
        if retry:
            self.db.rollback()  # the claim goes: the event comes back for what is still owed
        for sent, status, attempts, error, location in outcomes:
            final = "failed" if status == "retry" else status
            store.record(self.db, sent, final, attempts, error=error, location=location)
        return not retry

    def _delivered(self, event_id: str, kind: str) -> bool:
        previous = store.find(self.db, event_id, kind)
        return previous is not None and previous.status in ("sent", "skipped")

    def _not_me_link(
        self, event_id: str, member_number: str | None = None, event_type: str | None = None
    ) -> str | None:
        """The one-time "No fui yo" URL of an alert (auth issues the token), or None."""
        try:
            answer = self.auth.not_me_link(event_id, member_number, event_type)
        except NotFound:
            return None
        token = answer.get("token") if isinstance(answer, dict) else None
        base = self.config.get("PORTAL_PUBLIC_URL") or portal_config.env(
            "PORTAL_PUBLIC_URL",
            "http://" + portal_config.env("GATEWAY_ADDRESS", "127.0.0.1:8000"),
        )
        return domain.not_me_url(cast(str, base), token)

    def _phone(self, payload: dict[str, Any]) -> str | None:
        data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
        number = data.get("member_number") if data else None
        if not isinstance(number, str):
            return None
        try:
            member = self.accounts.get_member(number)
        except NotFound:
            return None
        return domain.phone_e164(member.get("phone") if isinstance(member, dict) else None)

    def _alert_now(
        self,
        payload: dict[str, Any],
        alert: domain.Alert,
        link: str | None,
        phone: str | None,
        email_owed: bool,
        sms_owed: bool,
    ) -> bool:
        if not self.inbox.claim(payload):
            return True
        extra = {"event_id": payload["event_id"], "event_type": payload.get("event_type")}
        outcomes: list[Outcome] = []
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

    def _attempt(
        self,
        notice: domain.Notice,
        recipient: str | None,
        missing: str,
        send: Callable[[], str | None],
    ) -> Outcome:
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


_deliver = NotificationUseCases.deliver
_alert = NotificationUseCases.alert
_notice_sms = NotificationUseCases.notice_sms
_order_alert = NotificationUseCases.order_alert

# Every event notifications consumes, "<source>.<event_type>" → its use case: the queues the
# service binds (one per source and type) and what each does. "<source>.<event_type>/<variant>"
# is a second queue of the same event (handler `on_<event_type>_<variant>`).
HANDLERS = HandlerTable(
    {
        # one e-mail to the member
        "auth.user_registered": _deliver,
        "auth.account_locked": _deliver,
        "auth.account_throttled": _deliver,
        "auth.recovery_login": _deliver,
        "auth.password_changed": _deliver,
        "auth.password_reset_requested": _deliver,
        "accounts.member_email_changed": _deliver,
        # ...two of them also by SMS, each on a queue of its own
        "auth.account_throttled/sms": _notice_sms,
        "accounts.member_email_changed/sms": _notice_sms,
        "credit.application_submitted": _deliver,
        "credit.application_status_changed": _deliver,
        # security alerts of the second factor: e-mail with a "No fui yo" link, and SMS
        "auth.login_new_device": _alert,
        "auth.totp_enrolled": _alert,
        "auth.totp_removed": _alert,
        "auth.recovery_codes_regenerated": _alert,
        "auth.device_removed": _alert,
        "auth.session_removed": _alert,
        "auth.second_factor_locked": _alert,
        "auth.recovery_code_used": _alert,
        "auth.not_me_reported": _alert,
        # orders that move money, by e-mail and SMS (docs/events.md, "orders that move money")
        "payments.order_completed": _order_alert,
        "payments.order_rejected": _order_alert,
        "payments.order_resolved": _order_alert,
        "payments.beneficiary_added": _order_alert,
        "payments.limits_raised": _order_alert,
    }
)
