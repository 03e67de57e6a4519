"""The identity rules of docs/domain.md as pure functions: policy, codes, lockout, timeouts."""

import re
from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.auth import domain

T0 = datetime(2026, 11, 25, 16, 0, 0)


# Username and password policy -------------------------------------------------------------


def test_usernames_of_4_to_30_allowed_characters_are_valid():
    for name in ("jose", "maria", "m.perez-2026_x", "a" * 30):
        assert domain.username_problems(name) == []


def test_username_length_and_characters_are_explained():
    assert domain.username_problems("ana") == [domain.MSG_USERNAME_LENGTH]
    assert domain.username_problems("a" * 31) == [domain.MSG_USERNAME_LENGTH]
    assert domain.username_problems("maría") == [domain.MSG_USERNAME_CHARS]
    assert domain.username_problems("ana torres") == [domain.MSG_USERNAME_CHARS]
    assert domain.username_problems("x' OR 1=1--") == [domain.MSG_USERNAME_CHARS]


def test_username_is_stored_lower_case():
    assert domain.normalize_username("  AnaT ") == "anat"


def test_a_good_password_passes():
    assert domain.password_problems("Socia-2026!", "maria") == []
    assert domain.password_problems("caballo verde luna", "ana.torres") == []


def test_password_length_limits():
    assert domain.password_problems("Ab1-xyz", "ana.torres") == [domain.MSG_PASSWORD_SHORT]
    assert domain.password_problems("xyz" * 42 + "xy", "ana.torres") == []
    assert domain.password_problems("xyz" * 43, "ana.torres") == [domain.MSG_PASSWORD_LONG]


def test_password_may_not_equal_or_contain_the_username():
    assert domain.password_problems("anatorres", "anatorres") == [domain.MSG_PASSWORD_USERNAME]
    assert domain.password_problems("xxAnaTorres2026", "anatorres") == [
        domain.MSG_PASSWORD_USERNAME
    ]


def test_common_passwords_are_refused_without_regard_to_case_or_accents():
    assert domain.MSG_PASSWORD_COMMON in domain.password_problems("password", "ana.torres")
    assert domain.MSG_PASSWORD_COMMON in domain.password_problems("PassWord123", "ana.torres")
    assert domain.MSG_PASSWORD_COMMON in domain.password_problems("Contraseña", "ana.torres")
    assert domain.MSG_PASSWORD_COMMON in domain.password_problems("12345678", "ana.torres")


def test_every_broken_rule_is_reported_in_spanish():
    problems = domain.password_problems("qzxw", "qzxw")
    assert problems == [domain.MSG_PASSWORD_SHORT, domain.MSG_PASSWORD_USERNAME]
    assert all("contraseña" in p.lower() for p in problems)


def test_the_common_list_ships_with_the_service():
    assert len(domain.COMMON_PASSWORDS) >= 10_000
    assert "contraseña" in domain.COMMON_PASSWORDS
    assert {"dragon12", "sunshine1", "iloveyou"} <= domain.COMMON_PASSWORDS


def test_blank_or_one_character_passwords_are_refused():
    for blank in (" " * 8, "\t" * 8, " \t \n" * 3):
        assert domain.MSG_PASSWORD_BLANK in domain.password_problems(blank, "maria")
    for repeated in ("ññññññññ", "aaaaaaaaaaaa", "abababab"):
        assert domain.password_problems(repeated, "maria") == [domain.MSG_PASSWORD_REPEATED]


MARIA = domain.MemberFacts("100234", "María Fernanda", "Pérez Gómez", identification="1712345675")


def test_a_password_may_not_hold_the_members_own_data():
    for password in (
        "1712345675",
        "x-171 234 5675-x",
        "100234100234",
        "socio100234!",
        "MARIA-de-2026",
        "maría-de-2026",
        "Fernanda*77",
        "gomez.gomez.1",
        "PÉREZ-Quito-9",
    ):
        assert domain.password_problems(password, "mfp", MARIA) == [domain.MSG_PASSWORD_PERSONAL], (
            password
        )
    assert domain.password_problems("Laguna-Quilotoa-2026", "mfp", MARIA) == []


