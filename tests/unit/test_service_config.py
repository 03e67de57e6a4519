"""How many calls a service process handles at once (services/common/config.py)."""

from services.common.config import nameko_config


def test_auth_keeps_workers_for_session_checks_beside_its_waiting_logins(monkeypatch):
    monkeypatch.delenv("MAX_WORKERS", raising=False)
    monkeypatch.delenv("AUTH_MAX_WORKERS", raising=False)
    assert nameko_config("accounts")["max_workers"] == 10
    # 2 hashing + 12 waiting logins at most, and ten left for the pages' session checks
    assert nameko_config("auth")["max_workers"] == 24

    monkeypatch.setenv("MAX_WORKERS", "40")  # a larger node: no service gets fewer than that
    assert nameko_config("auth")["max_workers"] == 40
    assert nameko_config("gateway")["max_workers"] == 40
    monkeypatch.setenv("AUTH_MAX_WORKERS", "16")  # one service's own setting wins
    assert nameko_config("auth")["max_workers"] == 16
    assert nameko_config("credit")["max_workers"] == 40
