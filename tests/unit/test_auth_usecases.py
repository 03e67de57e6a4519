"""auth's use cases without a broker (the cosmicpython way): an in-memory unit of work, a
recording outbox, a set clock, and a stand-in notifications that keeps the codes it is asked to
send (docs/identity.md: the lock per user and address, the second factor at login)."""

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from services.auth import passwords, usecases
from services.auth.models import Base, User, UserSession
from services.auth.settings import Settings
from services.common.errors import Unauthenticated
from tests.unit.fakes import FakeOutbox, clock_at, memory_session

PASSWORD = "Socia-2026!"
NOW = datetime(2026, 11, 30, 21, 0)  # Ecuador: 21:00 on a month's last day
HOME, ELSEWHERE = "198.51.100.2", "203.0.113.7"


class _Sent:
    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value


class _Method:
    def __init__(self, outbox: list[dict[str, Any]]) -> None:
        self.outbox = outbox

    def call_async(self, **message: Any) -> _Sent:
        self.outbox.append(message)
        return _Sent({"sent": True})


class StandInNotifications:
    """notifications as auth asks it: each code it is asked to send, kept for the test."""

    def __init__(self) -> None:
        self.codes: list[dict[str, Any]] = []
        self.send_second_factor_code = _Method(self.codes)
        self.send_recovery_code = _Method(self.codes)


@pytest.fixture
def auth():
    with memory_session(Base.metadata) as db:
        db.add(
            User(
                username="maria",
                member_number="100234",
                display_name="María Pérez",
                email="maria.perez@example.com",
                password_hash=passwords.hash_now(PASSWORD),
                created_at=NOW,
            )
        )
        db.commit()
        events, notifications = FakeOutbox(), StandInNotifications()
        yield (
            usecases.AuthUseCases(
                db,
                events,
                None,
                notifications,
                Settings({}),
                clock_at(NOW),  # type: ignore[arg-type]
            ),
            db,
            events,
            notifications,
        )


def sessions(db) -> int:
    return db.scalar(select(func.count()).select_from(UserSession))


def test_five_failures_lock_that_address_only_and_elsewhere_the_password_asks_for_a_code(auth):
    use, db, events, notifications = auth
    for attempt in range(5):
        with pytest.raises(Unauthenticated):
            use.login("maria", f"Equivocada-{attempt}", client_ip=ELSEWHERE)
    assert len(events.of("account_locked")) == 1
    assert events.of("account_locked")[0]["client_ip"] == ELSEWHERE
    # the right password from the locked address: refused like a wrong one, nothing opened
    with pytest.raises(Unauthenticated):
        use.login("maria", PASSWORD, client_ip=ELSEWHERE)
    assert sessions(db) == 0 and notifications.codes == []
    # from her own address: the password is right, and a new device still needs the code
    answer = use.login("maria", PASSWORD, client_ip=HOME)
    assert answer["second_factor_required"] is True and answer["methods"] == ["email_code"]
    assert sessions(db) == 0
    [sent] = notifications.codes
    assert sent["email"] == "maria.perez@example.com" and sent["purpose"] == "login"
    assert len(sent["code"]) == 6 and sent["code"].isdigit()


def test_an_inactive_member_is_told_so_only_after_the_right_password(auth):
    use, db, events, notifications = auth
    db.scalar(select(User).where(User.username == "maria")).status = "inactivo"
    db.commit()
    with pytest.raises(Unauthenticated) as wrong:
        use.login("maria", "Equivocada-1", client_ip=HOME)
    assert "inactiv" not in str(wrong.value).lower()  # a wrong password learns nothing
    with pytest.raises(Unauthenticated) as right:
        use.login("maria", PASSWORD, client_ip=HOME)
    assert right.value.extra.get("reason") == "inactive"
    assert [e["reason"] for e in events.of("login_failed")] == ["bad_password", "inactive"]
    assert sessions(db) == 0 and notifications.codes == []
