"""auth's use cases: registration, login, sessions, change of password, recovery, and the member
data that the accounts service announces (docs/identity.md).

The application layer between the nameko entrypoints (`service.py`) and the pure rules
(`domain.py`): it reads and writes through `store.py`, asks accounts and notifications over RPC,
emits events through the outbox, and takes "now" from the cooperative's clock. Every failure that
must be remembered although the answer is an error (a failed login, a throttled address) is
committed before raising, since the worker's transaction is rolled back on an error.
"""

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import eventlet
from marshmallow import Schema
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.accounts.contracts import AccountsRpc
from services.auth import domain, guessing, passwords, store
from services.auth.contracts import (
    AccountLockedSchema,
    ChangePasswordSchema,
    LoggedOutSchema,
    LoginFailedSchema,
    LoginResultSchema,
    LoginSchema,
    LoginSucceededSchema,
    MeSchema,
    PasswordChangedSchema,
    PasswordResetRequestedSchema,
    PrincipalSchema,
    RecoveryLoginSchema,
    RecoveryResultSchema,
    RecoverySchema,
    RegisterResultSchema,
    RegisterSchema,
    UserRegisteredSchema,
)
from services.auth.models import LoginLock, RecoveryCode, User, UserSession
from services.auth.schemas import MemberUpdatedSchema
from services.auth.second_factor import SecondFactorUseCases
from services.auth.settings import Settings
from services.common.clock import Clock
from services.common.db import commit
from services.common.errors import (
    Conflict,
    RateLimited,
    ServiceUnavailable,
    Unauthenticated,
    ValidationError,
)
from services.common.events import iso_utc
from services.common.ports import Outbox
from services.common.schemas import load_or_raise
from services.notifications.contracts import NotificationsRpc

log = logging.getLogger("services.auth")

BAD_CREDENTIALS = "Usuario o contraseña incorrectos."
# one answer whether the data do not match the member record or the member already has a user:
# a stranger holding a member's data learns neither which field failed nor that a user exists
REGISTRATION_MISMATCH = (
    "No fue posible registrar el usuario con estos datos. Verifique que coincidan con su ficha "
    "de socio; si ya tiene un usuario, use “¿Olvidó su contraseña?” en la página de ingreso."
)
USERNAME_TAKEN = "El nombre de usuario ya está en uso: elija otro."
CURRENT_PASSWORD_WRONG = "La contraseña actual no es correcta."  # noqa: S105  (a message)
CURRENT_PASSWORD_MISSING = "Ingrese su contraseña actual."  # noqa: S105  (a message)
MEMBER_INACTIVE = "Su usuario está inactivo. Acérquese a una agencia de la cooperativa."  # noqa: S105
RECOVERY_SENT = (
    "Si los datos corresponden a un usuario del portal, enviamos un código temporal a su correo "
    "registrado {email}. Vence en {minutes} minutos y solo puede usarse una vez; al ingresar con "
    "él deberá cambiar su contraseña."
)
RECOVERY_HELD = (
    "Por seguridad, el correo electrónico registrado en su ficha de socio cambió hace poco: "
    "durante {hours} horas después del cambio no enviamos códigos temporales a la nueva "
    "dirección. Para recuperar su contraseña ahora, llame a la cooperativa o acérquese a una "
    "agencia."
)
SESSION_IDLE_ENDED = "Su sesión expiró por inactividad. Ingrese nuevamente."
SESSION_TIME_ENDED = "Su sesión expiró. Ingrese nuevamente."

ACTIVE_STATUS = "activo"
INACTIVE_STATUS = "inactivo"

LOGIN = LoginSchema()
LOGIN_RESULT = LoginResultSchema()
PRINCIPAL = PrincipalSchema()
ME = MeSchema()


def recovery_sent_message(email: str) -> str:
    return RECOVERY_SENT.format(
        email=domain.mask_email_brief(email), minutes=domain.CODE_VALID_MINUTES
    )


def _address(client_ip: object) -> str:
    text = str(client_ip).strip() if client_ip not in (None, "") else ""
    return text[:64] or "unknown"


def _session_ended(reason: str | None) -> Unauthenticated:
    """Unauthenticated naming a timeout, so the pages can tell the member why they must log in
    again (and a member who logged out or changed the password elsewhere learns nothing new)."""
    if reason == domain.IDLE_TIMEOUT:
        return Unauthenticated(SESSION_IDLE_ENDED, reason=reason)
    if reason == domain.ABSOLUTE_TIMEOUT:
        return Unauthenticated(SESSION_TIME_ENDED, reason=reason)
    if reason == "member_inactive":
        return Unauthenticated(MEMBER_INACTIVE, reason="inactive")
    return Unauthenticated()


