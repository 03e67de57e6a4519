"""The second factor on the real broker (auth + accounts, and a stand-in notifications that
writes the e-mailed codes to var/mail): every path of docs/identity.md, "Second factor".

Time moves with the cooperative's clock (`CLOCK.advance`), never by sleeping. TOTP codes are
computed with pyotp from the secret the enrolment shows, as the member's app would.
"""

import json
import logging
import time
import uuid

import pyotp
import pytest

from services.common.clock import CLOCK
from services.common.entrypoints import event_handler
from services.common.errors import (
    ChallengeExpired,
    InvalidCode,
    Locked,
    NotFound,
    RateLimited,
    Unauthenticated,
    ValidationError,
)
from tests.helpers import (
    api_login,
    bearer,
    device_tokens,
    emailed_code,
    emailed_recovery_code,
    login_post,
    start_auth_stack,
    start_gateway,
)

pytestmark = pytest.mark.pg

IP = "198.51.100.7"
OTHER_IP = "203.0.113.77"
MARIA = ("maria", "Socia-2026!")
JOSE = ("jose", "Socio-2026!")
PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36"
)
EVENTS = (
    "login_succeeded",
    "login_new_device",
    "totp_enrolled",
    "totp_removed",
    "recovery_codes_regenerated",
    "device_removed",
    "session_removed",
    "second_factor_locked",
    "recovery_code_used",
    "second_factor_failed",
    "not_me_reported",
    "logged_out",
    "password_changed",
)


@pytest.fixture
def stack(service_config, container_factory, today):
    start_auth_stack(container_factory, service_config, today, catch_codes=True)
    yield service_config
    CLOCK.reset()


@pytest.fixture
def auth(stack, rpc_proxy):
    return rpc_proxy("auth")


@pytest.fixture
def events(stack, container_factory):
    received = []

    def handler(event_type):
        @event_handler("auth", event_type)
        def handle(self, payload):
            received.append(payload)

        handle.__name__ = f"on_{event_type}"
        return handle

    listener = type(
        "FactorListener", (), {"name": "factor_listener", **{f"on_{t}": handler(t) for t in EVENTS}}
    )
    container_factory(listener, stack).start()

    class Received:
        all = received

        def wait_for(self, event_type, count=1, timeout=10, **data):
            deadline = time.monotonic() + timeout
            while True:
                found = [
                    e
                    for e in received
                    if e["event_type"] == event_type
                    and all(e["data"].get(k) == v for k, v in data.items())
                ]
                if len(found) >= count:
                    return found
                assert time.monotonic() < deadline, f"{event_type} {data} not received"
                time.sleep(0.05)

        def of(self, event_type):
            return [e for e in received if e["event_type"] == event_type]

    return Received()


def challenge_of(auth, user=MARIA, ip=IP, device_token=None):
    answer = auth.login(*user, ip, device_token, PHONE)
    assert answer["second_factor_required"] is True and "token" not in answer, answer
    return answer


def with_email_code(auth, challenge, remember=False, ip=IP):
    code = emailed_code(challenge["challenge_id"])
    return auth.login_second_factor(challenge["challenge_id"], "email_code", code, remember, ip)


def session_from_device(auth, user=MARIA, ip=IP):
    """A login from the user's remembered device (demo users have one); its replacement kept."""
    name = user[0]
    answer = auth.login(*user, ip, device_tokens()[name], PHONE)
    assert answer["token"], answer
    from tests.helpers import save_device_tokens

    save_device_tokens({name: answer["device_token"]})
    return answer["token"]


def totp_now(secret, seconds=0):
    moment = CLOCK.now().timestamp() + seconds
    return pyotp.TOTP(secret).at(moment)


