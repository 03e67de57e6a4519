"""`python -m scripts.portal setup` for a real deployment: DEMO=off migrates every database and
loads no demo cooperative (the core's bulk load fills them later)."""

import os
import subprocess
import sys

import sqlalchemy as sa

from services.common.config import PROJECT_ROOT

# what the demo cooperative fills (its members, their accounts, loans, deposits, portal users)
DEMO_TABLES = {
    "accounts": ("members", "savings_accounts", "movements"),
    "credit": ("loans", "installments", "guarantors", "applications"),
    "deposit": ("term_deposits",),
    "auth": ("users",),
}


def test_setup_with_demo_off_creates_empty_databases(rabbit_config, tmp_path):
    var = tmp_path / "var"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.endswith("_DATABASE_URL") and key not in ("DEMO", "PORTAL_VAR_DIR")
    }
    env.update(DEMO="off", PORTAL_VAR_DIR=str(var), AMQP_URI=rabbit_config["AMQP_URI"])

    result = subprocess.run(
        [sys.executable, "-m", "scripts.portal", "setup"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert "DEMO=off: no demo data loaded" in result.stdout
    assert not (var / "demo-core").exists()
    for service, tables in DEMO_TABLES.items():
        engine = sa.create_engine(f"sqlite:///{var / (service + '.db')}")
        with engine.connect() as conn:
            for table in tables:  # migrated (the table exists) and empty
                assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() == 0, table
        engine.dispose()
