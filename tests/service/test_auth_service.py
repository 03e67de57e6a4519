"""auth on the real broker (with accounts for registration): every rule of docs/identity.md.

Time is moved with the cooperative's clock (`CLOCK.advance`, services/common/clock.py), so expiry
is tested without sleeping.
"""

import json
import re
import time

import pytest

from services.auth.guessing import may_be_locked_message
from services.auth.usecases import (
    BAD_CREDENTIALS,
    REGISTRATION_MISMATCH,
    recovery_sent_message,
)
from services.common.clock import CLOCK
from services.common.entrypoints import event_handler, rpc
from services.common.errors import (
    Conflict,
    RateLimited,
    Unauthenticated,
    ValidationError,
)
from tests.helpers import (
    RememberingAuth,
    emailed_recovery_code,
    emailed_recovery_codes,
    start_auth_stack,
)

# also run on PostgreSQL (-m pg --db-backend postgres):
# sessions, lockout counters and concurrent logins are SQL
pytestmark = pytest.mark.pg

MINUTE = 60
MAY_BE_LOCKED = may_be_locked_message(15)
IP = "198.51.100.7"
MARIA = ("maria", "Socia-2026!")
JOSE_WRONG = ("jose", "no-es-la-clave")

AUTH_EVENTS = (
    "user_registered",
    "login_succeeded",
    "login_failed",
    "account_locked",
    "recovery_login",
    "password_changed",
    "password_reset_requested",
    "logged_out",
)


@pytest.fixture
def catch_codes():
    """A stand-in notifications keeps the e-mailed codes (tests/helpers.py start_code_catcher)."""
    return True


@pytest.fixture
def auth_container(service_config, container_factory, today, catch_codes):
    return start_auth_stack(container_factory, dict(service_config), today, catch_codes=catch_codes)


@pytest.fixture
def auth(auth_container, rpc_proxy):
    """auth as the members' remembered devices use it (the second factor has its own tests:
    test_auth_second_factor.py)."""
    return RememberingAuth(rpc_proxy("auth"))


@pytest.fixture
def clock(auth_container):
    yield CLOCK
    CLOCK.reset()


@pytest.fixture
def events(service_config, container_factory):
    """Every auth event as received by a nameko listener on the same vhost."""
    received = []

    def handler(event_type):
        @event_handler("auth", event_type)
        def handle(self, payload):
            received.append(payload)

        handle.__name__ = f"on_{event_type}"
        return handle

    listener_cls = type(
        "AuthListener",
        (),
        {"name": "auth_listener", **{f"on_{t}": handler(t) for t in AUTH_EVENTS}},
    )
    container = container_factory(listener_cls, service_config)
    container.start()

    class Received(list):
        def wait_for(self, event_type, count=1, timeout=10, **data):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                found = [
                    e
                    for e in received
                    if e["event_type"] == event_type
                    and all(e["data"].get(k) == v for k, v in data.items())
                ]
                if len(found) >= count:
                    return found
                time.sleep(0.05)
            raise AssertionError(f"{event_type} {data} not received: {received}")

        @property
        def all(self):
            return list(received)

    return Received()


# Login ------------------------------------------------------------------------------------


def test_demo_user_logs_in_and_the_token_authenticates(auth):
    session = auth.login("maria", "Socia-2026!", IP)
    assert session["must_change_password"] is False
    assert session["member"] == {"member_number": "100234", "display_name": "María Pérez"}
    assert len(session["token"]) >= 43
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", session["expires_at"])
    who = auth.authenticate(session["token"])
    assert who["username"] == "maria" and who["member_number"] == "100234"
    assert who["display_name"] == "María Pérez" and who["must_change_password"] is False
    assert who["session_id"]
    me = auth.me(session["token"])
    assert me == {
        "username": "maria",
        "member_number": "100234",
        "display_name": "María Pérez",
        "email_masked": "m*********z@example.com",
        "last_login_at": None,  # her first login
    }


