"""The Argon2id parameters of auth's password hashes and the rule that upgrades older hashes
(services/auth/passwords.py, docs/identity.md "Password hashes")."""

import argon2
import pytest

from services.auth import passwords


@pytest.mark.parametrize(
    ("memory_kib", "time_cost", "enough"),
    [
        (19456, 2, True),  # OWASP's m=19 MiB, t=2
        (47104, 1, True),  # its equal: 46 MiB, one pass
        (7168, 5, True),
        (65536, 3, True),  # RFC 9106's low-memory profile (the hashes before December 2026)
        (19455, 2, False),
        (19456, 1, False),
        (8, 1, False),  # the tests' cheap setting
    ],
)
def test_owasp_minimum(memory_kib, time_cost, enough):
    assert passwords.meets_owasp_minimum(memory_kib, time_cost) is enough


def test_the_default_parameters_are_at_least_owasps_minimum(monkeypatch):
    for name in ("ARGON2_TIME_COST", "ARGON2_MEMORY_KIB", "ARGON2_PARALLELISM"):
        monkeypatch.delenv(name, raising=False)
    made = argon2.extract_parameters(passwords.make_hasher().hash("Socia-2026!"))
    assert made.type is argon2.Type.ID
    assert (made.memory_cost, made.time_cost, made.parallelism) == (19456, 2, 1)
    assert passwords.meets_owasp_minimum(made.memory_cost, made.time_cost)


def test_a_hash_with_other_parameters_is_replaced_only_when_the_password_matches():
    old = argon2.PasswordHasher.from_parameters(passwords.LEGACY).hash("Socia-2026!")

    assert passwords.check_now(old, "no-es-la-clave") == (False, None)
    ok, fresh = passwords.check_now(old, "Socia-2026!")
    assert ok is True
    assert argon2.extract_parameters(fresh) == argon2.extract_parameters(passwords.hash_now("x"))
    assert passwords.check_now(fresh, "Socia-2026!") == (True, None)  # current: kept as it is
    assert passwords.check_now(None, "Socia-2026!") == (False, None)  # no user: the dummy hash