def test_the_cedula_unknown_to_auth_is_found_through_the_candidates():
    assert domain.identification_candidates("ab1712345675cd") == ["1712345675"]
    assert domain.identification_candidates("17-1234-5675-1") == ["1712345675", "7123456751"]
    assert domain.identification_candidates("Socia-2026!") == []
    facts = domain.MemberFacts("100234", "María", "Pérez")
    assert domain.password_problems("x1712345675x", "mfp", facts, identification_found=True) == [
        domain.MSG_PASSWORD_PERSONAL
    ]


# Secrets ---------------------------------------------------------------------------------


def test_temporary_codes_are_8_characters_of_letters_and_digits():
    codes = {domain.generate_code() for _ in range(500)}
    assert len(codes) == 500
    assert all(re.fullmatch(r"[A-Za-z0-9]{8}", c) for c in codes)
    joined = "".join(codes)
    # all three classes turn up over 4000 characters
    assert re.search("[a-z]", joined) and re.search("[A-Z]", joined) and re.search("[0-9]", joined)
    assert domain.looks_like_code("5uqZ7zkp")
    assert not domain.looks_like_code("Socia-2026!")


def test_session_tokens_carry_256_bits_and_are_stored_as_sha256():
    token = domain.new_token()
    assert len(token) >= 43  # 32 bytes in URL-safe base64
    assert domain.token_hash(token) == domain.token_hash(token)
    assert re.fullmatch("[0-9a-f]{64}", domain.token_hash(token))
    assert token not in domain.token_hash(token)
    assert domain.new_token() != token


# Lockout ---------------------------------------------------------------------------------


def test_fifth_consecutive_failure_locks_for_15_minutes():
    count = 0
    for _ in range(4):
        outcome = domain.after_failure(count, T0)
        assert not outcome.locked_now and outcome.locked_until is None
        count = outcome.failed_attempts
    assert count == 4
    outcome = domain.after_failure(count, T0)
    assert outcome.locked_now
    assert outcome.locked_until == T0 + timedelta(minutes=15)
    assert outcome.failed_attempts == 0


def test_lock_lasts_until_its_end_and_retry_after_counts_down():
    until = T0 + timedelta(minutes=15)
    assert domain.is_locked(until, T0)
    assert domain.seconds_until(until, T0) == 900
    assert domain.seconds_until(until, T0 + timedelta(minutes=14, seconds=59, microseconds=1)) == 1
    assert not domain.is_locked(until, until)
    assert not domain.is_locked(None, T0)


def test_address_throttle_after_30_failures_in_10_minutes():
    times = [T0 + timedelta(seconds=10 * i) for i in range(29)]
    now = T0 + timedelta(minutes=5)
    assert domain.throttle_retry_after(times, now) is None
    times.append(now)
    wait = domain.throttle_retry_after(times, now)
    # the oldest failure leaves the 10-minute window 5 minutes from now
    assert wait == 300
    # failures older than the window do not count
    assert domain.throttle_retry_after(times, T0 + timedelta(minutes=10, seconds=1)) is None


@given(st.lists(st.integers(min_value=0, max_value=1200), max_size=60))
def test_throttle_never_asks_to_wait_longer_than_the_window(offsets):
    now = T0 + timedelta(minutes=20)
    times = [now - timedelta(seconds=s) for s in offsets]
    wait = domain.throttle_retry_after(times, now)
    recent = sum(1 for s in offsets if s < 600)
    assert (wait is None) == (recent < 30)
    if wait is not None:
        assert 1 <= wait <= 600


def test_three_recoveries_per_hour():
    assert domain.recovery_allowed([], T0)
    two = [T0 - timedelta(minutes=50), T0 - timedelta(minutes=10)]
    assert domain.recovery_allowed(two, T0)
    three = [*two, T0 - timedelta(minutes=1)]
    assert not domain.recovery_allowed(three, T0)
    assert domain.recovery_allowed(three, T0 + timedelta(minutes=11))


