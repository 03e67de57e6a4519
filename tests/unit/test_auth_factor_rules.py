"""The second factor's rules with a fixed clock (services/auth/factor_rules.py;
docs/identity.md, "Second factor")."""

import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pyotp
import pytest

from services.auth import factor_rules as rules

NOW = datetime(2026, 12, 7, 15, 0, 10)  # naive UTC, 10 s into a 30-second step
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # 160 bits, like random_base32()
KEY = b"k" * 32


def totp_at(moment):
    """What the member's app shows at that instant (pyotp, independently of the rules)."""
    epoch = (moment - datetime(1970, 1, 1)).total_seconds()
    return pyotp.TOTP(SECRET).at(epoch)


def test_the_rules_module_is_pure():
    probe = (
        "import sys, services.auth.factor_rules; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'nameko', 'eventlet', 'kombu', 'sqlalchemy'}))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


# TOTP ---------------------------------------------------------------------------------------


def test_the_current_code_and_one_step_either_side_are_accepted():
    step = rules.totp_step(NOW)
    for offset in (-30, 0, 30):
        code = totp_at(NOW + timedelta(seconds=offset))
        assert rules.totp_accepted_step(SECRET, code, NOW, None) == step + offset // 30


def test_two_steps_away_is_refused():
    for offset in (-60, 60):
        assert (
            rules.totp_accepted_step(SECRET, totp_at(NOW + timedelta(seconds=offset)), NOW, None)
            is None
        )


def test_a_step_is_good_once_and_never_an_earlier_one():
    current = totp_at(NOW)
    step = rules.totp_accepted_step(SECRET, current, NOW, None)
    # the same code again (another challenge, a few seconds later): a replay
    assert rules.totp_accepted_step(SECRET, current, NOW + timedelta(seconds=5), step) is None
    # the previous step's code, still inside the window: earlier than the last accepted
    previous = totp_at(NOW - timedelta(seconds=30))
    assert rules.totp_accepted_step(SECRET, previous, NOW, step) is None
    # the next step's code is later: accepted
    following = totp_at(NOW + timedelta(seconds=30))
    assert (
        rules.totp_accepted_step(SECRET, following, NOW + timedelta(seconds=30), step) == step + 1
    )


@pytest.mark.parametrize("typed", ["", None, "12345", "1234567", "abcdef", "12 34 5x"])
def test_malformed_totp_codes_are_refused(typed):
    assert rules.totp_accepted_step(SECRET, typed, NOW, None) is None


def test_the_otpauth_uri_names_the_issuer_and_user_with_sha1_6_digits_30_s():
    uri = rules.otpauth_uri(SECRET, "maria")
    parsed = pyotp.parse_uri(uri)
    assert parsed.secret == SECRET and parsed.digits == 6 and parsed.interval == 30
    assert "maria" in uri and "issuer=" in uri


# E-mail and recovery codes ------------------------------------------------------------------


def test_email_codes_are_six_digits_and_recovery_codes_ten_unambiguous_characters():
    assert re.fullmatch(r"\d{6}", rules.new_email_code())
    codes = rules.new_recovery_codes()
    assert len(codes) == 10 and len(set(codes)) == 10
    for code in codes:
        assert re.fullmatch(r"[A-Z2-9]{10}", code)
        assert not set(code) & set("01OIL")


def test_a_typed_recovery_code_ignores_case_and_separators():
    assert rules.normalize_recovery_code(" abcd-efgh jk ") == "ABCDEFGHJK"


def test_the_code_digest_is_keyed():
    digest = rules.code_digest(KEY, "email", "123456")
    assert "123456" not in digest and len(digest) == 64
    assert digest != rules.code_digest(b"o" * 32, "email", "123456")
    assert digest != rules.code_digest(KEY, "recovery", "123456")
    assert rules.digests_equal(digest, rules.code_digest(KEY, "email", "123456"))
    assert not rules.digests_equal(digest, None)


def test_an_email_code_lives_five_minutes_and_is_good_once():
    expires = rules.email_code_expiry(NOW)
    assert expires - NOW == timedelta(minutes=5)
    assert rules.email_code_usable(expires, None, None, NOW + timedelta(minutes=4, seconds=59))
    assert not rules.email_code_usable(expires, None, None, expires)
    assert not rules.email_code_usable(expires, NOW, None, NOW)  # used
    assert not rules.email_code_usable(expires, None, NOW, NOW)  # replaced by a resend


def test_at_most_five_codes_per_member_in_fifteen_minutes():
    sent = [NOW - timedelta(minutes=m) for m in (14, 10, 6, 3)]
    assert rules.email_code_retry_after(sent, NOW) is None
    sent.append(NOW)
    # the sixth waits until the oldest of the five leaves the window (1 minute from now)
    assert rules.email_code_retry_after(sent, NOW) == 60
    assert rules.email_code_retry_after(sent, NOW + timedelta(minutes=1)) is None


# Challenges and the lock --------------------------------------------------------------------


def test_a_challenge_ends_at_its_fifth_wrong_code():
    lefts = [rules.after_wrong_code(n, [NOW] * n, NOW) for n in range(1, 6)]
    assert [w.attempts_left for w in lefts] == [4, 3, 2, 1, 0]
    assert [w.challenge_ended for w in lefts] == [False] * 4 + [True]
    assert not any(w.lock_factor for w in lefts)


def test_ten_wrong_codes_within_24_hours_lock_the_factor():
    earlier = [NOW - timedelta(hours=23, minutes=59)] * 5  # a first challenge, ended
    second = [NOW - timedelta(minutes=m) for m in range(4)]
    assert not rules.after_wrong_code(4, earlier + second, NOW).lock_factor
    assert rules.after_wrong_code(5, [*earlier, *second, NOW], NOW).lock_factor
    # a day later the old ones no longer count
    old = [NOW - timedelta(hours=24)] * 5
    assert not rules.after_wrong_code(5, [*old, *second, NOW], NOW).lock_factor


def test_a_challenge_is_open_ten_minutes_until_used_or_ended():
    expires = rules.challenge_expiry(NOW)
    assert expires - NOW == timedelta(minutes=10)
    assert rules.challenge_open(expires, None, None, NOW + timedelta(minutes=9))
    assert not rules.challenge_open(expires, None, None, expires)
    assert not rules.challenge_open(expires, NOW, None, NOW)
    assert not rules.challenge_open(expires, None, NOW, NOW)


def test_methods_follow_the_enrolment():
    assert rules.methods_for(False) == ["email_code"]
    assert rules.methods_for(True) == ["totp", "recovery_code"]


# Devices, addresses, the 48 hours -----------------------------------------------------------


def test_a_device_lives_thirty_days_from_its_creation():
    expires = rules.device_expiry(NOW)
    assert expires - NOW == timedelta(days=30)
    assert rules.device_usable(expires, None, expires - timedelta(seconds=1))
    assert not rules.device_usable(expires, None, expires)
    assert not rules.device_usable(expires, NOW, NOW)  # forgotten
    token = rules.new_device_token()
    assert len(token) >= 22 and token != rules.new_device_token()  # ≥ 128 bits


def test_an_address_is_new_without_a_successful_login_from_it_in_30_days():
    seen = [("192.0.2.1", NOW - timedelta(days=29)), ("192.0.2.2", NOW - timedelta(days=31))]
    assert not rules.address_is_new("192.0.2.1", seen, NOW)
    assert rules.address_is_new("192.0.2.2", seen, NOW)
    assert rules.address_is_new("192.0.2.3", seen, NOW)
    assert rules.address_is_new("192.0.2.1", [], NOW)  # the first login after registering


def test_nothing_to_others_for_48_hours_after_a_change():
    assert rules.restricted_until([None]) is None
    changed = NOW - timedelta(hours=1)
    assert rules.restricted_until([changed, None]) == changed + timedelta(hours=48)


@pytest.mark.parametrize(
    ("agent", "label"),
    [
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.0.0 Mobile Safari/537.36",
            "Chrome Mobile en Android",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
            "Mobile Safari en iOS",
        ),
        ("", "Dispositivo desconocido"),
        (None, "Dispositivo desconocido"),
    ],
)
def test_a_device_label_reads_like_a_person_would_say_it(agent, label):
    assert rules.device_label(agent) == label
