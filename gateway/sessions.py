"""A short-lived cache of session checks in each gateway instance.

Every member-scoped request needs the auth service's word on its token; asking for it on every
request doubles the latency of a page (an RPC before the real work). The answer is cached for
`SESSION_CACHE_SECONDS` (default 5 s, 0 disables), keyed by a hash of the token. Staleness is
bounded by that TTL and shortened by events: a logout or a password change here forgets the
token at once, and `auth.logged_out` / `auth.password_changed` (which name the member, never the
token) make every gateway instance forget that member's sessions.
"""

import hashlib
import time
from collections import OrderedDict

from services.common.config import env_float

MAX_ENTRIES = 10_000


class SessionCache:
    def __init__(self, ttl=None):
        self.ttl = env_float("SESSION_CACHE_SECONDS", 5.0) if ttl is None else ttl
        self._entries = OrderedDict()

    @staticmethod
    def _key(token):
        return hashlib.sha256(token.encode()).hexdigest()

    def get(self, token):
        if self.ttl <= 0:
            return None
        key = self._key(token)
        entry = self._entries.get(key)
        if entry is None:
            return None
        info, expires = entry
        if expires < time.monotonic():
            self._entries.pop(key, None)
            return None
        return info

    def put(self, token, info):
        if self.ttl <= 0:
            return
        self._entries[self._key(token)] = (info, time.monotonic() + self.ttl)
        self._entries.move_to_end(self._key(token))
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)

    def forget(self, token):
        self._entries.pop(self._key(token), None)

    def forget_member(self, member_number):
        for key, (info, _) in list(self._entries.items()):
            if info.get("member_number") == member_number:
                self._entries.pop(key, None)


cache = SessionCache()