def test_username_is_not_case_sensitive(auth):
    assert auth.login("  MARIA ", "Socia-2026!", IP)["member"]["member_number"] == "100234"


def test_unknown_user_and_wrong_password_get_the_same_answer(auth):
    with pytest.raises(Unauthenticated) as unknown:
        auth.login("nadie", "Socia-2026!", IP)
    with pytest.raises(Unauthenticated) as wrong:
        auth.login("maria", "Otra-clave-1", IP)
    assert unknown.value.message == wrong.value.message == BAD_CREDENTIALS
    assert unknown.value.to_dict() == wrong.value.to_dict()


def test_missing_or_oversized_fields_are_422_in_spanish(auth):
    with pytest.raises(ValidationError) as err:
        auth.login("", None, IP)
    assert err.value.fields == {
        "username": ["Este campo es obligatorio."],
        "password": ["Este campo no puede estar vacío."],
    }
    with pytest.raises(ValidationError) as err:
        auth.login("maria", "x" * 5000, IP)
    assert err.value.fields["password"] == ["Debe tener como máximo 1024 caracteres."]


def test_lockout_from_one_address_does_not_keep_the_member_out_from_another(auth, clock, events):
    attacker, home = "203.0.113.66", "192.0.2.10"
    answers = []
    for _ in range(5):
        with pytest.raises(Unauthenticated) as failed:
            auth.login("jose", "no-es-la-clave", attacker)
        answers.append(failed.value.to_dict())
    # the fifth answer warns that access may be blocked and points to recovery (API.md, "After
    # repeated failures"); an unknown user name gets that same warning (test below)
    wrong = {"code": "unauthenticated", "message": BAD_CREDENTIALS}
    assert answers[:4] == [wrong] * 4
    assert answers[4] == {"code": "unauthenticated", "message": MAY_BE_LOCKED}
    # from the attacker's address even the right password is refused, with that warning
    with pytest.raises(Unauthenticated) as locked:
        auth.login("jose", "Socio-2026!", attacker)
    assert locked.value.to_dict() == answers[4]
    # the member, from an address that has not been failing, gets in
    assert auth.login("jose", "Socio-2026!", home)["member"]["member_number"] == "100517"
    # the lock of that address ends after 15 minutes
    clock.advance(14 * MINUTE)
    with pytest.raises(Unauthenticated):
        auth.login("jose", "Socio-2026!", attacker)
    clock.advance(MINUTE + 1)
    assert auth.login("jose", "Socio-2026!", attacker)["token"]
    # the member learns of the lock by e-mail (the event notifications turns into one)
    (lock,) = events.wait_for("account_locked", username="jose")
    assert lock["data"]["retry_after"] == 900
    assert lock["data"]["email"] == "jose.andrade@example.com"
    assert lock["data"]["client_ip"] == attacker
    events.wait_for("login_failed", count=5, username="jose", reason="bad_password")
    events.wait_for("login_failed", count=2, username="jose", reason="locked")


def test_a_success_resets_the_count_of_failures(auth):
    for _ in range(4):
        with pytest.raises(Unauthenticated):
            auth.login("luis", "no-es-la-clave", IP)
    auth.login("luis", "Socio-2026!", IP)
    for _ in range(4):
        with pytest.raises(Unauthenticated):
            auth.login("luis", "no-es-la-clave", IP)
    assert auth.login("luis", "Socio-2026!", IP)["member"]["member_number"] == "101002"


