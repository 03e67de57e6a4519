"""auth: portal users, sessions, change of password and recovery (docs/domain.md "Identity").

RPCs: ping, register, login, authenticate, logout, change_password, request_recovery, me.
Events (exchange `auth.events`, through the outbox; catalogue in docs/events.md): user_registered,
login_succeeded, login_failed, account_locked, password_changed, password_reset_requested,
logged_out. No event ever carries a password, a hash, a session token or a temporary code.
"""

import logging
from datetime import timedelta

import eventlet
from nameko.extensions import DependencyProvider
from sqlalchemy.exc import IntegrityError

from services.auth import domain, passwords, store
from services.auth.models import RecoveryCode, User, outbox
from services.auth.schemas import (
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
    RecoveryResultSchema,
    RecoverySchema,
    RegisterResultSchema,
    RegisterSchema,
    UserRegisteredSchema,
)
from services.common.config import env, env_bool
from services.common.correlation import Tracker
from services.common.db import Database
from services.common.entrypoints import rpc
from services.common.errors import (
    Conflict,
    Locked,
    RateLimited,
    ServiceUnavailable,
    Unauthenticated,
    ValidationError,
)
from services.common.events import EventOutbox, iso_utc, utcnow
from services.common.rpc import ServiceRpc
from services.common.schemas import load_or_raise

log = logging.getLogger("services.auth")

BAD_CREDENTIALS = "Usuario o contraseña incorrectos."
REGISTRATION_MISMATCH = (
    "Los datos ingresados no coinciden con la ficha de socio registrada en la cooperativa. "
    "Verifíquelos e intente nuevamente."
)
USERNAME_TAKEN = "El nombre de usuario ya está en uso: elija otro."
MEMBER_REGISTERED = (
    "El socio ya tiene un usuario en el portal. Si olvidó su contraseña, use "
    "“¿Olvidó su contraseña?” en la página de ingreso."
)
CURRENT_PASSWORD_WRONG = "La contraseña actual no es correcta."  # noqa: S105  (a message)
RECOVERY_GENERIC = (
    "Si los datos ingresados corresponden a un usuario registrado, enviaremos las indicaciones "
    "a su correo electrónico registrado."
)
SESSION_IDLE_ENDED = "Su sesión expiró por inactividad. Ingrese nuevamente."
SESSION_TIME_ENDED = "Su sesión expiró. Ingrese nuevamente."
RECOVERY_CODE_SHOWN = (
    "Su código temporal fue generado. Ingrese con su usuario y este código como contraseña: "
    "vence en {minutes} minutos y solo puede usarse una vez. Al ingresar deberá cambiar su "
    "contraseña."
)


