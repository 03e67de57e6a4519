"""Every service's alembic history: it builds its schema, matches its models, keeps data."""

import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select

from services.common.config import DB_SERVICES, PROJECT_ROOT
from services.common.db import engine_for
from services.common.migrate import current_revision, upgrade

# also run on PostgreSQL (-m pg --db-backend postgres):
# each history must build the same schema on both
pytestmark = pytest.mark.pg

MIGRATED = [
    s for s in DB_SERVICES if (PROJECT_ROOT / "services" / s / "migrations" / "env.py").exists()
]


@pytest.mark.parametrize("service", MIGRATED)
def test_history_builds_exactly_the_models(service, make_db):
    url = make_db(service, migrate=False)
    upgrade(service, url)  # the history itself, not the suite's migrated template
    metadata = importlib.import_module(f"services.{service}.models").Base.metadata
    with engine_for(url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == [], f"{service}: models and migrations disagree: {diff}"
    assert current_revision(service, url) is not None


def test_accounts_upgrade_keeps_the_data_of_the_previous_release(make_db, today):
    from services.accounts import demo
    from services.accounts.models import Movement

    url = make_db("accounts", migrate=False)
    upgrade("accounts", url, revision="635623f69b23")  # the first release's schema
    demo.load(url, today, count=3)
    with engine_for(url).connect() as conn:
        before = conn.execute(select(Movement.id, Movement.balance).order_by(Movement.id)).all()
    upgrade("accounts", url)
    with engine_for(url).connect() as conn:
        after = conn.execute(select(Movement.id, Movement.balance).order_by(Movement.id)).all()
        indexes = {ix["name"] for ix in inspect(conn).get_indexes("movements")}
    assert after == before and len(after) > 500
    assert "ix_movements_account_reference" in indexes