def test_a_throttled_address_is_refused_before_the_password_is_checked(auth, events):
    for i in range(29):
        with pytest.raises(Unauthenticated):
            auth.login(f"nadie{i}", "clave-equivocada", "203.0.113.9")
    with pytest.raises(RateLimited) as limited:
        auth.login("nadie30", "clave-equivocada", "203.0.113.9")
    assert 0 < limited.value.extra["retry_after"] <= 600
    # the right password and a wrong one get the same refusal: the address learns nothing
    with pytest.raises(RateLimited) as right:
        auth.login(*MARIA, "203.0.113.9")
    with pytest.raises(RateLimited) as wrong:
        auth.login("maria", "clave-equivocada", "203.0.113.9")
    assert right.value.message == wrong.value.message
    assert (
        set(right.value.to_dict())
        == set(wrong.value.to_dict())
        == {
            "code",
            "message",
            "retry_after",
        }
    )
    # refused as throttled, not as a password that was checked
    events.wait_for("login_failed", count=2, username="maria", reason="throttled")
    checked = [
        e
        for e in events.all
        if e["data"].get("username") == "maria"
        and (e["event_type"] == "login_succeeded" or e["data"].get("reason") == "bad_password")
    ]
    assert checked == []
    # another address is not affected
    with pytest.raises(Unauthenticated):
        auth.login("nadie", "clave-equivocada", "203.0.113.10")
    assert auth.login(*MARIA, "203.0.113.10")["token"]


def test_guesses_at_once_from_many_addresses_are_all_counted(auth):
    """A guesser's parallel requests for one user name: none is lost, none fails with a 5xx."""
    calls = [auth.login.call_async("jose", "no-es-la-clave", f"198.51.104.{n}") for n in range(10)]
    for call in calls:
        with pytest.raises(Unauthenticated):
            call.result()
    with pytest.raises(RateLimited) as waiting:
        auth.login("jose", "Socio-2026!", "198.51.104.200")
    assert 0 < waiting.value.extra["retry_after"] <= 30


class _CountingHasher:
    """argon2's hasher, counting the verifications (the work that takes the time)."""

    def __init__(self, inner):
        self.inner = inner
        self.verifications = 0

    def hash(self, secret):
        return self.inner.hash(secret)

    def verify(self, stored, secret):
        self.verifications += 1
        return self.inner.verify(stored, secret)


def test_a_locked_user_an_unknown_user_and_a_wrong_password_do_the_same_work(auth, monkeypatch):
    """The same answer after the same single Argon2 verification: nothing to tell them apart by
    (counted, not timed, so that a busy machine cannot make it pass or fail)."""
    from services.auth import passwords

    for _ in range(5):  # lock jose from one address
        with pytest.raises(Unauthenticated):
            auth.login("jose", "no-es-la-clave", "198.51.100.200")
    counting = _CountingHasher(passwords.hasher)
    monkeypatch.setattr(passwords, "hasher", counting)

    for kind, args, message in (
        ("locked", ("jose", "Socio-2026!", "198.51.100.200"), MAY_BE_LOCKED),
        ("unknown", ("nadie", "Socio-2026!", "198.51.101.1"), BAD_CREDENTIALS),
        ("wrong", ("luis", "no-es-la-clave", "198.51.102.1"), BAD_CREDENTIALS),
    ):
        before = counting.verifications
        with pytest.raises(Unauthenticated) as refused:
            auth.login(*args)
        assert refused.value.to_dict() == {"code": "unauthenticated", "message": message}
        assert counting.verifications - before == 1, kind


def test_after_five_failures_any_user_name_gets_the_same_warning_pointing_to_recovery(auth):
    """Whether the user exists or not, so the warning reveals nothing (API.md)."""
    answers = {}
    for name in ("luis", "nadie.existe"):
        for _ in range(4):
            with pytest.raises(Unauthenticated) as failed:
                auth.login(name, "no-es-la-clave", "198.51.103.9")
            assert failed.value.message == BAD_CREDENTIALS
        with pytest.raises(Unauthenticated) as fifth:
            auth.login(name, "no-es-la-clave", "198.51.103.9")
        answers[name] = fifth.value.to_dict()
    assert answers["luis"] == answers["nadie.existe"]
    assert answers["luis"] == {"code": "unauthenticated", "message": MAY_BE_LOCKED}
    assert "15 minutos" in MAY_BE_LOCKED and "¿Olvidó su contraseña?" in MAY_BE_LOCKED
    # another address of the same user name is not warned
    with pytest.raises(Unauthenticated) as elsewhere:
        auth.login("nadie.existe", "no-es-la-clave", "198.51.103.10")
    assert elsewhere.value.message == BAD_CREDENTIALS


