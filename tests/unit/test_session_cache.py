from gateway import sessions
from gateway.sessions import SessionCache


class Clock:
    """Stands in for the time module in gateway.sessions: monotonic() moves only when told."""

    now = 1000.0

    @classmethod
    def monotonic(cls):
        return cls.now


def test_cached_answers_expire_and_can_be_forgotten_by_token_or_member(monkeypatch):
    monkeypatch.setattr(sessions, "time", Clock)
    cache = SessionCache(ttl=0.05)
    cache.put("tok-a", {"member_number": "100234"})
    cache.put("tok-b", {"member_number": "100234"})
    cache.put("tok-c", {"member_number": "100517"})
    assert cache.get("tok-a") == {"member_number": "100234"}
    cache.forget("tok-a")
    assert cache.get("tok-a") is None
    cache.forget_member("100234")
    assert cache.get("tok-b") is None and cache.get("tok-c") is not None
    Clock.now += 0.04
    assert cache.get("tok-c") is not None
    Clock.now += 0.02
    assert cache.get("tok-c") is None


def test_a_zero_ttl_disables_the_cache():
    cache = SessionCache(ttl=0)
    cache.put("tok", {"member_number": "1"})
    assert cache.get("tok") is None
