"""Shared body of every service's migrations/env.py."""

from alembic import context
from sqlalchemy import Connection, MetaData

from services.common.db import engine_for


def run(target_metadata: MetaData) -> None:
    cfg = context.config
    connection = cfg.attributes.get("connection")
    if connection is None:
        url = cfg.get_main_option("sqlalchemy.url")
        if url is None:  # migrate.alembic_config always sets it
            raise RuntimeError("alembic: no sqlalchemy.url to migrate")
        with engine_for(url).begin() as connection:
            _run(connection, target_metadata)
    else:
        _run(connection, target_metadata)


def _run(connection: Connection, target_metadata: MetaData) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs batch ALTERs
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