# Sessions --------------------------------------------------------------------------------


def test_idle_timeout_of_15_minutes_and_use_keeps_the_session_alive(auth, clock, events):
    token = auth.login(*MARIA, IP)["token"]
    clock.advance(14 * MINUTE)
    assert auth.authenticate(token)["username"] == "maria"
    clock.advance(14 * MINUTE)  # 28 minutes after login, 14 after the last use
    assert auth.authenticate(token)["username"] == "maria"
    clock.advance(15 * MINUTE)
    with pytest.raises(Unauthenticated):
        auth.authenticate(token)
    with pytest.raises(Unauthenticated):
        auth.me(token)
    events.wait_for("logged_out", username="maria", reason="idle_timeout")


def test_absolute_timeout_of_8_hours(auth, auth_container, clock, events):
    auth_container.config["AUTH_IDLE_MINUTES"] = 24 * 60
    token = auth.login(*MARIA, IP)["token"]
    clock.advance(8 * 60 * MINUTE - 5)
    assert auth.authenticate(token)["username"] == "maria"
    clock.advance(5)
    with pytest.raises(Unauthenticated):
        auth.authenticate(token)
    events.wait_for("logged_out", username="maria", reason="absolute_timeout")


def test_timeouts_follow_configuration(auth, auth_container, clock):
    auth_container.config["AUTH_IDLE_MINUTES"] = 5
    token = auth.login(*MARIA, IP)["token"]
    clock.advance(5 * MINUTE)
    with pytest.raises(Unauthenticated):
        auth.authenticate(token)


def test_logout_kills_the_session_at_once(auth, events):
    first = auth.login(*MARIA, IP)["token"]
    second = auth.login(*MARIA, IP)["token"]
    assert auth.logout(first, IP) is None
    with pytest.raises(Unauthenticated):
        auth.authenticate(first)
    with pytest.raises(Unauthenticated):
        auth.logout(first, IP)
    # only that session ended
    assert auth.authenticate(second)["username"] == "maria"
    events.wait_for("logged_out", username="maria", reason="logout", client_ip=IP)


def test_bad_tokens_are_unauthenticated(auth):
    for token in ("", "x" * 43, "x" * 500, None):
        with pytest.raises(Unauthenticated):
            auth.authenticate(token)


# Change of password -----------------------------------------------------------------------


def test_change_of_password_ends_every_other_session(auth, events):
    here = auth.login(*MARIA, IP)["token"]
    elsewhere = auth.login(*MARIA, "192.0.2.50")["token"]
    assert auth.change_password(here, "Socia-2026!", "Nueva-clave-2027", IP) is None
    with pytest.raises(Unauthenticated):
        auth.authenticate(elsewhere)
    assert auth.authenticate(here)["username"] == "maria"
    with pytest.raises(Unauthenticated):
        auth.login(*MARIA, IP)
    assert auth.login("maria", "Nueva-clave-2027", IP)["token"]
    (changed,) = events.wait_for("password_changed", username="maria")
    assert changed["data"]["reason"] == "change"
    assert changed["data"]["other_sessions_revoked"] == 1
    assert changed["data"]["email"] == "maria.perez@example.com"
    events.wait_for("logged_out", username="maria", reason="password_changed")


