"""auth's knobs: read on every use from the container config, else the environment
(docs/identity.md, docs/operations.md). Apart from the use cases so that both halves of them
(usecases.py and second_factor.py) read the same settings without importing each other."""

from services.auth import domain
from services.common.config import ServiceSettings


class Settings(ServiceSettings):
    """The service's knobs (services/common/config.py, ServiceSettings)."""

    @property
    def idle_minutes(self) -> float:
        return self.number("AUTH_IDLE_MINUTES", domain.IDLE_MINUTES)

    @property
    def absolute_hours(self) -> float:
        return self.number("AUTH_ABSOLUTE_HOURS", domain.ABSOLUTE_HOURS)

    @property
    def max_failures(self) -> int:
        return int(self.get("AUTH_MAX_FAILURES", domain.MAX_FAILURES))

    @property
    def lock_minutes(self) -> float:
        return self.number("AUTH_LOCK_MINUTES", domain.LOCK_MINUTES)

    @property
    def address_limit(self) -> int:
        return int(self.get("AUTH_ADDRESS_FAILURE_LIMIT", domain.ADDRESS_FAILURE_LIMIT))

    @property
    def address_window(self) -> float:
        return self.number("AUTH_ADDRESS_WINDOW_MINUTES", domain.ADDRESS_WINDOW_MINUTES)
