"""Each service's schema is created and upgraded by its own alembic history."""

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from services.common import config
from services.common.db import engine_for


def alembic_config(service: str, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option(
        "script_location", str(config.PROJECT_ROOT / "services" / service / "migrations")
    )
    cfg.set_main_option("sqlalchemy.url", (url or config.database_url(service)).replace("%", "%%"))
    cfg.attributes["service"] = service
    return cfg


def upgrade(service: str, url: str | None = None, revision: str = "head") -> None:
    url = url or config.database_url(service)
    cfg = alembic_config(service, url)
    with engine_for(url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(service: str, url: str | None = None) -> str | None:
    url = url or config.database_url(service)
    with engine_for(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_database(url: str) -> None:
    """Raise if the database does not answer (used to fail fast with one clear line)."""
    with engine_for(url).connect() as conn:
        conn.execute(text("SELECT 1"))