def test_change_of_password_needs_the_current_one(auth):
    token = auth.login(*MARIA, IP)["token"]
    with pytest.raises(ValidationError) as err:
        auth.change_password(token, "no-es-la-actual", "Nueva-clave-2027", IP)
    assert err.value.fields == {"current_password": ["La contraseña actual no es correcta."]}
    with pytest.raises(ValidationError) as err:
        auth.change_password(token, None, "Nueva-clave-2027", IP)
    assert err.value.fields == {"current_password": ["Ingrese su contraseña actual."]}
    assert auth.login(*MARIA, IP)["token"]


PERSONAL = "La contraseña no puede contener sus datos de socio: cédula, número de socio, nombres ni apellidos."  # noqa: E501


@pytest.mark.parametrize(
    "new_password, message",
    [
        ("Ab-1", "La contraseña debe tener al menos 8 caracteres."),
        ("x" * 129, "La contraseña no puede tener más de 128 caracteres."),
        ("maria-2027-casa", "La contraseña no puede ser igual al usuario ni contenerlo."),
        ("Password123", "La contraseña es demasiado común: elija una más difícil de adivinar."),
        ("Socia-2026!", "La nueva contraseña debe ser distinta de la actual."),
        (" " * 8, "La contraseña no puede estar formada solo por espacios."),
        ("\t" * 8, "La contraseña no puede estar formada solo por espacios."),
        ("ññññññññ", "La contraseña debe tener al menos 3 caracteres distintos."),
        ("1712345675", PERSONAL),  # her cédula
        ("cedula-171-234-5675", PERSONAL),
        ("100234100234", PERSONAL),  # her member number twice
        ("FERNANDA.2027", PERSONAL),
        ("Gómez-de-Quito", PERSONAL),
        ("gomez-de-quito", PERSONAL),
        ("dragon12", "La contraseña es demasiado común: elija una más difícil de adivinar."),
        ("sunshine1", "La contraseña es demasiado común: elija una más difícil de adivinar."),
    ],
)
def test_policy_messages_say_what_is_wrong(auth, new_password, message):
    token = auth.login(*MARIA, IP)["token"]
    with pytest.raises(ValidationError) as err:
        auth.change_password(token, "Socia-2026!", new_password, IP)
    assert message in err.value.fields["new_password"]
    # nothing changed
    assert auth.login(*MARIA, IP)["token"]


# Recovery --------------------------------------------------------------------------------


def recover(auth, username="maria", email="maria.perez@example.com", number="100234", ip=IP):
    return auth.request_recovery(username, email, number, ip)


def recovered_code(auth, username="maria", email="maria.perez@example.com", number="100234"):
    """Ask for a temporary code and read it from the member's inbox (it goes by e-mail only)."""
    before = set(emailed_recovery_codes(email))
    answer = recover(auth, username, email, number)
    assert answer["temporary_code"] is None
    return emailed_recovery_code(email, after=before)


def test_recovery_story_of_the_manual(auth, events):
    answer = recover(auth)
    assert answer["temporary_code"] is None
    code = emailed_recovery_code("maria.perez@example.com")
    assert re.fullmatch(r"[A-Za-z0-9]{8}", code)
    assert "código temporal" in answer["message"]
    # the old password keeps working until the code is used
    assert auth.login(*MARIA, IP)["must_change_password"] is False
    session = auth.login("maria", code, IP)
    assert session["must_change_password"] is True
    assert auth.authenticate(session["token"])["must_change_password"] is True
    # single use; and the old password no longer opens the user
    with pytest.raises(Unauthenticated):
        auth.login("maria", code, IP)
    with pytest.raises(Unauthenticated):
        auth.login(*MARIA, IP)
    # the forced change does not ask again for the code just used; it ends that session too
    # (the next login passes the second factor: test_auth_second_factor.py)
    auth.change_password(session["token"], None, "Mi-nueva-clave-77", IP)
    with pytest.raises(Unauthenticated):
        auth.authenticate(session["token"])
    assert auth.login("maria", "Mi-nueva-clave-77", IP)["must_change_password"] is False
    (requested,) = events.wait_for("password_reset_requested", outcome="code_issued")
    assert requested["data"]["email"] == "maria.perez@example.com"
    assert requested["data"]["delivery"] == "email"
    events.wait_for("login_succeeded", username="maria", recovery_login=True)
    (notice,) = events.wait_for("recovery_login", username="maria")
    assert notice["data"]["email"] == "maria.perez@example.com"
    assert notice["data"]["client_ip"] == IP
    events.wait_for("password_changed", username="maria", reason="recovery")