def _parse_instant(text: object) -> datetime | None:
    """An envelope's occurred_at ('…Z') as naive UTC, or None."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


class AuthUseCases(SecondFactorUseCases):
    """One worker's view of auth: built per call by `service.py` from its dependencies.

    The second factor's use cases come from `SecondFactorUseCases` (second_factor.py)."""

    def __init__(
        self,
        db: Session,
        events: Outbox,
        accounts: AccountsRpc,
        notifications: NotificationsRpc,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self.db = db
        self.events = events
        self.accounts = accounts
        self.notifications = notifications
        self.settings = settings
        self.clock = clock

    def now(self) -> datetime:
        return self.clock.utcnow()

    # Registration ---------------------------------------------------------------------------

    def register(self, client_ip: str | None = None, **fields: Any) -> dict[str, Any]:
        """Create the portal user of a member whose record matches; one user per member."""
        data = load_or_raise(RegisterSchema(), fields)
        now = self.now()
        address = _address(client_ip)
        self._refuse_throttled(address, now)
        name = domain.normalize_username(data["username"])
        number = data["member_number"].strip()
        identification = data["identification"].strip()
        typed = domain.MemberFacts(
            number, data["first_name"], data["last_name"], identification=identification
        )
        errors: dict[str, list[str]] = {}
        if domain.username_problems(name):
            errors["username"] = domain.username_problems(name)
        if domain.password_problems(data["password"], name, typed):
            errors["password"] = domain.password_problems(data["password"], name, typed)
        if errors:
            raise ValidationError(fields=errors)
        answer = self.accounts.verify_member(
            number, identification, data["first_name"], data["last_name"], data["email"]
        )
        has_user = store.user_by_member(self.db, number) is not None
        if not answer.get("match") or has_user:
            self._refuse(address, "registration", now, ValidationError(REGISTRATION_MISMATCH))
        # only a member whose data match and who has no user gets this far
        member = self.accounts.get_member(number)
        facts = domain.MemberFacts(
            number, member["given_names"], member["surnames"], identification=identification
        )
        problems = domain.password_problems(data["password"], name, facts)
        if problems:
            raise ValidationError(fields={"password": problems})
        taken = Conflict(USERNAME_TAKEN, fields={"username": [USERNAME_TAKEN]})
        if store.user_by_username(self.db, name) is not None:
            self._refuse(address, "registration", now, taken)
        user = User(
            username=name,
            member_number=number,
            display_name=member["display_name"],
            email=member["email"],
            status=member.get("status") or ACTIVE_STATUS,
            password_hash=passwords.hash_secret(data["password"]),
            must_change_password=False,
            created_at=now,
            password_changed_at=now,
        )
        try:
            with self.db.begin_nested():
                self.db.add(user)
        except IntegrityError:  # the same user name registered a moment ago
            self._refuse(address, "registration", now, taken)
        self._emit(
            "user_registered",
            UserRegisteredSchema,
            username=name,
            member_number=number,
            display_name=user.display_name,
            email=user.email,
            client_ip=address,
        )
        return RegisterResultSchema().dump({"username": name, "member_number": number})

    # Login ----------------------------------------------------------------------------------

    def login(
        self,
        username: object = None,
        password: object = None,
        client_ip: str | None = None,
        device_token: str | None = None,
        user_agent: object = None,
    ) -> dict[str, Any]:
        """A session for a temporary code, or for the password from a remembered device; else a
        second-factor challenge (docs/identity.md, "Lockout" and "Second factor")."""
        data = load_or_raise(LOGIN, {"username": username, "password": password})
        self.user_agent = user_agent if isinstance(user_agent, str) else None
        now = self.now()
        address = _address(client_ip)
        name = domain.normalize_username(data["username"])
        user = store.user_by_username(self.db, name)
        retry = self._throttled(address, now)
        if retry:
            # refused before any password check: the same answer and time, right password or not
            self._login_failed(name, user, address, "throttled")
            commit(self.db)
            raise RateLimited(retry_after=retry)
        retry = guessing.account_wait(self, name[: domain.USERNAME_MAX], user, address, now)
        if retry:
            # the user name is being guessed from many addresses: the same wait, right or wrong
            self._login_failed(name, user, address, "account_throttled")
            commit(self.db)
            raise RateLimited(retry_after=retry)
        lock = store.login_lock(self.db, user.id, address) if user is not None else None
        locked = lock is not None and domain.is_locked(lock.locked_until, now)
        secret = data["password"]
        # a locked user+address is checked against a dummy hash: the same work, time and answer
        # as a wrong password, so the lock neither tells that the user exists nor can be told
        # apart from a failure
        stored = user.password_hash if user is not None and not locked else None
        ok, upgraded = passwords.check(stored, secret)
        code = None
        if not ok and user is not None and domain.looks_like_code(secret):
            code = self._matching_code(user, secret, now)
        # (a right password or code is a user's: a missing user is checked against a dummy hash)
        if (ok or code is not None) and user is not None and user.status == INACTIVE_STATUS:
            self._login_failed(name, user, address, "inactive")
            commit(self.db)
            raise Unauthenticated(MEMBER_INACTIVE, reason="inactive")
        if code is not None:
            assert user is not None  # a code is a user's
            # a code opens even a locked user, only to change the password (no second step:
            # the code came by e-mail)
            self._record_login(user, address, None, "success", now)
            return self._open_session(user, address, now, code)
        if ok:
            assert user is not None  # a right password is a user's
            if upgraded:  # made with older Argon2 parameters: stored again with today's
                user.password_hash = upgraded
            return self.after_password(user, address, now, device_token)
        return self._refuse_login(name, user, lock, locked, address, now)

    def _matching_code(self, user: User, secret: str, now: datetime) -> RecoveryCode | None:
        for candidate in store.usable_codes(self.db, user.id, now):
            if passwords.verify(candidate.code_hash, secret):
                return candidate
        return None

    def _open_session(
        self, user: User, address: str, now: datetime, code: RecoveryCode | None
    ) -> dict[str, Any]:
        if code is not None:
            # the code is spent and the old password stops working; the member must choose one
            code.used_at = now
            store.invalidate_codes(self.db, user.id, now)
            store.clear_login_locks(self.db, user.id)
            user.password_hash = None
            user.must_change_password = True
            for other in store.active_sessions(self.db, user.id):
                self._end_session(other, user, now, "password_reset")
        else:
            store.clear_login_lock(self.db, user.id, address)
        guessing.succeeded(self, user.username, address)
        token = domain.new_token()
        record = store.open_session(
            self.db, user, token, now, self.settings.absolute_hours, address, recovery_code=code
        )
        self._emit(
            "login_succeeded",
            LoginSucceededSchema,
            username=user.username,
            member_number=user.member_number,
            session_id=record.id,
            recovery_login=code is not None,
            client_ip=address,
        )
        if code is not None:
            # the member hears of it at once: whoever used the code, it was not a routine login
            self._emit(
                "recovery_login",
                RecoveryLoginSchema,
                username=user.username,
                member_number=user.member_number,
                display_name=user.display_name,
                email=user.email,
                logged_in_at=iso_utc(now),
                client_ip=address,
            )
        return LOGIN_RESULT.dump(
            {
                "token": token,
                "expires_at": iso_utc(record.expires_at),
                "must_change_password": bool(code is not None or user.must_change_password),
                "member": {
                    "member_number": user.member_number,
                    "display_name": user.display_name,
                },
            }
        )

    def _refuse_login(
        self,
        name: str,
        user: User | None,
        lock: LoginLock | None,
        locked: bool,
        address: str,
        now: datetime,
    ) -> NoReturn:  # raises the refusal
        settings = self.settings
        reason = "locked" if locked else ("bad_password" if user else "unknown_user")
        self._login_failed(name, user, address, reason)
        if user is not None:
            self._record_login(user, address, None, "bad_password", now)
        if user is not None and not locked:
            lock = store.count_login_failure(self.db, user, address, lock)
            outcome = domain.after_failure(
                lock.failed_attempts, now, settings.max_failures, settings.lock_minutes
            )
            lock.failed_attempts = outcome.failed_attempts
            if outcome.locked_now:
                assert outcome.locked_until is not None  # locked now: until a moment
                lock.locked_until = outcome.locked_until
                # the member learns of the lock by e-mail; the answer warns that it may be so
                self._emit(
                    "account_locked",
                    AccountLockedSchema,
                    username=user.username,
                    member_number=user.member_number,
                    display_name=user.display_name,
                    email=user.email,
                    locked_until=iso_utc(outcome.locked_until),
                    retry_after=domain.seconds_until(outcome.locked_until, now),
                    reason="too_many_failures",
                    client_ip=address,
                )
        message = guessing.count_failure(self, name[: domain.USERNAME_MAX], user, address, now)
        throttled = self._address_failure(address, "login", now)
        commit(self.db)
        if throttled:
            raise RateLimited(retry_after=throttled)
        raise Unauthenticated(message or BAD_CREDENTIALS)

    def _login_failed(self, name: str, user: User | None, address: str, reason: str) -> None:
        self._emit(
            "login_failed",
            LoginFailedSchema,
            username=name[: domain.USERNAME_MAX],
            member_number=user.member_number if user else None,
            reason=reason,
            client_ip=address,
        )

    # Sessions -------------------------------------------------------------------------------

    def authenticate(self, token: object = None) -> dict[str, Any]:
        """The member of a live session (touches its last use); Unauthenticated otherwise."""
        record, user = self._live_session(token)
        return PRINCIPAL.dump(
            {
                "username": user.username,
                "member_number": user.member_number,
                "display_name": user.display_name,
                "must_change_password": bool(
                    record.opened_with_temporary_code or user.must_change_password
                ),
                "session_id": record.id,
                "last_login_at": self._last_login(record),
            }
        )

    def me(self, token: object = None) -> dict[str, Any]:
        record, user = self._live_session(token)
        return ME.dump(
            {
                "username": user.username,
                "member_number": user.member_number,
                "display_name": user.display_name,
                "email_masked": domain.mask_email(user.email),
                "last_login_at": self._last_login(record),
            }
        )

    def _last_login(self, record: UserSession) -> str | None:
        """The successful login before this session's, as a UTC instant, or None."""
        previous = store.previous_login(self.db, record)
        return iso_utc(previous) if previous is not None else None

    def logout(self, token: object = None, client_ip: str | None = None) -> None:
        """End the session at once."""
        record, user = self._live_session(token, touch=False)
        self._end_session(record, user, self.now(), "logout", client_ip=client_ip)

    def _live_session(self, token: object, touch: bool = True) -> tuple[UserSession, User]:
        if not isinstance(token, str) or not token or len(token) > 200:
            raise Unauthenticated()
        now = self.now()
        record = store.session_by_token(self.db, token)
        if record is None:
            raise Unauthenticated()
        state: str = domain.session_state(
            record.last_seen_at,
            record.expires_at,
            record.revoked_at,
            now,
            self.settings.idle_minutes,
        )
        if state == domain.REVOKED:
            raise _session_ended(record.revoked_reason)
        user = self.db.get_one(User, record.user_id)
        if state == domain.ACTIVE and user.status == INACTIVE_STATUS:
            state = "member_inactive"
        if state != domain.ACTIVE:
            self._end_session(record, user, now, state)
            commit(self.db)
            raise _session_ended(state)
        if touch and domain.should_touch(record.last_seen_at, now):
            record.last_seen_at = now
        return record, user

    def _end_session(
        self,
        record: UserSession,
        user: User,
        now: datetime,
        reason: str,
        client_ip: str | None = None,
    ) -> None:
        store.revoke(record, now, reason)
        self._emit(
            "logged_out",
            LoggedOutSchema,
            username=user.username,
            member_number=user.member_number,
            session_id=record.id,
            reason=reason,
            client_ip=_address(client_ip) if client_ip else record.client_ip,
        )

    # Change of password ---------------------------------------------------------------------

    def change_password(
        self,
        token: object = None,
        current_password: object = None,
        new_password: object = None,
        client_ip: str | None = None,
    ) -> None:
        """Policy-checked change; every other session of the user ends, and so does any lock.

        In a session opened with a temporary code the current password is not asked: the code
        was just used to open it (and the old password no longer exists).
        """
        data = load_or_raise(
            ChangePasswordSchema(),
            {"current_password": current_password, "new_password": new_password},
        )
        record, user = self._live_session(token)
        now = self.now()
        current, new = data["current_password"], data["new_password"]
        with_code = bool(record.opened_with_temporary_code)
        if not with_code:
            if not current:
                raise ValidationError(fields={"current_password": [CURRENT_PASSWORD_MISSING]})
            if not passwords.verify(user.password_hash, current):
                raise ValidationError(fields={"current_password": [CURRENT_PASSWORD_WRONG]})
        problems = domain.password_problems(new, user.username, *self._member_facts(user, new))
        if current and new == current:
            problems.append(domain.MSG_PASSWORD_SAME)
        if problems:
            raise ValidationError(fields={"new_password": problems})
        user.password_hash = passwords.hash_secret(new)
        user.must_change_password = False
        user.password_changed_at = now
        record.opened_with_temporary_code = False
        store.invalidate_codes(self.db, user.id, now)
        store.clear_login_locks(self.db, user.id)
        others = store.active_sessions(self.db, user.id, except_id=record.id)
        for other in others:
            self._end_session(other, user, now, "password_changed")
        self.forget_devices(user, now)
        if with_code:
            # the temporary code's session only served to choose the password: the next
            # login asks for the second factor; a locked factor opens again
            self._end_session(record, user, now, "password_changed")
            self.unlock_after_recovery(user, now)
        self._emit(
            "password_changed",
            PasswordChangedSchema,
            username=user.username,
            member_number=user.member_number,
            display_name=user.display_name,
            email=user.email,
            reason="recovery" if with_code else "change",
            other_sessions_revoked=len(others),
            client_ip=_address(client_ip) if client_ip else record.client_ip,
        )

    def _member_facts(self, user: User, password: str) -> tuple[domain.MemberFacts, bool]:
        """The member's names from accounts, and whether the password holds the cédula (asked
        to accounts, which never hands the cédula out)."""
        member = self.accounts.get_member(user.member_number)
        facts = domain.MemberFacts(user.member_number, member["given_names"], member["surnames"])
        found = any(
            self.accounts.is_member_identification(user.member_number, candidate)
            for candidate in domain.identification_candidates(password)
        )
        return facts, found

    # Recovery -------------------------------------------------------------------------------

    def request_recovery(
        self,
        username: object = None,
        email: object = None,
        member_number: object = None,
        client_ip: str | None = None,
    ) -> dict[str, Any]:
        """A temporary code when the three fields match one user; the same answer otherwise.

        The code goes only to the registered e-mail and the answer says where (masked).
        """
        data = load_or_raise(
            RecoverySchema(),
            {"username": username, "email": email, "member_number": member_number},
        )
        now = self.now()
        address = _address(client_ip)
        name = domain.normalize_username(data["username"])[: domain.USERNAME_MAX]
        number = data["member_number"].strip()
        event: dict[str, Any] = dict(
            username=name,
            member_number=None,
            display_name=None,
            email=None,
            delivery=None,
            expires_at=None,
            client_ip=address,
        )
        retry = self._throttled(address, now)
        if retry:
            self._emit_reset(event, "throttled")
            commit(self.db)
            raise RateLimited(retry_after=retry)
        user = store.user_by_username(self.db, name)
        matched = (
            user is not None
            and user.member_number == number
            and user.email.strip().casefold() == data["email"].strip().casefold()
        )
        # the same answer whether or not the data match: where the code went, masked
        generic = RecoveryResultSchema().dump(
            {"message": recovery_sent_message(data["email"]), "temporary_code": None}
        )
        if not matched:
            passwords.hash_secret(domain.generate_code())  # same work as a match
            self._address_failure(address, "recovery", now)
            self._emit_reset(event, "no_match")
            return generic
        assert user is not None  # matched
        event.update(member_number=user.member_number, display_name=user.display_name)
        if user.status == INACTIVE_STATUS:
            passwords.hash_secret(domain.generate_code())
            self._emit_reset(event, "member_inactive")
            return generic
        hold_hours = self.settings.number(
            "AUTH_EMAIL_CHANGE_HOLD_HOURS", domain.EMAIL_CHANGE_HOLD_HOURS
        )
        if domain.recovery_held(user.email_changed_at, now, hold_hours):
            # the new address may be a taker's: nothing goes there, the member calls instead
            passwords.hash_secret(domain.generate_code())
            self._emit_reset(event, "email_recently_changed")
            return RecoveryResultSchema().dump(
                {"message": RECOVERY_HELD.format(hours=f"{hold_hours:g}"), "temporary_code": None}
            )
        if not domain.recovery_allowed(store.recent_code_times(self.db, user.id, now), now):
            passwords.hash_secret(domain.generate_code())
            self._emit_reset(event, "limit_reached")
            return generic
        code = domain.generate_code()
        expires = now + timedelta(minutes=domain.CODE_VALID_MINUTES)
        self.db.add(
            RecoveryCode(
                user_id=user.id,
                code_hash=passwords.hash_secret(code),
                created_at=now,
                expires_at=expires,
                client_ip=address,
            )
        )
        # the code goes by e-mail only: shown on the page, it would let anyone who knows a
        # username past the second factor
        event.update(email=user.email, delivery="email", expires_at=iso_utc(expires))
        self._emit_reset(event, "code_issued")
        commit(self.db)
        self._send_code(user.email, user.username, code)
        return generic

    def _emit_reset(self, event: dict[str, Any], outcome: str) -> None:
        self._emit(
            "password_reset_requested",
            PasswordResetRequestedSchema,
            outcome=outcome,
            reason="recovery_requested",
            **event,
        )

    def _send_code(self, email: str, username: str, code: str) -> None:
        """Point-to-point to notifications (never in a broadcast event); its failure is logged."""
        try:
            call = self.notifications.send_recovery_code.call_async(
                email=email, username=username, code=code
            )
        except ServiceUnavailable:
            log.warning("notifications unavailable: recovery code for %s not delivered", username)
            return

        def wait() -> None:
            try:
                call.result()
            except Exception as exc:  # noqa: BLE001  logged; the member may ask again
                log.warning(
                    "notifications did not confirm the recovery code for %s: %s",
                    username,
                    type(exc).__name__,
                )

        # waiting in the background keeps the answer's timing the same as for a mismatch
        eventlet.spawn_n(wait)

    # Member data from the cooperative -------------------------------------------------------

    def member_updated(self, payload: dict[str, Any]) -> None:
        """accounts.member_updated: the user's e-mail (for every later notice), display name and
        status follow the member record; an inactive member's sessions end; a changed e-mail
        holds recovery codes back. An event older than the last one applied changes nothing."""
        try:
            data = MemberUpdatedSchema().load(payload.get("data") or {})
        except Exception:  # noqa: BLE001  a malformed event cannot be applied by retrying
            log.error("auth ignored a malformed accounts.member_updated event")
            return
        user = store.user_by_member(self.db, data["member_number"].strip())
        if user is None:
            return  # the member has no portal user: nothing of auth's changes
        occurred = _parse_instant(payload.get("occurred_at"))
        if occurred and user.member_synced_at and occurred < user.member_synced_at:
            log.info("auth ignored an older member_updated of %s", user.member_number)
            return
        email = (data.get("email") or "").strip()
        if email and "@" in email and len(email) <= 120:
            if email.casefold() != (user.email or "").strip().casefold():
                # a new address may be a taker's: no recovery code goes there for 72 h, and a
                # code not yet used is void (docs/identity.md, "E-mail changed by the core")
                user.email_changed_at = occurred or self.now()
                store.invalidate_codes(self.db, user.id, self.now())
            user.email = email
        if data.get("given_names") or data.get("surnames"):
            name = domain.display_name(data.get("given_names"), data.get("surnames"))
            user.display_name = name or user.display_name
        status = (data.get("status") or "").strip().lower()
        if status:
            user.status = status[:20]
        if status == INACTIVE_STATUS:
            now = self.now()
            for record in store.active_sessions(self.db, user.id):
                self._end_session(record, user, now, "member_inactive")
        user.member_synced_at = occurred or user.member_synced_at

    # Helpers --------------------------------------------------------------------------------

    def _emit(self, event_type: str, schema: type[Schema], **data: Any) -> None:
        self.events.emit(event_type, schema().dump(data))

    def _throttled(self, address: str, now: datetime) -> int | None:
        settings = self.settings
        times = store.address_failure_times(self.db, address, now, settings.address_window)
        return domain.throttle_retry_after(
            times, now, settings.address_limit, settings.address_window
        )

    def _refuse_throttled(self, address: str, now: datetime) -> None:
        retry = self._throttled(address, now)
        if retry:
            raise RateLimited(retry_after=retry)

    def _address_failure(self, address: str, kind: str, now: datetime) -> int | None:
        """Record a failure of the address; the seconds to wait when it is now throttled."""
        store.record_address_failure(self.db, address, kind, now, self.settings.address_window)
        return self._throttled(address, now)

    def _refuse(self, address: str, kind: str, now: datetime, error: Exception) -> NoReturn:
        """Count a refused attempt of the address, keep it, and answer `error`."""
        throttled = self._address_failure(address, kind, now)
        commit(self.db)
        if throttled:
            raise RateLimited(retry_after=throttled)
        raise error