def enrol(auth, token, password=MARIA[1]):
    """Enrol an app for the session's user; (secret, recovery codes). The clock then moves one
    step on, so the app's next code is a later step than the one the enrolment spent."""
    started = auth.start_totp_enrollment(token, password, IP)
    assert started["confirmation"]["method"] in ("email_code", "totp")
    secret = started["secret"]
    code = emailed_code(started["enrollment_id"])  # the e-mail names the enrolment's reference
    codes = auth.confirm_totp_enrollment(
        token, started["enrollment_id"], totp_now(secret), code, IP
    )["recovery_codes"]
    CLOCK.advance(30)
    return secret, codes


# Login from an unknown device -------------------------------------------------------------


def test_an_unknown_device_gets_a_challenge_and_the_emailed_code_opens_a_session(auth, events):
    challenge = challenge_of(auth)
    assert challenge["methods"] == ["email_code"] and challenge["challenge_expires_at"]
    session = with_email_code(auth, challenge, remember=True)
    assert session["member"]["member_number"] == "100234" and session["device_token"]
    assert auth.authenticate(session["token"])["username"] == "maria"
    # the challenge is good once
    with pytest.raises(ChallengeExpired):
        auth.login_second_factor(challenge["challenge_id"], "email_code", "123456", False, IP)
    # a new address for maria: alerted, with the device's label
    (alert,) = events.wait_for("login_new_device", username="maria")
    assert alert["data"]["device_label"] == "Chrome Mobile en Android"
    assert alert["data"]["client_ip"] == IP
    # the device just remembered spares the code, and its token is replaced
    again = auth.login(*MARIA, IP, session["device_token"], PHONE)
    assert again["token"] and again["device_token"] not in (None, session["device_token"])
    # another unknown device from an address seen at a successful login: no new alert
    with_email_code(auth, challenge_of(auth))
    events.wait_for("login_succeeded", count=3, username="maria")
    assert len(events.of("login_new_device")) == 1


def test_only_the_challenges_methods_are_accepted(auth):
    challenge = challenge_of(auth)
    with pytest.raises(ValidationError) as refused:
        auth.login_second_factor(challenge["challenge_id"], "totp", "123456", False, IP)
    assert list(refused.value.fields) == ["method"]
    # that refusal counted nothing: the e-mailed code still opens
    assert with_email_code(auth, challenge)["token"]


def test_a_wrong_code_says_the_attempts_left_and_the_fifth_ends_the_challenge(auth):
    challenge = challenge_of(auth)
    right = emailed_code(challenge["challenge_id"])
    wrong = "000000" if right != "000000" else "111111"
    for left in (4, 3, 2, 1):
        with pytest.raises(InvalidCode) as err:
            auth.login_second_factor(challenge["challenge_id"], "email_code", wrong, False, IP)
        assert err.value.extra["attempts_left"] == left
    with pytest.raises(ChallengeExpired):
        auth.login_second_factor(challenge["challenge_id"], "email_code", wrong, False, IP)
    with pytest.raises(ChallengeExpired):
        auth.login_second_factor(challenge["challenge_id"], "email_code", right, False, IP)


def test_the_emailed_code_lives_five_minutes_and_the_challenge_ten(auth):
    challenge = challenge_of(auth)
    code = emailed_code(challenge["challenge_id"])
    CLOCK.advance(5 * 60)
    with pytest.raises(InvalidCode):
        auth.login_second_factor(challenge["challenge_id"], "email_code", code, False, IP)
    # a resend gives a fresh code for the same challenge, until the challenge's 10 minutes
    auth.resend_second_factor_code(challenge["challenge_id"], IP)
    fresh = _newer_code(challenge, code)
    CLOCK.advance(5 * 60)
    with pytest.raises(ChallengeExpired):
        auth.login_second_factor(challenge["challenge_id"], "email_code", fresh, False, IP)


def _newer_code(challenge, old):
    deadline = time.monotonic() + 10
    while True:
        code = emailed_code(challenge["challenge_id"])
        if code != old:
            return code
        assert time.monotonic() < deadline, "no new code e-mailed"
        time.sleep(0.05)