def test_a_locked_user_recovers_with_a_code(auth):
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            auth.login(*JOSE_WRONG, IP)
    code = recovered_code(auth, "jose", "jose.andrade@example.com", "100517")
    # from the very address that is locked, the code lets the member in to change the password
    session = auth.login("jose", code, IP)
    assert session["must_change_password"] is True
    auth.change_password(session["token"], None, "Volcan-Cotopaxi-88", IP)
    # the change ended the lock
    assert auth.login("jose", "Volcan-Cotopaxi-88", IP)["must_change_password"] is False


def test_code_expires_after_15_minutes(auth, clock):
    code = recovered_code(auth)
    clock.advance(15 * MINUTE)
    with pytest.raises(Unauthenticated):
        auth.login("maria", code, IP)
    # the password was never replaced
    assert auth.login(*MARIA, IP)["token"]


def test_code_is_stored_hashed(auth, service_config):
    from sqlalchemy import select

    from services.auth.models import RecoveryCode, User, UserSession
    from services.common.db import session_scope

    code = recovered_code(auth)
    token = auth.login("maria", code, IP)["token"]
    with session_scope(service_config["AUTH_DATABASE_URL"]) as db:
        stored = db.scalars(select(RecoveryCode.code_hash)).all()
        hashes = db.scalars(select(User.password_hash)).all()
        tokens = db.scalars(select(UserSession.token_hash)).all()
    assert stored and all(h.startswith("$argon2id$") and code not in h for h in stored)
    assert all(h is None or h.startswith("$argon2id$") for h in hashes)
    assert token not in tokens and len(tokens[0]) == 64


def test_a_temporary_session_can_only_change_the_password(auth):
    code = recovered_code(auth)
    token = auth.login("maria", code, IP)["token"]
    with pytest.raises(ValidationError) as err:
        auth.change_password(token, None, "Password123", IP)
    assert list(err.value.fields) == ["new_password"]
    # still forced to change; logout works
    assert auth.authenticate(token)["must_change_password"] is True
    auth.logout(token, IP)
    with pytest.raises(Unauthenticated):
        auth.authenticate(token)


def test_recovery_answers_the_same_for_every_mismatch(auth):
    match = recover(auth)
    assert match == {
        "message": recovery_sent_message("maria.perez@example.com"),
        "temporary_code": None,
    }
    assert "m***@example.com" in match["message"]
    for username, email, number in [
        ("maria", "maria.perez@example.com", "100517"),
        ("nadie", "maria.perez@example.com", "100234"),
        ("jose", "maria.perez@example.com", "100234"),
    ]:
        assert recover(auth, username, email, number) == match
    # another address: the message names the address typed, masked, and nothing else
    other = recover(auth, email="otra@example.com")
    assert other == {"message": recovery_sent_message("otra@example.com"), "temporary_code": None}


def test_the_registered_email_matches_without_regard_to_case(auth):
    # RECOVERY_SHOW_CODE was withdrawn with the second factor: the code is only e-mailed
    assert recovered_code(auth, email="Maria.Perez@Example.com")


def test_at_most_three_recoveries_per_user_per_hour(auth, clock, events):
    codes = []
    for _ in range(3):
        codes.append(recovered_code(auth))
    assert len(set(codes)) == 3
    recover(auth)
    events.wait_for("password_reset_requested", outcome="limit_reached")
    clock.advance(61 * MINUTE)
    assert recovered_code(auth) not in codes


