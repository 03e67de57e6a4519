"""Shared body of every service's migrations/env.py."""

from alembic import context

from services.common.db import engine_for


def run(target_metadata):
    cfg = context.config
    connection = cfg.attributes.get("connection")
    if connection is None:
        with engine_for(cfg.get_main_option("sqlalchemy.url")).begin() as connection:
            _run(connection, target_metadata)
    else:
        _run(connection, target_metadata)


def _run(connection, target_metadata):
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs batch ALTERs
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
