"""Argon2id hashing of passwords and temporary codes, off the event loop.

argon2 is deliberately slow (tens of milliseconds of CPU); run in eventlet's thread pool it does not
stall the other requests the service is answering. Cost parameters come from the environment
(ARGON2_TIME_COST, ARGON2_MEMORY_KIB, ARGON2_PARALLELISM) with argon2-cffi's defaults (RFC 9106
low-memory profile).
"""

from argon2 import PasswordHasher, Type
from argon2 import profiles as _profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from services.common.config import env_int

_default = _profiles.RFC_9106_LOW_MEMORY

hasher = PasswordHasher(
    time_cost=env_int("ARGON2_TIME_COST", _default.time_cost),
    memory_cost=env_int("ARGON2_MEMORY_KIB", _default.memory_cost),
    parallelism=env_int("ARGON2_PARALLELISM", _default.parallelism),
    hash_len=_default.hash_len,
    salt_len=_default.salt_len,
    type=Type.ID,
)

# verified against when the user does not exist, so both answers take the same time
_DUMMY_HASH = None


def _pool(fn, *args):
    try:
        import eventlet.patcher
        from eventlet import tpool

        if eventlet.patcher.is_monkey_patched("thread"):
            return tpool.execute(fn, *args)
    except ImportError:  # pragma: no cover  eventlet is always installed with nameko
        pass
    return fn(*args)


def hash_secret(secret):
    return _pool(hasher.hash, secret)


def hash_now(secret):
    """Without the thread pool (demo loader, scripts)."""
    return hasher.hash(secret)


def _verify(stored, secret):
    try:
        return hasher.verify(stored, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def verify(stored, secret):
    """True when `secret` matches `stored`; a missing hash costs the same time and is False."""
    global _DUMMY_HASH
    if not stored:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hasher.hash("portal-en-linea-dummy")
        _pool(_verify, _DUMMY_HASH, secret)
        return False
    return bool(_pool(_verify, stored, secret))
