"""auth's use cases of the second factor (docs/identity.md, "Second factor").

The step after a right password (a remembered device, or a challenge: an e-mailed code, the app's
TOTP code or a recovery code), the app's enrolment and removal, recovery codes, remembered
devices, open sessions and recent logins, the alerts and their one-time "No fui yo" link.

A mixin of `AuthUseCases` (usecases.py): the password step stays there, unchanged but for the
one call into `after_password`. Codes, secrets and tokens never reach a log line or an event;
e-mailed codes go to notifications by RPC only.
"""

import hashlib
import json
import logging
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import eventlet
import segno
from sqlalchemy import CursorResult, select, update

from services.auth import domain, keys, passwords
from services.auth import factor_rules as rules
from services.auth.contracts import (
    DeviceRemovedSchema,
    LoginNewDeviceSchema,
    NotMeLinkSchema,
    NotMeReportedSchema,
    OrderChallengeSchema,
    OrderCodeSchema,
    PasswordAndCodeSchema,
    RecoveryCodesSchema,
    RecoveryCodeUsedSchema,
    ResendCodeSchema,
    SecondFactorFailedSchema,
    SecondFactorLockedSchema,
    SecondFactorSchema,
    SecurityAlertSchema,
    SecuritySchema,
    SecurityStateSchema,
    SessionRemovedSchema,
    TotpConfirmSchema,
    TotpEnrollmentSchema,
    TotpRemovedSchema,
    TotpStartSchema,
)
from services.auth.models import (
    BackupCode,
    Challenge,
    Device,
    EmailCode,
    LoginRecord,
    NotMeLink,
    SecondFactor,
    SecondFactorFailure,
    TotpEnrollment,
    User,
    UserSession,
)
from services.common.db import commit
from services.common.errors import (
    ChallengeExpired,
    Forbidden,
    InvalidCode,
    Locked,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    Unauthenticated,
    ValidationError,
)
from services.common.events import iso_utc
from services.common.schemas import load_or_raise

if TYPE_CHECKING:
    from marshmallow import Schema
    from sqlalchemy.orm import Session

    from services.accounts.contracts import AccountsRpc
    from services.auth.settings import Settings
    from services.common.ports import Outbox
    from services.notifications.contracts import NotificationsRpc

log = logging.getLogger("services.auth")

LOGIN = "login"
ENROLLMENT = "totp_enrollment"
ORDER = "order"  # a money-moving order of payments (docs/payments-auth-contract.md)
# payments' kinds of order -> the e-mail's (notifications)
ORDER_MAIL_KINDS = {
    "propia": "transferencia",
    "socio": "transferencia",
    "beneficiario": "beneficiario",
    "loan_payment": "pago_credito",
    "limites": "limites",
}
# orders that send money to another member (or let it be sent): refused for 48 hours after a
# change of second factor or a password changed with a recovery code
TO_OTHERS = ("socio", "beneficiario", "limites")
ORDER_RESTRICTED = (
    "Por su seguridad, durante 48 horas después de cambiar su segundo factor o de recuperar su "
    "contraseña no puede enviar dinero a otros socios, registrar beneficiarios ni subir límites."
)

FACTOR_LOCKED = (
    "Su segundo factor está bloqueado por seguridad. Para ingresar desde un dispositivo nuevo "
    "use “¿Olvidó su contraseña?”."
)
PASSWORD_WRONG = "La contraseña no es correcta."  # noqa: S105  (a message)
WRONG_CODE = "El código no es correcto. Le quedan {left} intentos."
CHALLENGE_ENDED = "Demasiados códigos incorrectos. Ingrese nuevamente para recibir otro."
METHOD_REFUSED = "Este método no sirve para este ingreso."
NO_APP = "No tiene una aplicación de autenticación registrada."
NOT_ME_LINK_USED = "El enlace ya fue usado o venció."
CODES_TOO_MANY = "Ya enviamos varios códigos. Espere unos minutos antes de pedir otro."

# alerts: the member is told by e-mail with a "No fui yo" link (notifications asks for it)
ALERTS = frozenset(
    {
        "login_new_device",
        "totp_enrolled",
        "totp_removed",
        "recovery_codes_regenerated",
        "device_removed",
        "session_removed",
        "second_factor_locked",
        "recovery_code_used",
    }
)
# other services' alerts whose e-mail carries the link too (an order ended, a beneficiary added,
# a limit raised): auth keeps no event of theirs, so the link is made when notifications first
# asks, for the member the event names (docs/identity.md, "No fui yo")
OTHER_ALERTS = frozenset(
    {
        "payments.order_completed",
        "payments.order_rejected",
        "payments.order_resolved",
        "payments.beneficiary_added",
        "payments.limits_raised",
    }
)


def _sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _instant(moment):
    return iso_utc(moment) if moment is not None else None