def test_a_resend_voids_the_earlier_code_and_five_emails_in_15_minutes_is_the_limit(auth):
    challenge = challenge_of(auth)  # the first e-mail
    first = emailed_code(challenge["challenge_id"])
    codes = [first]
    for _ in range(4):  # four more: five in all
        auth.resend_second_factor_code(challenge["challenge_id"], IP)
        codes.append(_newer_code(challenge, codes[-1]))
    with pytest.raises(RateLimited) as limited:
        auth.resend_second_factor_code(challenge["challenge_id"], IP)
    assert 0 < limited.value.extra["retry_after"] <= 15 * 60
    # a new login is refused too: no sixth e-mail to this member
    with pytest.raises(RateLimited):
        auth.login(*MARIA, IP, None, PHONE)
    if first != codes[-1]:
        with pytest.raises(InvalidCode):
            auth.login_second_factor(challenge["challenge_id"], "email_code", first, False, IP)
    assert auth.login_second_factor(challenge["challenge_id"], "email_code", codes[-1], False, IP)[
        "token"
    ]


def test_ten_wrong_codes_across_challenges_lock_the_factor_until_a_recovery(auth, events):
    for _ in range(2):
        challenge = challenge_of(auth, JOSE)
        for _ in range(4):
            with pytest.raises(InvalidCode):
                auth.login_second_factor(challenge["challenge_id"], "email_code", "x1", False, IP)
        with pytest.raises((ChallengeExpired, Locked)) as last:
            auth.login_second_factor(challenge["challenge_id"], "email_code", "x1", False, IP)
    assert isinstance(last.value, Locked)
    assert last.value.extra["reason"] == "second_factor_locked"
    events.wait_for("second_factor_locked", username="jose")
    # no login from an unknown device now, whatever the password
    with pytest.raises(Locked):
        auth.login(*JOSE, IP, None, PHONE)
    # a recovery: the temporary code opens a session with no second step; the change it
    # allows ends that session and opens the factor again
    auth.request_recovery("jose", "jose.andrade@example.com", "100517", IP)
    temporary = auth.login("jose", emailed_recovery_code("jose.andrade@example.com"), IP)
    assert temporary["must_change_password"] is True and temporary["token"]
    auth.change_password(temporary["token"], None, "Volcan-Tungurahua-61", IP)
    with pytest.raises(Unauthenticated):
        auth.authenticate(temporary["token"])
    assert auth.login("jose", "Volcan-Tungurahua-61", IP, None, PHONE)["second_factor_required"]
    state = auth.security_state("100517")
    assert state["second_factor_locked"] is False and state["restricted_until"]


# Remembered devices -----------------------------------------------------------------------


def test_a_device_token_is_replaced_at_each_use_and_serves_its_user_only(auth):
    maria_device = device_tokens()["maria"]
    # jose's password with maria's device token: an unknown device for jose
    assert challenge_of(auth, JOSE, device_token=maria_device)
    # and maria's token was not spent by that
    first = auth.login(*MARIA, IP, maria_device, PHONE)
    assert first["token"] and first["device_token"] != maria_device
    # the old token is dead: back to the challenge
    assert challenge_of(auth, device_token=maria_device)
    assert auth.login(*MARIA, IP, first["device_token"], PHONE)["token"]


def test_a_device_is_remembered_30_days(auth):
    token = device_tokens()["maria"]
    CLOCK.advance(30 * 24 * 3600)
    assert challenge_of(auth, device_token=token)