def locked_message(seconds):
    minutes = max(1, -(-seconds // 60))
    unit = "minuto" if minutes == 1 else "minutos"
    return (
        "Su usuario está bloqueado temporalmente por intentos fallidos. "
        f"Intente nuevamente en {minutes} {unit}."
    )


class Settings:
    """The service's knobs, read on every use from the container config, else the environment.

    AUTH_CLOCK_OFFSET_SECONDS shifts the service's clock (0 in production): tests move time
    forward to see sessions and codes expire without waiting.
    """

    def __init__(self, config):
        self.config = config

    def get(self, name, default):
        value = self.config.get(name)
        if value in (None, ""):
            value = env(name)
        return default if value in (None, "") else value

    def number(self, name, default):
        return float(self.get(name, default))

    def now(self):
        return utcnow() + timedelta(seconds=self.number("AUTH_CLOCK_OFFSET_SECONDS", 0))

    @property
    def idle_minutes(self):
        return self.number("AUTH_IDLE_MINUTES", domain.IDLE_MINUTES)

    @property
    def absolute_hours(self):
        return self.number("AUTH_ABSOLUTE_HOURS", domain.ABSOLUTE_HOURS)

    @property
    def max_failures(self):
        return int(self.get("AUTH_MAX_FAILURES", domain.MAX_FAILURES))

    @property
    def lock_minutes(self):
        return self.number("AUTH_LOCK_MINUTES", domain.LOCK_MINUTES)

    @property
    def address_limit(self):
        return int(self.get("AUTH_ADDRESS_FAILURE_LIMIT", domain.ADDRESS_FAILURE_LIMIT))

    @property
    def address_window(self):
        return self.number("AUTH_ADDRESS_WINDOW_MINUTES", domain.ADDRESS_WINDOW_MINUTES)

    @property
    def show_code(self):
        value = self.config.get("RECOVERY_SHOW_CODE")
        if isinstance(value, bool):
            return value
        if value not in (None, ""):
            return str(value).strip().lower() in ("1", "true", "yes", "on", "si", "sí")
        return env_bool("RECOVERY_SHOW_CODE", True)


class AuthSettings(DependencyProvider):
    def get_dependency(self, worker_ctx):
        return Settings(self.container.config)


def _session_ended(reason):
    """Unauthenticated naming a timeout, so the pages can tell the member why they must log in
    again (and a member who logged out or changed the password elsewhere learns nothing new)."""
    if reason == domain.IDLE_TIMEOUT:
        return Unauthenticated(SESSION_IDLE_ENDED, reason=reason)
    if reason == domain.ABSOLUTE_TIMEOUT:
        return Unauthenticated(SESSION_TIME_ENDED, reason=reason)
    return Unauthenticated()


def _address(client_ip):
    text = str(client_ip).strip() if client_ip not in (None, "") else ""
    return text[:64] or "unknown"


class AuthService:
    name = "auth"

    db = Database("auth")
    events = EventOutbox("auth", outbox)
    accounts = ServiceRpc("accounts")
    notifications = ServiceRpc("notifications")
    settings = AuthSettings()
    tracker = Tracker()

    @rpc
    def ping(self):
        return "pong"

    # Registration ---------------------------------------------------------------------------

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
        """Create the portal user of a member whose record matches; one user per member."""
        data = load_or_raise(
            RegisterSchema(),
            {
                "username": username,
                "password": password,
                "member_number": member_number,
                "identification": identification,
                "first_name": first_name,
                "last_name": last_name,
                "email": email,
            },
        )
        name = domain.normalize_username(data["username"])
        errors = {}
        if domain.username_problems(name):
            errors["username"] = domain.username_problems(name)
        if domain.password_problems(data["password"], name):
            errors["password"] = domain.password_problems(data["password"], name)
        if errors:
            raise ValidationError(fields=errors)
        now = self.settings.now()
        address = _address(client_ip)
        self._refuse_throttled(address, now)
        number = data["member_number"].strip()
        answer = self.accounts.verify_member(
            number,
            data["identification"].strip(),
            data["first_name"],
            data["last_name"],
            data["email"],
        )
        if not answer.get("match"):
            self._address_failure(address, "registration", now)
            self._commit()
            raise ValidationError(REGISTRATION_MISMATCH)
        if store.user_by_username(self.db, name) is not None:
            raise Conflict(USERNAME_TAKEN, fields={"username": [USERNAME_TAKEN]})
        if store.user_by_member(self.db, number) is not None:
            raise Conflict(MEMBER_REGISTERED)
        member = self.accounts.get_member(number)
        user = User(
            username=name,
            member_number=number,
            display_name=member["display_name"],
            email=member["email"],
            password_hash=passwords.hash_secret(data["password"]),
            failed_attempts=0,
            must_change_password=False,
            created_at=now,
            password_changed_at=now,
        )
        try:
            with self.db.begin_nested():
                self.db.add(user)
        except IntegrityError:
            raise Conflict(USERNAME_TAKEN, fields={"username": [USERNAME_TAKEN]}) from None
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

    # Login and sessions ----------------------------------------------------------------------

    @rpc
    def login(self, username=None, password=None, client_ip=None):
        """A session for the password or a temporary code; lockout and address throttling."""
        data = load_or_raise(LoginSchema(), {"username": username, "password": password})
        now = self.settings.now()
        address = _address(client_ip)
        name = domain.normalize_username(data["username"])
        user = store.user_by_username(self.db, name)
        if user is not None and domain.is_locked(user.locked_until, now):
            self._login_failed(name, user, address, "locked", now)
            self._address_failure(address, "login", now)
            self._commit()
            seconds = domain.seconds_until(user.locked_until, now)
            raise Locked(locked_message(seconds), retry_after=seconds)
        secret = data["password"]
        ok = passwords.verify(user.password_hash if user else None, secret)
        code = None
        if not ok and user is not None and domain.looks_like_code(secret):
            for candidate in store.usable_codes(self.db, user.id, now):
                if passwords.verify(candidate.code_hash, secret):
                    code = candidate
                    break
        if ok or code is not None:
            return self._open_session(user, address, now, code)
        return self._refuse_login(name, user, address, now)

    def _open_session(self, user, address, now, code):
        settings = self.settings
        if code is not None:
            # the code is spent and the old password stops working; the member must choose one
            code.used_at = now
            store.invalidate_codes(self.db, user.id, now)
            user.password_hash = None
            user.must_change_password = True
            for other in store.active_sessions(self.db, user.id):
                self._end_session(other, user, now, "password_reset")
        user.failed_attempts = 0
        user.locked_until = None
        token = domain.new_token()
        record = store.open_session(
            self.db, user, token, now, settings.absolute_hours, address, recovery_code=code
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
        return LoginResultSchema().dump(
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

    def _refuse_login(self, name, user, address, now):
        settings = self.settings
        self._login_failed(name, user, address, "bad_password" if user else "unknown_user", now)
        locked_seconds = None
        if user is not None:
            outcome = domain.after_failure(
                user.failed_attempts, now, settings.max_failures, settings.lock_minutes
            )
            user.failed_attempts = outcome.failed_attempts
            if outcome.locked_now:
                user.locked_until = outcome.locked_until
                locked_seconds = domain.seconds_until(outcome.locked_until, now)
                self._emit(
                    "account_locked",
                    AccountLockedSchema,
                    username=user.username,
                    member_number=user.member_number,
                    display_name=user.display_name,
                    email=user.email,
                    locked_until=iso_utc(outcome.locked_until),
                    retry_after=locked_seconds,
                    reason="too_many_failures",
                    client_ip=address,
                )
        throttled = self._address_failure(address, "login", now)
        self._commit()
        if locked_seconds is not None:
            raise Locked(locked_message(locked_seconds), retry_after=locked_seconds)
        if throttled:
            raise RateLimited(retry_after=throttled)
        raise Unauthenticated(BAD_CREDENTIALS)

    def _login_failed(self, name, user, address, reason, now):
        self._emit(
            "login_failed",
            LoginFailedSchema,
            username=name[: domain.USERNAME_MAX],
            member_number=user.member_number if user else None,
            reason=reason,
            client_ip=address,
        )

    @rpc
    def authenticate(self, token=None):
        """The member of a live session (touches its last use); Unauthenticated otherwise."""
        record, user = self._live_session(token)
        return PrincipalSchema().dump(
            {
                "username": user.username,
                "member_number": user.member_number,
                "display_name": user.display_name,
                "must_change_password": bool(
                    record.opened_with_temporary_code or user.must_change_password
                ),
                "session_id": record.id,
            }
        )

    @rpc
    def me(self, token=None):
        _record, user = self._live_session(token)
        return MeSchema().dump(
            {
                "username": user.username,
                "member_number": user.member_number,
                "display_name": user.display_name,
                "email_masked": domain.mask_email(user.email),
            }
        )

    @rpc
    def logout(self, token=None, client_ip=None):
        """End the session at once."""
        record, user = self._live_session(token, touch=False)
        self._end_session(record, user, self.settings.now(), "logout", client_ip=client_ip)

    def _live_session(self, token, touch=True):
        if not isinstance(token, str) or not token or len(token) > 200:
            raise Unauthenticated()
        settings = self.settings
        now = settings.now()
        record = store.session_by_token(self.db, token)
        if record is None:
            raise Unauthenticated()
        state = domain.session_state(
            record.last_seen_at, record.expires_at, record.revoked_at, now, settings.idle_minutes
        )
        if state == domain.REVOKED:
            raise _session_ended(record.revoked_reason)
        user = self.db.get(User, record.user_id)
        if state != domain.ACTIVE:
            self._end_session(record, user, now, state)
            self._commit()
            raise _session_ended(state)
        if touch and domain.should_touch(record.last_seen_at, now):
            record.last_seen_at = now
        return record, user

    def _end_session(self, record, user, now, reason, client_ip=None):
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

    # Change of password ----------------------------------------------------------------------

    @rpc
    def change_password(self, token=None, current_password=None, new_password=None, client_ip=None):
        """Policy-checked change; every other session of the user ends."""
        data = load_or_raise(
            ChangePasswordSchema(),
            {"current_password": current_password, "new_password": new_password},
        )
        record, user = self._live_session(token)
        now = self.settings.now()
        current, new = data["current_password"], data["new_password"]
        current_ok = passwords.verify(user.password_hash, current)
        with_code = bool(record.opened_with_temporary_code)
        if not current_ok and with_code and record.recovery_code_id is not None:
            code = self.db.get(RecoveryCode, record.recovery_code_id)
            current_ok = code is not None and passwords.verify(code.code_hash, current)
        if not current_ok:
            raise ValidationError(fields={"current_password": [CURRENT_PASSWORD_WRONG]})
        problems = domain.password_problems(new, user.username)
        if new == current:
            problems.append(domain.MSG_PASSWORD_SAME)
        if problems:
            raise ValidationError(fields={"new_password": problems})
        user.password_hash = passwords.hash_secret(new)
        user.must_change_password = False
        user.failed_attempts = 0
        user.locked_until = None
        user.password_changed_at = now
        record.opened_with_temporary_code = False
        store.invalidate_codes(self.db, user.id, now)
        others = store.active_sessions(self.db, user.id, except_id=record.id)
        for other in others:
            self._end_session(other, user, now, "password_changed")
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

    # Recovery --------------------------------------------------------------------------------

    @rpc
    def request_recovery(self, username=None, email=None, member_number=None, client_ip=None):
        """A temporary code when the three fields match one user; the same answer otherwise."""
        data = load_or_raise(
            RecoverySchema(),
            {"username": username, "email": email, "member_number": member_number},
        )
        settings = self.settings
        now = settings.now()
        address = _address(client_ip)
        name = domain.normalize_username(data["username"])[: domain.USERNAME_MAX]
        number = data["member_number"].strip()
        event = dict(
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
            self._commit()
            raise RateLimited(retry_after=retry)
        user = store.user_by_username(self.db, name)
        matched = (
            user is not None
            and user.member_number == number
            and user.email.strip().casefold() == data["email"].strip().casefold()
        )
        generic = RecoveryResultSchema().dump({"message": RECOVERY_GENERIC, "temporary_code": None})
        if not matched:
            passwords.hash_secret(domain.generate_code())  # same work as a match
            self._address_failure(address, "recovery", now)
            self._emit_reset(event, "no_match")
            return generic
        event.update(member_number=user.member_number, display_name=user.display_name)
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
        show = settings.show_code
        event.update(
            email=user.email,
            delivery="screen" if show else "email",
            expires_at=iso_utc(expires),
        )
        self._emit_reset(event, "code_issued")
        if show:
            return RecoveryResultSchema().dump(
                {
                    "message": RECOVERY_CODE_SHOWN.format(minutes=domain.CODE_VALID_MINUTES),
                    "temporary_code": code,
                }
            )
        self._commit()
        self._send_code(user.email, user.username, code)
        return generic

    def _emit_reset(self, event, outcome):
        self._emit(
            "password_reset_requested",
            PasswordResetRequestedSchema,
            outcome=outcome,
            reason="recovery_requested",
            **event,
        )

    def _send_code(self, email, username, code):
        """Point-to-point to notifications (never in a broadcast event); its failure is logged."""
        try:
            call = self.notifications.send_recovery_code.call_async(
                email=email, username=username, code=code
            )
        except ServiceUnavailable:
            log.warning("notifications unavailable: recovery code for %s not delivered", username)
            return

        def wait():
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

    # Helpers ---------------------------------------------------------------------------------

    def _emit(self, event_type, schema, **data):
        self.events.emit(event_type, schema().dump(data))

    def _commit(self):
        """Commit now: failures are recorded even though the RPC answers with an error."""
        self.db.commit()
        for callback in self.db.info.pop("after_commit", []):
            callback()

    def _throttled(self, address, now):
        settings = self.settings
        times = store.address_failure_times(self.db, address, now, settings.address_window)
        return domain.throttle_retry_after(
            times, now, settings.address_limit, settings.address_window
        )

    def _refuse_throttled(self, address, now):
        retry = self._throttled(address, now)
        if retry:
            raise RateLimited(retry_after=retry)

    def _address_failure(self, address, kind, now):
        """Record a failure of the address; the seconds to wait when it is now throttled."""
        store.record_address_failure(self.db, address, kind, now, self.settings.address_window)
        return self._throttled(address, now)
