"""Configuration from environment variables, with defaults for the embedded setup.

Every knob of the portal is read here so a reader finds them in one place (the README's
configuration table mirrors this file).
"""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, overload

from services.common.amqp import ssl_options, with_credentials
from services.common.files import private_dir

T = TypeVar("T")

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def var_dir() -> Path:
    """Where the embedded default keeps its files (SQLite databases, mail, caches)."""
    return Path(os.environ.get("PORTAL_VAR_DIR") or PROJECT_ROOT / "var")


SERVICES = (
    "auth",
    "accounts",
    "credit",
    "deposit",
    "payments",
    "reports",
    "notifications",
    "audit",
)
DB_SERVICES = ("auth", "accounts", "credit", "deposit", "payments", "notifications", "audit")

DEFAULT_AMQP_URI = "amqp://guest:guest@localhost:5672/"


@overload
def env(name: str) -> str | None: ...
@overload
def env(name: str, default: T) -> str | T: ...
def env(name: str, default: object = None) -> object:
    value = os.environ.get(name)
    return default if value in (None, "") else value


class ServiceSettings:
    """A service's knobs, read on every use from its container config, else the environment (so
    a test's config or an operator's variable both reach it). Each service subclasses it with
    one property per knob."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    def get(self, name: str, default: Any) -> Any:
        value = self.config.get(name)
        if value in (None, ""):
            value = env(name)
        return default if value in (None, "") else value

    def number(self, name: str, default: Any) -> float:
        return float(self.get(name, default))


def env_int(name: str, default: int) -> int:
    return int(env(name, default))


def env_float(name: str, default: float) -> float:
    return float(env(name, default))


def env_bool(name: str, default: bool) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on", "si", "sí")


def amqp_uri() -> str:
    return env("AMQP_URI", DEFAULT_AMQP_URI)


def service_amqp_uri(service: str | None) -> str:
    """The URI process `service` connects with: AMQP_URI's nodes and vhost as its own broker
    user `portal-<service>` when `<SERVICE>_AMQP_PASSWORD` is set (docker-compose, Kubernetes),
    else AMQP_URI as given (`make run` gives each process its own AMQP_URI)."""
    secret = env(f"{service.upper()}_AMQP_PASSWORD") if service else None
    if not service or not secret:
        return amqp_uri()
    return with_credentials(amqp_uri(), f"portal-{service}", secret)


def amqp_ssl() -> dict[str, Any] | None:
    return ssl_options(amqp_uri())


def core_amqp_user() -> str:
    """The core's own broker user: the only sender the portal believes on `core.events`."""
    return env("CORE_AMQP_USER", "core")


def core_amqp_password() -> str | None:
    """CORE_AMQP_PASSWORD, else the one `make run` made in var/core_amqp_password (None when
    neither exists)."""
    value = env("CORE_AMQP_PASSWORD")
    if value:
        return value
    path = var_dir() / "core_amqp_password"
    return path.read_text().strip() if path.exists() else None


def core_amqp_uri(base: str | None = None) -> str:
    """Where the core (the demo core, the simulator) publishes: CORE_AMQP_URI, else `base`
    (AMQP_URI) with the core's user and password."""
    explicit = env("CORE_AMQP_URI")
    if explicit:
        return explicit
    from services.common.amqp import with_credentials

    return with_credentials(base or amqp_uri(), core_amqp_user(), core_amqp_password() or "")


def database_url(service: str) -> str:
    """`<SERVICE>_DATABASE_URL`, else one SQLite file per service under var/."""
    url = env(f"{service.upper()}_DATABASE_URL")
    if url:
        return url
    directory = private_dir(var_dir())
    return f"sqlite:///{directory / (service + '.db')}"


def rpc_timeout() -> float:
    """Deadline (seconds) of every RPC between services."""
    return env_float("RPC_TIMEOUT", 5.0)


# nameko workers (calls handled at once) per process: MAX_WORKERS, else 10; `<SERVICE>_MAX_WORKERS`
# sets one service's. auth's default is larger: a login waiting for a hashing worker holds one of
# auth's workers (AUTH_HASH_WORKERS 2 + AUTH_HASH_QUEUE 12 at most), and ten are kept for the
# session checks every page needs (docs/operations.md, "Logins queue")
DEFAULT_MAX_WORKERS = 10
SERVICE_MAX_WORKERS = {"auth": 24}


def max_workers(service: str | None) -> int:
    default = env_int("MAX_WORKERS", DEFAULT_MAX_WORKERS)
    if not service:
        return default
    return env_int(
        f"{service.upper()}_MAX_WORKERS", max(default, SERVICE_MAX_WORKERS.get(service, 0))
    )


def nameko_config(service: str | None = None) -> dict[str, Any]:
    """The dict nameko containers are started with."""
    config: dict[str, Any] = {
        "AMQP_URI": service_amqp_uri(service),
        # TLS options of an amqps:// AMQP_URI (nameko's key; None for amqp://)
        "AMQP_SSL": amqp_ssl(),
        "WEB_SERVER_ADDRESS": env("GATEWAY_ADDRESS", "127.0.0.1:8000"),
        "serializer": "json",
        "max_workers": max_workers(service),
        "PREFETCH_COUNT": env_int("PREFETCH_COUNT", 10),
        "HEARTBEAT": env_int("AMQP_HEARTBEAT", 30),
        "RPC_TIMEOUT": rpc_timeout(),
        "OUTBOX_AMQP_URI": env("OUTBOX_AMQP_URI"),
        # quorum (default) or classic: how durable queues are declared (services/common/amqp.py)
        "AMQP_QUEUE_TYPE": env("AMQP_QUEUE_TYPE", "quorum"),
        # waits (seconds, comma-separated) before retrying a core event (services/common/inbound/)
        "CORE_RETRY_DELAYS": env("CORE_RETRY_DELAYS"),
        "CORE_NOT_YET_DELAYS": env("CORE_NOT_YET_DELAYS"),
        "CORE_BATCH": env("CORE_BATCH"),  # core events per transaction (docs/integration.md)
        # the broker user the core publishes as; nothing else is believed (docs/integration.md)
        "CORE_AMQP_USER": core_amqp_user(),
        "LOGGING": logging_config(),
    }
    for name in DB_SERVICES:
        config[f"{name.upper()}_DATABASE_URL"] = database_url(name)
    return config


def logging_config() -> dict[str, Any]:
    level = env("LOG_LEVEL", "INFO")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "services.common.logs.JsonFormatter"}},
        "filters": {"expected": {"()": "services.common.logs.ExpectedErrors"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"level": level, "handlers": ["console"]},
        "loggers": {
            "nameko": {"level": "WARNING"},
            "nameko.containers": {"level": "WARNING", "filters": ["expected"]},
            "kombu": {"level": "WARNING"},
            "amqp": {"level": "WARNING"},
            "weasyprint": {"level": "ERROR"},
            "fontTools": {"level": "ERROR"},
        },
    }
