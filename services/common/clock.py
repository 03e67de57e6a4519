"""The cooperative's clock: the one source of "now" and "today" for every service and the gateway.

The business day is Ecuador's (America/Guayaquil, UTC−5 all year): every "today" of a rule
(start dates not in the past, vencida/pendiente, accrued interest, statement limits, default
dates) and every date or time a member reads (pages, PDFs, e-mails) comes from here. Instants are
stored and sent as UTC (docs/domain.md, "Time").

Services declare `clock = ClockProvider()` (services/common/clock_provider.py: this module stays
pure) and ask `self.clock.today()`; pure domain code takes `today`/`now` as arguments. Tests move
time in-process with `CLOCK.travel(...)` / `CLOCK.advance(...)` (every container of a test shares
the process, so the gateway and the services agree); processes started by a test are set from
outside (libfaketime). Nothing in the production configuration changes the clock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("America/Guayaquil")


class Clock:
    """Real time plus an offset that tests may set; time keeps running while shifted."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The current instant, aware, in UTC."""
        return datetime.now(UTC) + self._offset

    def utcnow(self) -> datetime:
        """The current instant as a naive UTC datetime (how the databases store instants)."""
        return self.now().replace(tzinfo=None)

    def local_now(self) -> datetime:
        """The current instant in Ecuador (aware)."""
        return self.now().astimezone(ZONE)

    def today(self) -> date:
        """The cooperative's business day: the date in Ecuador, not the machine's or UTC's."""
        return self.local_now().date()

    # --- for tests -------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += timedelta(seconds=seconds)

    def set(self, moment: datetime) -> None:
        """Make `moment` (aware; naive means Ecuador time) the current instant."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZONE)
        with self._lock:
            self._offset = moment - datetime.now(UTC)

    def reset(self) -> None:
        with self._lock:
            self._offset = timedelta(0)

    @contextmanager
    def travel(self, moment: datetime) -> Iterator[Clock]:
        previous = self._offset
        self.set(moment)
        try:
            yield self
        finally:
            with self._lock:
                self._offset = previous


CLOCK = Clock()


def now() -> datetime:
    return CLOCK.now()


def utcnow() -> datetime:
    return CLOCK.utcnow()


def local_now() -> datetime:
    return CLOCK.local_now()


def today() -> date:
    return CLOCK.today()


def to_local(moment: datetime) -> datetime:
    """An instant (aware, or naive UTC as stored) in Ecuador time, for showing to a member."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZONE)


def latest_start(day: date) -> date:
    """The furthest start date a rule accepts: one year after `day` (docs/domain.md, "Time");
    29 February moves to the 28th."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def start_date_error(start: date | None, today: date) -> str | None:
    """The Spanish reason a start date is refused (in the past, or over a year ahead), or None."""
    if start is None:
        return None
    if start < today:
        return "La fecha de inicio no puede estar en el pasado."
    limit = latest_start(today)
    if start > limit:
        return (
            "La fecha de inicio puede estar como máximo un año adelante "
            f"(hasta el {limit.strftime('%d/%m/%Y')})."
        )
    return None