@pytest.mark.parametrize("catch_codes", [False])
def test_by_default_the_code_goes_point_to_point_to_notifications(
    auth, service_config, container_factory, events
):
    # notifications down: the request still succeeds and shows no code
    assert recover(auth)["temporary_code"] is None

    sent = []

    class Notifications:
        name = "notifications"

        @rpc
        def send_recovery_code(self, email, username, code):
            sent.append({"email": email, "username": username, "code": code})
            return {"sent": True}

    container_factory(Notifications, service_config).start()
    assert recover(auth)["temporary_code"] is None
    deadline = time.monotonic() + 10
    while not sent and time.monotonic() < deadline:
        time.sleep(0.05)
    (message,) = sent
    assert message["email"] == "maria.perez@example.com" and message["username"] == "maria"
    assert auth.login("maria", message["code"], IP)["must_change_password"] is True
    issued = events.wait_for("password_reset_requested", count=2, outcome="code_issued")
    assert all(e["data"]["delivery"] == "email" for e in issued)
    assert all(message["code"] not in json.dumps(e) for e in events.all)


# Registration ----------------------------------------------------------------------------

ANA = dict(
    username="Ana.Torres",
    password="Cielo-de-Quito-9",
    member_number="100781",
    identification="0104567896",
    first_name="LUCIA",
    last_name="vega",
    email="Ana.Torres@example.com",
)


def test_ana_registers_with_one_given_name_and_one_surname(auth, events):
    answer = auth.register(**ANA, client_ip=IP)
    assert answer == {"username": "ana.torres", "member_number": "100781"}
    session = auth.login("ana.torres", "Cielo-de-Quito-9", IP)
    assert session["member"] == {"member_number": "100781", "display_name": "Ana Torres"}
    (registered,) = events.wait_for("user_registered", username="ana.torres")
    assert registered["data"]["email"] == "ana.torres@example.com"
    assert registered["data"]["member_number"] == "100781"


def test_registration_tells_no_stranger_whether_a_user_exists(auth):
    maria_data = dict(
        ANA,
        member_number="100234",
        identification="1712345675",
        first_name="fernanda",
        last_name="GOMEZ",
        email="maria.perez@example.com",
    )
    # the data of a member who already has a user: the answer of a mismatch, whatever the name
    answers = []
    for username in ("maria", "nobody1"):
        with pytest.raises(ValidationError) as err:
            auth.register(**dict(maria_data, username=username), client_ip=IP)
        answers.append(err.value.to_dict())
    with pytest.raises(ValidationError) as mismatch:
        auth.register(**dict(ANA, identification="0104567897"), client_ip=IP)
    assert answers[0] == answers[1] == mismatch.value.to_dict()
    assert answers[0] == {
        "code": "validation_error",
        "message": REGISTRATION_MISMATCH,
        "fields": {},
    }
    # only a member whose data match and who has no user learns that a user name is taken
    with pytest.raises(Conflict) as taken:
        auth.register(**dict(ANA, username="maria"), client_ip=IP)
    assert taken.value.extra["fields"] == {
        "username": ["El nombre de usuario ya está en uso: elija otro."]
    }
    auth.register(**ANA, client_ip=IP)
    with pytest.raises(ValidationError) as again:
        auth.register(**dict(ANA, username="ana.lucia"), client_ip=IP)
    assert again.value.message == REGISTRATION_MISMATCH


def test_registration_attempts_are_throttled_per_address(auth):
    for i in range(29):
        with pytest.raises(ValidationError):
            auth.register(**dict(ANA, member_number=f"9{i:05d}"), client_ip="203.0.113.77")
    with pytest.raises(RateLimited):
        auth.register(**dict(ANA, member_number="999999"), client_ip="203.0.113.77")
    with pytest.raises(RateLimited):  # even with the right data, until the window passes
        auth.register(**ANA, client_ip="203.0.113.77")
    assert auth.register(**ANA, client_ip="203.0.113.78")["username"] == "ana.torres"


