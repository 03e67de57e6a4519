"""The cooperative's clock as a nameko dependency, apart from services/common/clock.py so that the
pure modules that read dates through clock.py (domain rules, formats) do not import nameko."""

from nameko.extensions import DependencyProvider

from services.common.clock import CLOCK, Clock


class ClockProvider(DependencyProvider):
    """`clock = ClockProvider()` in a service: `self.clock.today()`, `self.clock.utcnow()`."""

    def get_dependency(self, worker_ctx: object) -> Clock:
        return CLOCK