def test_removing_a_device_or_a_session_takes_effect_at_once(auth, events):
    session = with_email_code(auth, challenge_of(auth), remember=True)
    mine = session_from_device(auth)
    security = auth.security(mine)
    labels = {d["label"] for d in security["devices"]}
    assert "Chrome Mobile en Android" in labels
    current = [s for s in security["sessions"] if s["current"]]
    assert len(current) == 1 and current[0]["session_id"] == auth.authenticate(mine)["session_id"]
    phone = next(d for d in security["devices"] if d["label"] == "Chrome Mobile en Android")
    auth.forget_device(mine, phone["device_id"], IP)
    assert challenge_of(auth, device_token=session["device_token"])
    other = next(s for s in security["sessions"] if not s["current"])
    auth.end_session(mine, other["session_id"], IP)
    with pytest.raises(Unauthenticated):
        auth.authenticate(session["token"])
    events.wait_for("device_removed", username="maria", device_label="Chrome Mobile en Android")
    events.wait_for("session_removed", username="maria", session_id=other["session_id"])
    # another member's device or session is "not found", like one that does not exist
    jose = session_from_device(auth, JOSE)
    jose_device = auth.security(jose)["devices"][0]["device_id"]
    with pytest.raises(NotFound):
        auth.forget_device(mine, jose_device, IP)
    with pytest.raises(NotFound):
        auth.end_session(mine, auth.authenticate(jose)["session_id"], IP)
    with pytest.raises(NotFound):
        auth.forget_device(mine, "no-existe", IP)
    assert auth.authenticate(jose)["username"] == "jose"


def test_a_password_change_forgets_every_device(auth):
    token = session_from_device(auth)
    auth.change_password(token, MARIA[1], "Laguna-Quilotoa-42", IP)
    assert challenge_of(
        auth, ("maria", "Laguna-Quilotoa-42"), device_token=device_tokens()["maria"]
    )
    assert auth.security(token)["devices"] == []


def test_the_security_view_lists_the_last_logins_with_their_outcome(auth):
    with pytest.raises(Unauthenticated):
        auth.login("maria", "no-es-la-clave", OTHER_IP, None, PHONE)
    challenge = challenge_of(auth)
    with pytest.raises(InvalidCode):
        auth.login_second_factor(challenge["challenge_id"], "email_code", "x1", False, IP)
    token = with_email_code(auth, challenge)["token"]
    logins = auth.security(token)["recent_logins"]
    assert [(r["outcome"], r["address"]) for r in logins[:3]] == [
        ("success", IP),
        ("bad_code", IP),
        ("bad_password", OTHER_IP),
    ]
    assert logins[0]["device_label"] == "Chrome Mobile en Android"
    for _ in range(25):
        session_from_device(auth)
    assert len(auth.security(token)["recent_logins"]) == 20


# The authenticator app --------------------------------------------------------------------