# Sessions and codes -----------------------------------------------------------------------


def test_idle_timeout_of_15_minutes():
    expires = domain.session_expiry(T0)
    assert expires == T0 + timedelta(hours=8)
    at = T0 + timedelta(minutes=14, seconds=59)
    assert domain.session_state(T0, expires, None, at) == domain.ACTIVE
    at = T0 + timedelta(minutes=15)
    assert domain.session_state(T0, expires, None, at) == domain.IDLE_TIMEOUT


def test_absolute_timeout_of_8_hours_even_when_in_use():
    expires = domain.session_expiry(T0)
    last_seen = T0 + timedelta(hours=7, minutes=59)
    assert domain.session_state(last_seen, expires, None, expires - timedelta(seconds=1)) == (
        domain.ACTIVE
    )
    assert domain.session_state(last_seen, expires, None, expires) == domain.ABSOLUTE_TIMEOUT


def test_timeouts_are_configurable():
    expires = domain.session_expiry(T0, absolute_hours=1)
    assert expires == T0 + timedelta(hours=1)
    at = T0 + timedelta(minutes=5)
    assert domain.session_state(T0, expires, None, at, idle_minutes=5) == domain.IDLE_TIMEOUT


def test_a_revoked_session_is_dead_whatever_the_time():
    expires = domain.session_expiry(T0)
    assert domain.session_state(T0, expires, T0, T0) == domain.REVOKED


def test_code_is_usable_once_and_for_15_minutes():
    expires = T0 + timedelta(minutes=domain.CODE_VALID_MINUTES)
    assert domain.code_usable(expires, None, None, T0 + timedelta(minutes=14))
    assert not domain.code_usable(expires, None, None, expires)
    assert not domain.code_usable(expires, T0, None, T0)
    assert not domain.code_usable(expires, None, T0, T0)


def test_recovery_says_where_the_code_went_without_the_length_of_the_address():
    assert domain.mask_email_brief("Maria.Perez@Example.com") == "m***@example.com"


def test_display_name_and_masked_email():
    assert domain.display_name("María Fernanda", "Pérez Gómez") == "María Pérez"
    assert domain.display_name("Luis Alberto", "Cárdenas Ruiz") == "Luis Cárdenas"
    assert domain.mask_email("maria.perez@example.com") == "m*********z@example.com"


# Guessing from many addresses -------------------------------------------------------------


def test_the_tenth_failure_starts_a_wait_that_doubles_up_to_an_hour_and_ends_after_a_quiet_day():
    state, started = domain.AccountGuessing(), False
    for n in range(9):
        state, started = domain.account_after_failure(state, T0 + timedelta(minutes=n))
        assert not started and state.wait_until is None
    tenth = T0 + timedelta(minutes=9)
    state, started = domain.account_after_failure(state, tenth)
    assert started and state.wait_until == tenth + timedelta(seconds=30)
    assert domain.account_wait(state.wait_until, tenth + timedelta(seconds=10)) == 20
    waits = []
    moment = state.wait_until
    for _ in range(9):
        state, started = domain.account_after_failure(state, moment)
        assert not started  # one episode: the member is told once
        waits.append(state.delay_seconds)
        moment = state.wait_until
    assert waits == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
    assert domain.account_wait(state.wait_until, state.wait_until) is None
    # a day without failures ends the episode: the count starts again
    state, started = domain.account_after_failure(state, moment + timedelta(hours=24))
    assert not started and state.failures == 1 and state.episode_started_at is None


def test_failures_spread_over_more_than_a_day_never_start_a_wait():
    state = domain.AccountGuessing()
    for n in range(30):
        state, started = domain.account_after_failure(state, T0 + timedelta(hours=3 * n))
        assert not started and state.wait_until is None
