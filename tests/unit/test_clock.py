"""The cooperative's clock: Ecuador's day, not UTC's (docs/domain.md, "Time")."""

from datetime import UTC, date, datetime

from services.common.clock import CLOCK, to_local


def test_at_21h_in_ecuador_on_a_months_last_day_today_is_still_that_day():
    with CLOCK.travel(datetime(2026, 11, 30, 21, 0)):  # naive = Ecuador time
        assert CLOCK.today() == date(2026, 11, 30)
        assert CLOCK.now().astimezone(UTC).date() == date(2026, 12, 1)  # UTC has moved on
        assert CLOCK.local_now().strftime("%H:%M") == "21:00"


def test_a_stored_utc_instant_is_shown_in_ecuador_time():
    assert to_local(datetime(2026, 12, 1, 1, 33)).strftime("%d/%m/%Y %H:%M") == "30/11/2026 20:33"


def test_travel_ends_with_the_block():
    with CLOCK.travel(datetime(2030, 1, 1, 12, 0)):
        assert CLOCK.today() == date(2030, 1, 1)
    assert CLOCK.today().year < 2030
