"""Argon2id hashing of passwords and temporary codes, off the service's process.

Cost: OWASP's password-storage setting m=19 MiB, t=2, p=1 (docs/identity.md, "Password hashes":
why, and its measured cost). ARGON2_TIME_COST, ARGON2_MEMORY_KIB and ARGON2_PARALLELISM override
it (tests make it cheap); a setting below OWASP's minimum is logged as a warning. A hash made
with other parameters (those before December 2026: RFC 9106's low-memory profile) is replaced
at the member's next successful login (argon2-cffi's `check_needs_rehash`).

Where it runs: a pool of `AUTH_HASH_WORKERS` child processes per auth process, at a lower
priority (`AUTH_HASH_NICE`), so the hashing of a crowd of logins cannot take the cores from the
gateway and the services that draw pages. A hash waits at most `AUTH_HASH_WAIT` seconds for a
free worker, with at most `AUTH_HASH_QUEUE` waiting; past that the login is refused with
`service_unavailable` and a `retry_after` (docs/operations.md). With `AUTH_HASH_WORKERS=0` it runs
in eventlet's thread pool inside the service (tests, scripts). The dummy hash against which an
unknown user's password is checked runs on the same path, so both answers cost the same.
"""

import logging
import os

from argon2 import PasswordHasher, Type
from argon2 import profiles as _profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from nameko.extensions import DependencyProvider

from services.common.config import env, env_int
from services.common.errors import ServiceUnavailable
from services.common.procpool import PoolBusy, PoolError, ProcessPool

log = logging.getLogger("services.auth.passwords")

# OWASP Password Storage Cheat Sheet: Argon2id, one lane, any of these (memory KiB, passes)
# settings is the minimum; they cost about the same CPU
OWASP_MINIMUM = ((47104, 1), (19456, 2), (12288, 3), (9216, 4), (7168, 5))
TIME_COST = 2
MEMORY_KIB = 19456
PARALLELISM = 1
# the parameters of hashes made before December 2026, upgraded at their next login
LEGACY = _profiles.RFC_9106_LOW_MEMORY

BUSY_MESSAGE = (
    "Hay muchos ingresos en este momento y el suyo no pudo atenderse a tiempo. "
    "Espere unos segundos e intente nuevamente."
)


def meets_owasp_minimum(memory_kib, time_cost):
    """Whether an Argon2id setting is at least one of OWASP's minimum settings."""
    return any(memory_kib >= m and time_cost >= t for m, t in OWASP_MINIMUM)


def make_hasher():
    time_cost = env_int("ARGON2_TIME_COST", TIME_COST)
    memory_kib = env_int("ARGON2_MEMORY_KIB", MEMORY_KIB)
    if not meets_owasp_minimum(memory_kib, time_cost):
        log.warning("Argon2id m=%s KiB t=%s is below OWASP's minimum", memory_kib, time_cost)
    return PasswordHasher(
        time_cost=time_cost,
        memory_cost=memory_kib,
        parallelism=env_int("ARGON2_PARALLELISM", PARALLELISM),
        hash_len=LEGACY.hash_len,
        salt_len=LEGACY.salt_len,
        type=Type.ID,
    )


hasher = make_hasher()

# verified against when the user does not exist, so both answers take the same time
_DUMMY_HASH = None


def _dummy_hash():
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hasher.hash("portal-en-linea-dummy")
    return _DUMMY_HASH


def _verify(stored, secret):
    try:
        return hasher.verify(stored, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_now(stored, secret, rehash=True):
    """(matches, new hash or None), here and now: the new hash when `stored` matches but was
    made with other parameters. A missing `stored` is checked against the dummy hash."""
    if not stored:
        _verify(_dummy_hash(), secret)
        return False, None
    if not _verify(stored, secret):
        return False, None
    if rehash and hasher.check_needs_rehash(stored):
        return True, hasher.hash(secret)
    return True, None


def hash_now(secret):
    """Here and now (demo loader, scripts, the hashing workers)."""
    return hasher.hash(secret)


# The pool of this process's auth container (HashingWorkers), None when hashing runs inline.
_active = None


def _inline(fn, *args):
    try:
        import eventlet.patcher
        from eventlet import tpool

        if eventlet.patcher.is_monkey_patched("thread"):
            return tpool.execute(fn, *args)
    except ImportError:  # pragma: no cover  eventlet is always installed with nameko
        pass
    return fn(*args)


def _in_pool(request):
    pool = _active
    assert pool is not None  # only called with the worker processes running
    try:
        return pool.call(request)
    except PoolBusy:
        raise ServiceUnavailable(BUSY_MESSAGE, retry_after=pool.retry_after) from None
    except PoolError as exc:
        log.error("a hashing worker failed: %s", exc)
        raise ServiceUnavailable(BUSY_MESSAGE, retry_after=pool.retry_after) from None


def hash_secret(secret):
    if _active is None:
        return _inline(hasher.hash, secret)
    return _in_pool({"op": "hash", "secret": secret})


def check(stored, secret):
    """(matches, new hash to store or None): the login's check, with the upgrade of a hash made
    with other parameters (computed only when the secret matches)."""
    if _active is None:
        return _inline(check_now, stored, secret)
    ok, fresh = _in_pool({"op": "check", "stored": stored, "secret": secret})
    return bool(ok), fresh


def verify(stored, secret):
    """True when `secret` matches `stored`; a missing hash costs the same time and is False."""
    if _active is None:
        return _inline(check_now, stored, secret, False)[0]
    ok, _fresh = _in_pool({"op": "check", "stored": stored, "secret": secret, "rehash": False})
    return bool(ok)


def _setting(config, name, default):
    value = config.get(name)
    if value in (None, ""):
        value = env(name)
    return default if value in (None, "") else value


class HashingPool(ProcessPool):
    def __init__(self, size, wait, queue, retry_after, nice):
        super().__init__(
            "services.auth.hashing_worker",
            size,
            wait,
            max_waiting=queue,
            env={"AUTH_HASH_NICE": str(nice)},
        )
        self.retry_after = retry_after


class HashingWorkers(DependencyProvider):
    """auth's hashing processes: they start with the container and stop with it."""

    def setup(self):
        config = self.container.config
        self.size = int(_setting(config, "AUTH_HASH_WORKERS", min(2, os.cpu_count() or 1)))
        self.pool = None
        if self.size > 0:
            self.pool = HashingPool(
                self.size,
                wait=float(_setting(config, "AUTH_HASH_WAIT", 2.0)),
                queue=int(_setting(config, "AUTH_HASH_QUEUE", 12)),
                retry_after=int(_setting(config, "AUTH_HASH_RETRY_AFTER", 5)),
                nice=int(_setting(config, "AUTH_HASH_NICE", 10)),
            )

    def start(self):
        global _active
        if self.pool is not None:
            self.pool.start()
            _active = self.pool

    def _detach(self):
        global _active
        if _active is self.pool:
            _active = None

    def stop(self):
        self._detach()
        if self.pool is not None:
            self.pool.close()

    def kill(self):
        self._detach()
        if self.pool is not None:
            self.pool.kill()

    def get_dependency(self, worker_ctx):
        return self.pool