class SecondFactorUseCases:
    """Mixed into AuthUseCases: uses its db, events, notifications, settings, clock and helpers
    (`_open_session`, `_live_session`, `_end_session`, `_emit`)."""

    user_agent: str | None = None

    if TYPE_CHECKING:  # AuthUseCases (usecases.py) provides these
        db: Session
        events: Outbox
        accounts: AccountsRpc
        notifications: NotificationsRpc
        settings: Settings

        def now(self) -> datetime: ...
        def _open_session(
            self, user: User, address: str, now: datetime, code: Any
        ) -> dict[str, Any]: ...
        def _live_session(self, token: str | None, touch: bool = True) -> tuple[Any, User]: ...
        def _end_session(
            self,
            record: Any,
            user: User,
            now: datetime,
            reason: str,
            client_ip: str | None = None,
        ) -> None: ...
        def _emit(self, event_type: str, schema: type[Schema], **data: Any) -> None: ...

    # After the password ---------------------------------------------------------------------

    def after_password(self, user, address, now, device_token):
        """A right password: a session from a remembered device, else a challenge."""
        label = rules.device_label(self.user_agent)
        device = self._remembered_device(user, device_token, now)
        if device is not None:
            token = self._rotate_device(device, now)
            result = self._open_session(user, address, now, None)
            self._record_login(user, address, device.label, "success", now)
            result["device_token"] = token
            return result
        factor = self._factor(user)
        if factor is not None and factor.locked_at is not None:
            self._record_login(user, address, label, "second_factor_locked", now)
            commit(self.db)
            raise Locked(FACTOR_LOCKED, reason="second_factor_locked")
        enrolled = bool(factor is not None and factor.totp_secret)
        methods = rules.methods_for(enrolled)
        if not enrolled:
            self._refuse_too_many_codes(user, now)
        challenge = self._new_challenge(user, LOGIN, methods, address, label, now)
        if rules.EMAIL_CODE in methods:
            self._send_email_code(user, challenge, now)
        return {
            "second_factor_required": True,
            "challenge_id": challenge.id,
            "methods": methods,
            "challenge_expires_at": iso_utc(challenge.expires_at),
        }

    def login_second_factor(
        self,
        challenge_id=None,
        method=None,
        code=None,
        remember_device=False,
        client_ip=None,
        user_agent=None,
    ):
        data = load_or_raise(
            SecondFactorSchema(),
            {
                "challenge_id": challenge_id,
                "method": method,
                "code": code,
                "remember_device": bool(remember_device),
            },
        )
        now = self.now()
        address = _address(client_ip)
        challenge = self._open_challenge(data["challenge_id"], LOGIN, now)
        user = self.db.get_one(User, challenge.user_id)
        if user.status == "inactivo":
            raise Unauthenticated(
                "Su usuario está inactivo. Acérquese a una agencia de la cooperativa."
            )
        factor = self._factor(user)
        if factor is not None and factor.locked_at is not None:
            challenge.ended_at = now
            commit(self.db)
            raise Locked(FACTOR_LOCKED, reason="second_factor_locked")
        methods = challenge.methods.split(",")
        if data["method"] not in methods:
            raise ValidationError(fields={"method": [METHOD_REFUSED]})
        enrolled = bool(factor is not None and factor.totp_secret)
        if data["method"] == rules.EMAIL_CODE and enrolled:
            # enrolled since the challenge began: e-mail codes no longer open this account
            challenge.ended_at = now
            commit(self.db)
            raise ChallengeExpired()
        label = challenge.device_label or rules.device_label(user_agent)
        if not self._code_ok(user, factor, challenge, data["method"], data["code"], address, now):
            self._wrong_code(user, challenge, data["method"], address, label, now)
        challenge.used_at = now
        new_address = rules.address_is_new(address, self._successful_addresses(user, now), now)
        result = self._open_session(user, address, now, None)
        result["device_token"] = (
            self._new_device(user, user_agent, label, now) if data["remember_device"] else None
        )
        self._record_login(user, address, label, "success", now)
        if new_address:
            self._alert(
                "login_new_device",
                LoginNewDeviceSchema,
                user,
                address,
                now,
                device_label=label,
                session_id=self._session_id_of(result["token"]),
            )
        return result

    def resend_second_factor_code(self, challenge_id=None, client_ip=None):
        data = load_or_raise(ResendCodeSchema(), {"challenge_id": challenge_id})
        now = self.now()
        challenge = self._open_challenge(data["challenge_id"], None, now)
        if rules.EMAIL_CODE not in challenge.methods.split(","):
            raise ValidationError(fields={"challenge_id": [METHOD_REFUSED]})
        user = self.db.get(User, challenge.user_id)
        self._refuse_too_many_codes(user, now)
        self._send_email_code(user, challenge, now)

    # Codes ----------------------------------------------------------------------------------

    def _code_ok(self, user, factor, challenge, method, code, address, now):
        if method == rules.EMAIL_CODE:
            return self._email_code_ok(challenge, code, now)
        if method == rules.TOTP:
            return self._totp_ok(factor, code, now)
        return self._recovery_code_ok(user, code, address, now)

    def _email_code_ok(self, challenge, code, now):
        digest = rules.code_digest(keys.code_key(), "email", (code or "").strip())
        for row in self.db.scalars(
            select(EmailCode).where(
                EmailCode.challenge_id == challenge.id,
                EmailCode.used_at.is_(None),
                EmailCode.voided_at.is_(None),
            )
        ):
            if rules.email_code_usable(
                row.expires_at, row.used_at, row.voided_at, now
            ) and rules.digests_equal(row.code_hash, digest):
                row.used_at = now
                return True
        return False

    def _totp_ok(self, factor, code, now):
        if factor is None or not factor.totp_secret:
            return False
        secret = keys.decrypt(factor.totp_secret)
        if secret is None:
            return False
        step = rules.totp_accepted_step(secret, code, now, factor.totp_last_step)
        if step is None:
            return False
        factor.totp_last_step = step  # that step, and every earlier one, is spent
        return True

    def _recovery_code_ok(self, user, code, address, now):
        typed = rules.normalize_recovery_code(code)
        if len(typed) != rules.RECOVERY_CODE_LENGTH:
            return False
        digest = rules.code_digest(keys.code_key(), "recovery", typed)
        for row in self._backup_codes(user):
            if rules.digests_equal(row.code_hash, digest):
                row.used_at = now
                self._alert(
                    "recovery_code_used",
                    RecoveryCodeUsedSchema,
                    user,
                    address,
                    now,
                    recovery_codes_left=len(self._backup_codes(user)),
                )
                return True
        return False

    def _factor_code_ok(self, user, factor, code, address, now):
        """The app's code or a recovery code (removing the app, new recovery codes)."""
        typed = (code or "").strip()
        if typed.isdigit():
            return self._totp_ok(factor, typed, now)
        return self._recovery_code_ok(user, typed, address, now)

    def _wrong_code(self, user, challenge, method, address, label, now):
        """Count a wrong code, keep the count (the answer is an error), and raise."""
        challenge.failed_attempts = (challenge.failed_attempts or 0) + 1
        outcome = self._count_failure(user, challenge.failed_attempts, now)
        if challenge.purpose == LOGIN:
            self._record_login(user, address, label, "bad_code", now)
        self._emit(
            "second_factor_failed",
            SecondFactorFailedSchema,
            **self._alert_fields(user, address, now),
            method=method,
            attempts_left=outcome.attempts_left,
        )
        if outcome.lock_factor:
            challenge.ended_at = now
            self._lock_factor(user, address, now)
            commit(self.db)
            raise Locked(FACTOR_LOCKED, reason="second_factor_locked")
        if outcome.challenge_ended:
            challenge.ended_at = now
            commit(self.db)
            raise ChallengeExpired(CHALLENGE_ENDED)
        commit(self.db)
        raise InvalidCode(
            WRONG_CODE.format(left=outcome.attempts_left), attempts_left=outcome.attempts_left
        )

    def _wrong_factor_code(self, user, address, now):
        """A wrong code outside a challenge (removing the app, new recovery codes)."""
        self.db.add(SecondFactorFailure(user_id=user.id, at=now))
        self.db.flush()
        times = self._failure_times(user, now)
        left = max(0, rules.USER_MAX_FAILURES - len(times))
        if left == 0:
            self._lock_factor(user, address, now)
            commit(self.db)
            raise Locked(FACTOR_LOCKED, reason="second_factor_locked")
        commit(self.db)
        raise InvalidCode(
            WRONG_CODE.format(left=min(left, rules.CHALLENGE_MAX_FAILURES)),
            attempts_left=min(left, rules.CHALLENGE_MAX_FAILURES),
        )

    def _count_failure(self, user, challenge_failures, now):
        self.db.add(SecondFactorFailure(user_id=user.id, at=now))
        self.db.flush()
        return rules.after_wrong_code(challenge_failures, self._failure_times(user, now), now)

    def _failure_times(self, user, now):
        since = now - timedelta(hours=rules.USER_FAILURE_WINDOW_HOURS)
        return list(
            self.db.scalars(
                select(SecondFactorFailure.at).where(
                    SecondFactorFailure.user_id == user.id, SecondFactorFailure.at > since
                )
            )
        )

    def _lock_factor(self, user, address, now, reason="failures"):
        factor = self._factor(user, create=True)
        already = factor.locked_at is not None
        factor.locked_at = factor.locked_at or now
        factor.locked_reason = factor.locked_reason or reason
        if not already and reason == "failures":
            self._alert(
                "second_factor_locked",
                SecondFactorLockedSchema,
                user,
                address,
                now,
                failures=rules.USER_MAX_FAILURES,
            )

    def unlock_after_recovery(self, user, now):
        """A password changed with a temporary code ends the lock and starts the 48 hours."""
        factor = self._factor(user, create=True)
        factor.locked_at = None
        factor.locked_reason = None
        factor.security_changed_at = now
        self.db.execute(
            update(SecondFactorFailure)
            .where(SecondFactorFailure.user_id == user.id)
            .values(at=now - timedelta(hours=rules.USER_FAILURE_WINDOW_HOURS))
        )

    # E-mailed codes -------------------------------------------------------------------------

    def _refuse_too_many_codes(self, user, now):
        since = now - timedelta(minutes=rules.EMAIL_CODE_WINDOW_MINUTES)
        sent = self.db.scalars(
            select(EmailCode.created_at).where(
                EmailCode.user_id == user.id, EmailCode.created_at > since
            )
        ).all()
        retry = rules.email_code_retry_after(sent, now)
        if retry:
            raise RateLimited(CODES_TOO_MANY, retry_after=retry)

    def _send_email_code(self, user, challenge, now):
        """A new code for the challenge (an earlier one stops working), sent after the commit."""
        self.db.execute(
            update(EmailCode)
            .where(EmailCode.challenge_id == challenge.id, EmailCode.voided_at.is_(None))
            .values(voided_at=now)
        )
        code = rules.new_email_code()
        expires = rules.email_code_expiry(now)
        self.db.add(
            EmailCode(
                user_id=user.id,
                challenge_id=challenge.id,
                code_hash=rules.code_digest(keys.code_key(), "email", code),
                created_at=now,
                expires_at=expires,
            )
        )
        commit(self.db)
        order = json.loads(challenge.order_summary) if challenge.order_summary else None
        self._deliver_code(user, code, challenge.purpose, expires, challenge.id, order)

    def _deliver_code(self, user, code, purpose, expires, challenge_id, order=None):
        """Point-to-point to notifications (never in an event); a failure is logged, codeless.
        For an order, the e-mail names its kind, amount and masked destination."""
        username = user.username
        extra = {"order": order} if order is not None else {}
        try:
            call = self.notifications.send_second_factor_code.call_async(
                email=user.email,
                username=username,
                code=code,
                purpose=purpose,
                expires_at=iso_utc(expires),
                challenge_id=challenge_id,
                **extra,
            )
        except ServiceUnavailable:
            log.warning("notifications unavailable: second-factor code for %s not sent", username)
            return

        def wait():
            try:
                call.result()
            except Exception as exc:  # noqa: BLE001  logged; the member may ask for another
                log.warning(
                    "notifications did not confirm the second-factor code for %s: %s",
                    username,
                    type(exc).__name__,
                )

        eventlet.spawn_n(wait)

    # Orders (payments) ----------------------------------------------------------------------

    def start_order_challenge(self, member_number=None, order_id=None, digest=None, summary=None):
        """A challenge bound to one order's digest: the app's code when enrolled, else a code
        e-mailed now naming the amount and the masked destination (never a recovery code)."""
        data = load_or_raise(
            OrderChallengeSchema(),
            {
                "member_number": member_number,
                "order_id": order_id,
                "digest": digest,
                "summary": summary if isinstance(summary, dict) else {},
            },
        )
        now = self.now()
        user = store_user_by_member(self.db, data["member_number"])
        if user is None:
            raise NotFound("El socio no tiene usuario del portal.")
        factor = self._factor(user)
        if factor is not None and factor.locked_at is not None:
            raise Locked(FACTOR_LOCKED, reason="second_factor_locked")
        if data["summary"]["kind"] in TO_OTHERS:
            changed = factor.security_changed_at if factor else None
            until = rules.restricted_until([changed])
            if until is not None and until > now:
                raise Forbidden(
                    ORDER_RESTRICTED, reason="restricted", restricted_until=iso_utc(until)
                )
        enrolled = bool(factor is not None and factor.totp_secret)
        methods = [rules.TOTP] if enrolled else [rules.EMAIL_CODE]
        if not enrolled:
            self._refuse_too_many_codes(user, now)
        challenge = self._new_challenge(user, ORDER, methods, None, None, now)
        challenge.order_digest = data["digest"]
        summary = data["summary"]
        challenge.order_summary = json.dumps(
            {
                "kind": ORDER_MAIL_KINDS.get(summary["kind"], "transferencia"),
                "amount": summary["amount"],
                "destination_masked": summary.get("to_account_masked"),
            }
        )
        self.db.flush()
        if not enrolled:
            self._send_email_code(user, challenge, now)
        return {
            "challenge_id": challenge.id,
            "methods": methods,
            "challenge_expires_at": iso_utc(challenge.expires_at),
        }

    def verify_order_code(self, challenge_id=None, digest=None, method=None, code=None):
        """{valid: true, method} when the code confirms this challenge AND this digest (the
        challenge then ends). Another digest voids the challenge; wrong codes count as at login
        (5 end the challenge, 10 in 24 h lock the factor)."""
        data = load_or_raise(
            OrderCodeSchema(),
            {"challenge_id": challenge_id, "digest": digest, "method": method, "code": code},
        )
        now = self.now()
        challenge = self._open_challenge(data["challenge_id"], ORDER, now)
        if not secrets.compare_digest(challenge.order_digest or "", data["digest"]):
            challenge.ended_at = now  # the order changed: its code confirms nothing
            commit(self.db)
            raise ChallengeExpired()
        user = self.db.get(User, challenge.user_id)
        factor = self._factor(user)
        if factor is not None and factor.locked_at is not None:
            challenge.ended_at = now
            commit(self.db)
            raise Locked(FACTOR_LOCKED, reason="second_factor_locked")
        if data["method"] not in challenge.methods.split(","):
            raise ValidationError(fields={"method": [METHOD_REFUSED]})
        address = _address(None)
        if not self._code_ok(user, factor, challenge, data["method"], data["code"], address, now):
            self._wrong_code(user, challenge, data["method"], address, None, now)
        challenge.used_at = now
        return {"valid": True, "method": data["method"]}

    # Challenges -----------------------------------------------------------------------------

    def _new_challenge(self, user, purpose, methods, address, label, now):
        challenge = Challenge(
            id=secrets.token_urlsafe(24),
            user_id=user.id,
            purpose=purpose,
            methods=",".join(methods),
            created_at=now,
            expires_at=rules.challenge_expiry(now),
            failed_attempts=0,
            client_ip=address,
            user_agent=(self.user_agent or "")[:512] or None,
            device_label=label,
        )
        self.db.add(challenge)
        self.db.flush()
        return challenge

    def _open_challenge(self, challenge_id, purpose, now):
        challenge = self.db.get(Challenge, challenge_id) if challenge_id else None
        if (
            challenge is None
            or (purpose is not None and challenge.purpose != purpose)
            or not rules.challenge_open(
                challenge.expires_at, challenge.used_at, challenge.ended_at, now
            )
        ):
            raise ChallengeExpired()
        return challenge

    # Remembered devices ---------------------------------------------------------------------

    def _remembered_device(self, user, token, now):
        if not isinstance(token, str) or not token or len(token) > 200:
            return None
        device = self.db.scalars(select(Device).where(Device.token_hash == _sha256(token))).first()
        if (
            device is None
            or device.user_id != user.id  # another user's device spares nothing
            or not rules.device_usable(device.expires_at, device.forgotten_at, now)
        ):
            return None
        return device

    def _rotate_device(self, device, now):
        token = rules.new_device_token()
        device.token_hash = _sha256(token)
        device.last_used_at = now
        return token

    def _new_device(self, user, user_agent, label, now):
        token = rules.new_device_token()
        self.db.add(
            Device(
                id=secrets.token_hex(16),
                user_id=user.id,
                token_hash=_sha256(token),
                label=(label or rules.device_label(user_agent))[:120],
                created_at=now,
                expires_at=rules.device_expiry(now),
                last_used_at=now,
            )
        )
        return token

    def forget_devices(self, user, now):
        """Every device of the user must pass the second factor again; how many were live."""
        result = cast(
            CursorResult[Any],  # what an UPDATE gives
            self.db.execute(
                update(Device)
                .where(Device.user_id == user.id, Device.forgotten_at.is_(None))
                .values(forgotten_at=now)
            ),
        )
        return result.rowcount or 0

    # App (TOTP) enrolment and removal -------------------------------------------------------

    def start_totp_enrollment(self, token=None, password=None, client_ip=None):
        data = load_or_raise(TotpStartSchema(), {"password": password})
        record, user = self._live_session(token)
        now = self.now()
        self._check_password(user, data["password"])
        factor = self._factor(user)
        if factor is not None and factor.locked_at is not None:
            raise Locked(FACTOR_LOCKED, reason="second_factor_locked")
        enrolled = bool(factor is not None and factor.totp_secret)
        methods = rules.methods_for(enrolled)
        if not enrolled:
            self._refuse_too_many_codes(user, now)
        label = rules.device_label(self.user_agent)
        challenge = self._new_challenge(user, ENROLLMENT, methods, _address(client_ip), label, now)
        secret = rules.new_totp_secret()
        enrollment = TotpEnrollment(
            # the same id as its challenge: the e-mailed code's reference names both
            id=challenge.id,
            user_id=user.id,
            secret=keys.encrypt(secret),
            challenge_id=challenge.id,
            created_at=now,
            expires_at=now + timedelta(minutes=rules.ENROLLMENT_MINUTES),
        )
        self.db.add(enrollment)
        uri = rules.otpauth_uri(secret, user.username)
        answer = TotpEnrollmentSchema().dump(
            {
                "enrollment_id": enrollment.id,
                "secret": secret,
                "otpauth_uri": uri,
                "qr_svg": segno.make(uri, error="m").svg_inline(scale=4),
                "confirmation": {
                    "method": rules.EMAIL_CODE if not enrolled else rules.TOTP,
                    "challenge_expires_at": iso_utc(challenge.expires_at),
                },
            }
        )
        if not enrolled:
            self._send_email_code(user, challenge, now)
        return answer

    def confirm_totp_enrollment(
        self, token=None, enrollment_id=None, totp_code=None, code=None, client_ip=None
    ):
        data = load_or_raise(TotpConfirmSchema(), {"totp_code": totp_code, "code": code})
        record, user = self._live_session(token)
        now = self.now()
        address = _address(client_ip)
        enrollment = self.db.get(TotpEnrollment, enrollment_id) if enrollment_id else None
        if (
            enrollment is None
            or enrollment.user_id != user.id
            or enrollment.confirmed_at is not None
            or now >= enrollment.expires_at
        ):
            raise ChallengeExpired()
        challenge = self._open_challenge(enrollment.challenge_id, ENROLLMENT, now)
        factor = self._factor(user)
        if factor is not None and factor.locked_at is not None:
            raise Locked(FACTOR_LOCKED, reason="second_factor_locked")
        methods = challenge.methods.split(",")
        method = rules.EMAIL_CODE if rules.EMAIL_CODE in methods else rules.TOTP
        secret = keys.decrypt(enrollment.secret)
        step = rules.totp_accepted_step(secret, data["totp_code"], now, None) if secret else None
        # the new app's code first: a wrong one must not spend the code of the current method
        if step is None:
            self._wrong_code(user, challenge, "totp", address, challenge.device_label, now)
        if method == rules.EMAIL_CODE:
            current_ok = self._email_code_ok(challenge, data["code"], now)
        else:
            current_ok = self._factor_code_ok(user, factor, data["code"], address, now)
        if not current_ok:
            self._wrong_code(user, challenge, method, address, challenge.device_label, now)
        challenge.used_at = now
        enrollment.confirmed_at = now
        factor = self._factor(user, create=True)
        factor.totp_secret = enrollment.secret
        factor.totp_enrolled_at = now
        factor.totp_last_step = step
        factor.security_changed_at = now
        codes = self._replace_backup_codes(user, now)
        for other in _active_sessions(self.db, user.id, except_id=record.id):
            self._end_session(other, user, now, "totp_enrolled")
        self.forget_devices(user, now)
        self._end_email_challenges(user, now)
        self._alert("totp_enrolled", SecurityAlertSchema, user, address, now)
        return RecoveryCodesSchema().dump({"recovery_codes": codes})

    def remove_totp(self, token=None, password=None, code=None, client_ip=None):
        data = load_or_raise(PasswordAndCodeSchema(), {"password": password, "code": code})
        _record, user = self._live_session(token)
        now = self.now()
        address = _address(client_ip)
        factor = self._enrolled_factor(user, data["password"])
        with_recovery = not data["code"].strip().isdigit()
        if not self._factor_code_ok(user, factor, data["code"], address, now):
            self._wrong_factor_code(user, address, now)
        factor.totp_secret = None
        factor.totp_enrolled_at = None
        factor.totp_last_step = None
        factor.security_changed_at = now
        self._void_backup_codes(user, now)
        self.forget_devices(user, now)
        self._alert(
            "totp_removed",
            TotpRemovedSchema,
            user,
            address,
            now,
            with_recovery_code=with_recovery,
        )

    def new_recovery_codes(self, token=None, password=None, code=None, client_ip=None):
        data = load_or_raise(PasswordAndCodeSchema(), {"password": password, "code": code})
        _record, user = self._live_session(token)
        now = self.now()
        address = _address(client_ip)
        factor = self._enrolled_factor(user, data["password"])
        if not self._factor_code_ok(user, factor, data["code"], address, now):
            self._wrong_factor_code(user, address, now)
        codes = self._replace_backup_codes(user, now)
        self._alert("recovery_codes_regenerated", SecurityAlertSchema, user, address, now)
        return RecoveryCodesSchema().dump({"recovery_codes": codes})

    def _enrolled_factor(self, user, password):
        self._check_password(user, password)
        factor = self._factor(user)
        if factor is None or not factor.totp_secret:
            raise ValidationError(NO_APP, fields={"code": [NO_APP]})
        if factor.locked_at is not None:
            raise Locked(FACTOR_LOCKED, reason="second_factor_locked")
        return factor

    def _check_password(self, user, password):
        if not passwords.verify(user.password_hash, password):
            raise ValidationError(fields={"password": [PASSWORD_WRONG]})

    def _backup_codes(self, user):
        return self.db.scalars(
            select(BackupCode).where(
                BackupCode.user_id == user.id,
                BackupCode.used_at.is_(None),
                BackupCode.voided_at.is_(None),
            )
        ).all()

    def _void_backup_codes(self, user, now):
        self.db.execute(
            update(BackupCode)
            .where(
                BackupCode.user_id == user.id,
                BackupCode.used_at.is_(None),
                BackupCode.voided_at.is_(None),
            )
            .values(voided_at=now)
        )

    def _replace_backup_codes(self, user, now):
        self._void_backup_codes(user, now)
        codes = rules.new_recovery_codes()
        key = keys.code_key()
        for code in codes:
            self.db.add(
                BackupCode(
                    user_id=user.id,
                    code_hash=rules.code_digest(key, "recovery", code),
                    created_at=now,
                )
            )
        return codes

    def _end_email_challenges(self, user, now):
        """Once the app is enrolled, no e-mailed code opens the account (pending ones die)."""
        self.db.execute(
            update(Challenge)
            .where(
                Challenge.user_id == user.id,
                Challenge.used_at.is_(None),
                Challenge.ended_at.is_(None),
                Challenge.methods.contains(rules.EMAIL_CODE),
            )
            .values(ended_at=now)
        )

    # The member's security page -------------------------------------------------------------

    def security(self, token=None):
        record, user = self._live_session(token)
        now = self.now()
        factor = self._factor(user)
        devices = self.db.scalars(
            select(Device)
            .where(
                Device.user_id == user.id, Device.forgotten_at.is_(None), Device.expires_at > now
            )
            .order_by(Device.last_used_at.desc())
        ).all()
        sessions = [
            s
            for s in _active_sessions(self.db, user.id)
            if domain.session_state(
                s.last_seen_at, s.expires_at, s.revoked_at, now, self.settings.idle_minutes
            )
            == domain.ACTIVE
        ]
        logins = self.db.scalars(
            select(LoginRecord)
            .where(LoginRecord.user_id == user.id)
            .order_by(LoginRecord.at.desc(), LoginRecord.id.desc())
            .limit(rules.RECENT_LOGINS)
        ).all()
        enrolled = bool(factor is not None and factor.totp_secret)
        return SecuritySchema().dump(
            {
                "totp_enrolled": enrolled,
                "recovery_codes_left": len(self._backup_codes(user)) if enrolled else 0,
                "second_factor_locked": bool(factor is not None and factor.locked_at),
                "factor_changed_at": _instant(factor.security_changed_at if factor else None),
                "devices": [
                    {
                        "device_id": d.id,
                        "label": d.label,
                        "created_at": iso_utc(d.created_at),
                        "last_used_at": iso_utc(d.last_used_at),
                    }
                    for d in devices
                ],
                "sessions": [
                    {
                        "session_id": s.id,
                        "current": s.id == record.id,
                        "created_at": iso_utc(s.created_at),
                        "last_seen_at": iso_utc(s.last_seen_at),
                        "address": s.client_ip,
                    }
                    for s in sorted(sessions, key=lambda s: s.created_at, reverse=True)
                ],
                "recent_logins": [
                    {
                        "at": iso_utc(r.at),
                        "address": r.address,
                        "device_label": r.device_label,
                        "outcome": r.outcome,
                    }
                    for r in logins
                ],
            }
        )

    def forget_device(self, token=None, device_id=None, client_ip=None):
        _record, user = self._live_session(token)
        now = self.now()
        device = self.db.get(Device, device_id) if isinstance(device_id, str) else None
        if device is None or device.user_id != user.id or device.forgotten_at is not None:
            raise NotFound()
        device.forgotten_at = now
        self._alert(
            "device_removed",
            DeviceRemovedSchema,
            user,
            _address(client_ip),
            now,
            device_label=device.label,
        )

    def end_session(self, token=None, session_id=None, client_ip=None):
        _record, user = self._live_session(token)
        now = self.now()
        other = self.db.get(UserSession, session_id) if isinstance(session_id, str) else None
        if other is None or other.user_id != user.id or other.revoked_at is not None:
            raise NotFound()
        self._end_session(other, user, now, "removed", client_ip=client_ip)
        self._alert(
            "session_removed",
            SessionRemovedSchema,
            user,
            _address(client_ip),
            now,
            session_id=other.id,
        )

    def security_state(self, member_number=None):
        user = store_user_by_member(self.db, member_number)
        if user is None:
            raise NotFound()
        factor = self._factor(user)
        changed = factor.security_changed_at if factor else None
        return SecurityStateSchema().dump(
            {
                "totp_enrolled": bool(factor is not None and factor.totp_secret),
                "second_factor_locked": bool(factor is not None and factor.locked_at),
                "factor_changed_at": _instant(changed),
                "restricted_until": _instant(
                    until
                    if (until := rules.restricted_until([changed])) and until > self.now()
                    else None
                ),
            }
        )

    # Alerts and "No fui yo" -----------------------------------------------------------------

    def _alert_fields(self, user, address, now):
        return dict(
            username=user.username,
            member_number=user.member_number,
            display_name=user.display_name,
            email=user.email,
            at=iso_utc(now),
            client_ip=address,
        )

    def _alert(self, event_type, schema, user, address, now, **extra):
        """Emit an alert event and keep the place of its one-time "No fui yo" link."""
        data = schema().dump({**self._alert_fields(user, address, now), **extra})
        event = self.events.emit(event_type, data)
        if event_type in ALERTS:
            self.db.add(
                NotMeLink(
                    event_id=event["event_id"],
                    user_id=user.id,
                    event_type=event_type,
                    created_at=now,
                    expires_at=now + timedelta(days=rules.NOT_ME_LINK_DAYS),
                )
            )

    def not_me_link(self, event_id=None, member_number=None, event_type=None):
        """A fresh one-time token for the alert's link (an earlier one stops working). For
        another service's alert (OTHER_ALERTS, "source.type"), the link is made at the first ask,
        for the user of `member_number`."""
        link = self.db.get(NotMeLink, event_id) if isinstance(event_id, str) else None
        now = self.now()
        if link is None and event_type in OTHER_ALERTS:
            link = self._other_alert_link(event_id, member_number, event_type, now)
        if link is None or link.used_at is not None or now >= link.expires_at:
            return None
        token = secrets.token_urlsafe(32)
        link.token_hash = _sha256(token)
        return NotMeLinkSchema().dump({"token": token, "expires_at": iso_utc(link.expires_at)})

    def _other_alert_link(self, event_id, member_number, event_type, now):
        if not isinstance(event_id, str) or not 0 < len(event_id) <= 36:
            return None
        if not isinstance(member_number, str):
            return None
        user = self.db.scalars(select(User).where(User.member_number == member_number)).first()
        if user is None:
            return None  # a member without a user of the portal: no link to lock it
        link = NotMeLink(
            event_id=event_id,
            user_id=user.id,
            event_type=event_type,
            created_at=now,
            expires_at=now + timedelta(days=rules.NOT_ME_LINK_DAYS),
        )
        self.db.add(link)
        return link

    def report_not_me(self, token=None, client_ip=None):
        """ "No fui yo": every session ends, every device is forgotten, the second factor is
        locked until a recovery, and the cooperative is told (an audited event)."""
        if not isinstance(token, str) or not token or len(token) > 200:
            raise ChallengeExpired(NOT_ME_LINK_USED)
        now = self.now()
        link = self.db.scalars(
            select(NotMeLink).where(NotMeLink.token_hash == _sha256(token))
        ).first()
        if link is None or link.used_at is not None or now >= link.expires_at:
            raise ChallengeExpired(NOT_ME_LINK_USED)
        link.used_at = now
        user = self.db.get_one(User, link.user_id)
        address = _address(client_ip)
        sessions = _active_sessions(self.db, user.id)
        for record in sessions:
            self._end_session(record, user, now, "not_me")
        forgotten = self.forget_devices(user, now)
        self._lock_factor(user, address, now, reason="not_me")
        self._emit(
            "not_me_reported",
            NotMeReportedSchema,
            **self._alert_fields(user, address, now),
            reported_event_id=link.event_id,
            sessions_ended=len(sessions),
            devices_forgotten=forgotten,
        )
        return {"reported": True}

    # Helpers --------------------------------------------------------------------------------

    def _factor(self, user, create=False):
        factor = self.db.get(SecondFactor, user.id)
        if factor is None and create:
            factor = SecondFactor(user_id=user.id)
            self.db.add(factor)
        return factor

    def _record_login(self, user, address, label, outcome, now):
        self.db.add(
            LoginRecord(
                user_id=user.id,
                at=now,
                address=address,
                device_label=(label or rules.device_label(self.user_agent))[:120],
                outcome=outcome,
            )
        )

    def _successful_addresses(self, user, now):
        since = now - timedelta(days=rules.NEW_ADDRESS_DAYS)
        return self.db.execute(
            select(LoginRecord.address, LoginRecord.at).where(
                LoginRecord.user_id == user.id,
                LoginRecord.outcome == "success",
                LoginRecord.at > since,
            )
        ).all()

    def _session_id_of(self, token):
        return self.db.scalars(
            select(UserSession.id).where(UserSession.token_hash == domain.token_hash(token))
        ).first()


def _address(client_ip):
    text = str(client_ip).strip() if client_ip not in (None, "") else ""
    return text[:64] or "unknown"


def _active_sessions(db, user_id, except_id=None):
    query = select(UserSession).where(
        UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
    )
    if except_id is not None:
        query = query.where(UserSession.id != except_id)
    return db.scalars(query).all()


def store_user_by_member(db, member_number):
    if not isinstance(member_number, str) or not member_number.strip():
        return None
    return db.scalars(select(User).where(User.member_number == member_number.strip())).first()