def test_enrolling_needs_the_password_the_new_apps_code_and_an_emailed_code(auth, events):
    token = session_from_device(auth)
    elsewhere = with_email_code(auth, challenge_of(auth, ip=OTHER_IP), remember=True)
    with pytest.raises(ValidationError) as wrong_password:
        auth.start_totp_enrollment(token, "no-es-la-clave", IP)
    assert list(wrong_password.value.fields) == ["password"]
    started = auth.start_totp_enrollment(token, MARIA[1], IP)
    assert started["qr_svg"].startswith("<svg") and started["secret"] in started["otpauth_uri"]
    emailed = emailed_code(started["enrollment_id"])
    # not active before its first right code
    assert auth.security(token)["totp_enrolled"] is False
    with pytest.raises(InvalidCode):
        auth.confirm_totp_enrollment(token, started["enrollment_id"], "000000", emailed, IP)
    with pytest.raises(InvalidCode):  # the app's code right, the e-mailed one wrong
        auth.confirm_totp_enrollment(
            token, started["enrollment_id"], totp_now(started["secret"]), "x1", IP
        )
    codes = auth.confirm_totp_enrollment(
        token, started["enrollment_id"], totp_now(started["secret"]), emailed, IP
    )["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    security = auth.security(token)
    assert security["totp_enrolled"] is True and security["recovery_codes_left"] == 10
    # the other sessions ended and every device was forgotten
    with pytest.raises(Unauthenticated):
        auth.authenticate(elsewhere["token"])
    assert security["devices"] == []
    assert auth.security_state("100234")["restricted_until"]
    events.wait_for("totp_enrolled", username="maria")
    # the login now asks for the app (or a recovery code), never an e-mail
    challenge = challenge_of(auth, device_token=elsewhere["device_token"])
    assert challenge["methods"] == ["totp", "recovery_code"]
    with pytest.raises(ValidationError):
        auth.login_second_factor(challenge["challenge_id"], "email_code", "123456", False, IP)


def test_an_emailed_code_no_longer_opens_the_account_once_the_app_is_enrolled(auth):
    pending = challenge_of(auth)  # before the enrolment: an e-mail code
    code = emailed_code(pending["challenge_id"])
    enrol(auth, session_from_device(auth))
    with pytest.raises(ChallengeExpired):
        auth.login_second_factor(pending["challenge_id"], "email_code", code, False, IP)


def test_a_totp_step_is_good_once_even_on_another_challenge(auth):
    secret, _codes = enrol(auth, session_from_device(auth))
    code = totp_now(secret)
    first = challenge_of(auth)
    assert auth.login_second_factor(first["challenge_id"], "totp", code, False, IP)["token"]
    second = challenge_of(auth)
    with pytest.raises(InvalidCode):
        auth.login_second_factor(second["challenge_id"], "totp", code, False, IP)
    CLOCK.advance(30)
    assert auth.login_second_factor(second["challenge_id"], "totp", totp_now(secret), False, IP)


def test_a_recovery_code_is_good_once_and_new_ones_replace_the_old(auth, events):
    token = session_from_device(auth)
    secret, codes = enrol(auth, token)
    challenge = challenge_of(auth)
    typed = codes[0].lower()[:5] + "-" + codes[0].lower()[5:]  # as a member may type it
    assert auth.login_second_factor(challenge["challenge_id"], "recovery_code", typed, False, IP)
    (used,) = events.wait_for("recovery_code_used", username="maria")
    assert used["data"]["recovery_codes_left"] == 9
    again = challenge_of(auth)
    with pytest.raises(InvalidCode):
        auth.login_second_factor(again["challenge_id"], "recovery_code", codes[0], False, IP)
    fresh = auth.new_recovery_codes(token, MARIA[1], totp_now(secret), IP)["recovery_codes"]
    assert not set(fresh) & set(codes)
    with pytest.raises(InvalidCode):
        auth.login_second_factor(again["challenge_id"], "recovery_code", codes[1], False, IP)
    assert auth.login_second_factor(again["challenge_id"], "recovery_code", fresh[0], False, IP)
    events.wait_for("recovery_codes_regenerated", username="maria")


def test_removing_the_app_needs_password_and_a_code_and_brings_back_emailed_codes(auth, events):
    token = session_from_device(auth)
    secret, codes = enrol(auth, token)
    remembered = auth.login_second_factor(
        challenge_of(auth)["challenge_id"], "totp", totp_now(secret), True, IP
    )
    with pytest.raises(ValidationError):
        auth.remove_totp(token, "no-es-la-clave", codes[0], IP)
    with pytest.raises(InvalidCode):
        auth.remove_totp(token, MARIA[1], "000000", IP)
    auth.remove_totp(token, MARIA[1], codes[0], IP)  # a recovery code serves too
    assert auth.security(token)["totp_enrolled"] is False
    (removed,) = events.wait_for("totp_removed", username="maria")
    assert removed["data"]["with_recovery_code"] is True
    # every device forgotten; e-mailed codes again
    challenge = challenge_of(auth, device_token=remembered["device_token"])
    assert challenge["methods"] == ["email_code"]
    assert with_email_code(auth, challenge)["token"]


# "No fui yo" ------------------------------------------------------------------------------


def test_no_fui_yo_ends_every_session_forgets_devices_and_locks_until_a_recovery(auth, events):
    session = with_email_code(auth, challenge_of(auth, ip=OTHER_IP), remember=True, ip=OTHER_IP)
    (alert,) = events.wait_for("login_new_device", username="maria", client_ip=OTHER_IP)
    link = auth.not_me_link(alert["event_id"])
    assert link["token"] and link["token"] not in json.dumps(events.all)
    # a second ask replaces the first token (notifications asks once per e-mail)
    link = auth.not_me_link(alert["event_id"])
    assert auth.report_not_me(link["token"], IP) == {"reported": True}
    with pytest.raises(Unauthenticated):
        auth.authenticate(session["token"])
    with pytest.raises(Locked):
        auth.login(*MARIA, IP, session["device_token"], PHONE)
    with pytest.raises(ChallengeExpired):  # the link is good once
        auth.report_not_me(link["token"], IP)
    (reported,) = events.wait_for("not_me_reported", username="maria")
    assert reported["data"]["reported_event_id"] == alert["event_id"]
    assert reported["data"]["sessions_ended"] >= 1 and reported["data"]["devices_forgotten"] >= 1
    assert auth.not_me_link("no-existe") is None


def test_an_orders_alert_gets_a_no_fui_yo_link_that_locks_the_member_it_names(auth, events):
    """payments' alerts (an order ended, a beneficiary added, a limit raised) carry the link
    too: auth makes it at notifications' first ask, for the member the event names."""
    session = with_email_code(auth, challenge_of(auth))
    order_event = str(uuid.uuid4())
    # only another service's alerts get a link made on demand, and only for a portal user
    assert auth.not_me_link(order_event, "100234", "auth.login_new_device") is None
    assert auth.not_me_link(order_event, "999999", "payments.order_completed") is None
    link = auth.not_me_link(order_event, "100234", "payments.order_completed")
    assert auth.report_not_me(link["token"], IP) == {"reported": True}
    with pytest.raises(Unauthenticated):
        auth.authenticate(session["token"])
    (reported,) = events.wait_for("not_me_reported", username="maria")
    assert reported["data"]["reported_event_id"] == order_event


# No secret in a log line or an event ------------------------------------------------------


def test_no_code_secret_or_token_reaches_a_log_line_or_an_event(auth, events, caplog):
    caplog.set_level(logging.DEBUG)
    secrets = []
    challenge = challenge_of(auth)
    secrets.append(emailed_code(challenge["challenge_id"]))
    session = with_email_code(auth, challenge, remember=True)
    secrets += [session["token"], session["device_token"], challenge["challenge_id"]]
    token = session["token"]
    started = auth.start_totp_enrollment(token, MARIA[1], IP)
    emailed = emailed_code(started["enrollment_id"])
    first_totp = totp_now(started["secret"])
    codes = auth.confirm_totp_enrollment(token, started["enrollment_id"], first_totp, emailed, IP)[
        "recovery_codes"
    ]
    secrets += [started["secret"], emailed, first_totp, *codes]
    CLOCK.advance(30)
    login = challenge_of(auth)
    auth.login_second_factor(login["challenge_id"], "recovery_code", codes[0], True, IP)
    with pytest.raises(InvalidCode):
        auth.login_second_factor(challenge_of(auth)["challenge_id"], "totp", "000000", False, IP)
    events.wait_for("recovery_code_used")
    events.wait_for("second_factor_failed")
    alert = events.wait_for("totp_enrolled")[0]
    secrets.append(auth.not_me_link(alert["event_id"])["token"])
    # the portal's own log lines at every level, and any library's warnings (the test's RPC
    # client logs the replies it receives at DEBUG: that is this test reading its answers)
    logged = "\n".join(
        r.getMessage()
        for r in caplog.records
        if r.name.split(".")[0] in ("services", "gateway", "portal") or r.levelno >= logging.INFO
    )
    published = json.dumps(events.all, ensure_ascii=False)
    for secret in secrets:
        assert secret not in logged
        assert secret not in published
    for event in events.all:
        for key in event["data"]:
            assert key in ("recovery_codes_left", "reported_event_id") or not any(
                word in key for word in ("code", "token", "secret", "hash", "password")
            ), key


# The JSON API -----------------------------------------------------------------------------


@pytest.fixture
def api(stack, container_factory, http_session):
    start_gateway(container_factory, stack)
    return http_session


def test_the_api_second_factor_statuses(api):
    answer = api.post("/api/v1/auth/login", json={"username": "maria", "password": MARIA[1]})
    assert answer.status_code == 200
    challenge = answer.json()
    assert set(challenge) == {
        "second_factor_required",
        "challenge_id",
        "methods",
        "challenge_expires_at",
    }
    step = "/api/v1/auth/login/second-factor"
    body = {"challenge_id": challenge["challenge_id"], "method": "email_code", "code": "x1"}
    first = emailed_code(challenge["challenge_id"])
    wrong = api.post(step, json=body)
    assert wrong.status_code == 422
    assert wrong.json()["error"]["code"] == "invalid_code"
    assert wrong.json()["error"]["attempts_left"] == 4
    resend = api.post(f"{step}/resend", json={"challenge_id": challenge["challenge_id"]})
    assert resend.status_code == 204
    code = _newer_code(challenge, first)
    done = api.post(step, json={**body, "code": code, "remember_device": True})
    assert done.status_code == 200 and done.json()["device_token"]
    used = api.post(step, json={**body, "code": code})
    assert used.status_code == 410 and used.json()["error"]["code"] == "challenge_expired"
    headers = bearer(done.json()["token"])
    security = api.get("/api/v1/me/security", headers=headers).json()
    device = security["devices"][0]["device_id"]
    assert api.delete(f"/api/v1/me/devices/{device}", headers=headers).status_code == 204
    assert api.delete(f"/api/v1/me/devices/{device}", headers=headers).status_code == 404
    other = api_login(api, "jose", JOSE[1])
    jose_session = api.get("/api/v1/me/security", headers=bearer(other)).json()["sessions"][0]
    gone = api.delete(f"/api/v1/me/sessions/{jose_session['session_id']}", headers=headers)
    assert gone.status_code == 404
    assert api.get("/api/v1/me", headers=bearer(other)).status_code == 200
    mine = next(s for s in security["sessions"] if s["current"])["session_id"]
    assert api.delete(f"/api/v1/me/sessions/{mine}", headers=headers).status_code == 204
    assert api.get("/api/v1/me", headers=headers).status_code == 401


def test_the_api_enrols_and_removes_an_app(api):
    token = bearer(api_login(api, "maria", MARIA[1]))
    started = api.post("/api/v1/me/second-factor/totp", json={"password": MARIA[1]}, headers=token)
    assert started.status_code == 201
    body = started.json()
    emailed = emailed_code(body["enrollment_id"])
    confirm = f"/api/v1/me/second-factor/totp/{body['enrollment_id']}/confirm"
    done = api.post(
        confirm, json={"totp_code": totp_now(body["secret"]), "code": emailed}, headers=token
    )
    assert done.status_code == 200 and len(done.json()["recovery_codes"]) == 10
    again = api.post(
        confirm, json={"totp_code": totp_now(body["secret"]), "code": emailed}, headers=token
    )
    assert again.status_code == 410
    removed = api.delete(
        "/api/v1/me/second-factor/totp",
        json={"password": MARIA[1], "code": done.json()["recovery_codes"][0]},
        headers=token,
    )
    assert removed.status_code == 204
    assert login_post(api, json={"username": "maria", "password": MARIA[1]}).json()["methods"] == [
        "email_code"
    ]