def test_registration_refuses_a_password_with_the_members_own_data(auth):
    for password in ("0104567896", "Lucia-Torres-77", "Ana-Lucía-2026!", "100781100781"):
        with pytest.raises(ValidationError) as err:
            auth.register(**dict(ANA, password=password), client_ip=IP)
        assert err.value.fields == {"password": [PERSONAL]}, password


@pytest.mark.parametrize(
    "change",
    [
        {"identification": "0104567897"},
        {"identification": "1712345675"},
        {"first_name": "Carmen"},
        {"last_name": "Pérez"},
        {"email": "ana@example.com"},
        {"member_number": "100782"},
    ],
)
def test_a_mismatch_is_422_without_saying_which_field(auth, change):
    with pytest.raises(ValidationError) as err:
        auth.register(**dict(ANA, **change), client_ip=IP)
    assert err.value.message == REGISTRATION_MISMATCH
    assert err.value.fields == {}
    with pytest.raises(Unauthenticated):
        auth.login("ana.torres", "Cielo-de-Quito-9", IP)


def test_registration_checks_username_and_password_rules(auth):
    with pytest.raises(ValidationError) as err:
        auth.register(**dict(ANA, username="ana torres", password="password"), client_ip=IP)
    assert err.value.fields["username"] == [
        "El usuario solo puede tener letras minúsculas sin tildes, números, punto (.), "
        "guion (-) y guion bajo (_)."
    ]
    assert err.value.fields["password"] == [
        "La contraseña es demasiado común: elija una más difícil de adivinar."
    ]
    with pytest.raises(ValidationError) as err:
        auth.register(**dict(ANA, password="xxana.torresxx"), client_ip=IP)
    assert err.value.fields == {
        "password": ["La contraseña no puede ser igual al usuario ni contenerlo."]
    }
    with pytest.raises(ValidationError) as err:
        auth.register(**dict(ANA, email="no-es-correo", member_number="1" * 40), client_ip=IP)
    assert err.value.fields["email"] == ["Correo electrónico inválido."]
    assert err.value.fields["member_number"] == ["Debe tener como máximo 12 caracteres."]


def test_sql_or_html_in_a_field_is_just_text(auth):
    with pytest.raises(ValidationError) as err:
        auth.register(**dict(ANA, first_name="' OR 1=1 --", last_name="<b>x</b>"), client_ip=IP)
    assert err.value.message == REGISTRATION_MISMATCH
    with pytest.raises(Unauthenticated):
        auth.login("' OR '1'='1", "' OR '1'='1", IP)


# Secrets never travel in events -----------------------------------------------------------


def test_no_event_carries_a_password_hash_token_or_code(auth, events):
    secrets = ["Socia-2026!", "Cielo-de-Quito-9", "Nueva-clave-2027", "no-es-la-clave"]
    auth.register(**ANA, client_ip=IP)
    token = auth.login(*MARIA, IP)["token"]
    secrets.append(token)
    with pytest.raises(Unauthenticated):
        auth.login("maria", "no-es-la-clave", IP)
    code = recovered_code(auth)
    secrets.append(code)
    temp = auth.login("maria", code, IP)["token"]
    secrets.append(temp)
    auth.change_password(temp, None, "Nueva-clave-2027", IP)  # it ends that session too
    auth.logout(auth.login("maria", "Nueva-clave-2027", IP)["token"], IP)
    for event_type in AUTH_EVENTS:
        if event_type != "account_locked":
            events.wait_for(event_type)
    for event in events.all:
        body = json.dumps(event, ensure_ascii=False)
        assert set(event) == {"event_id", "event_type", "source", "occurred_at", "version", "data"}
        assert "$argon2" not in body
        for secret in secrets:
            assert secret not in body, event["event_type"]
        for key in event["data"]:
            assert not re.search("password|token|code|hash", key), key
