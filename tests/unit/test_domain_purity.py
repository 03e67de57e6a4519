"""Every services/*/domain.py is pure (docs/architecture.md): importing it loads no transport
(nameko, eventlet, kombu, amqp) and no database code, directly or through what it imports."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAINS = sorted(p.parent.name for p in ROOT.glob("services/*/domain.py"))
IMPURE = ("nameko", "eventlet", "kombu", "amqp", "sqlalchemy", "psycopg2", "alembic")

# a fresh interpreter: in this one, other tests have imported those libraries already
PROBE = """
import importlib, sys
importlib.import_module(sys.argv[1])
print(" ".join(sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[2:]))))
"""


def test_every_service_has_a_domain_module():
    assert len(DOMAINS) >= 7


@pytest.mark.parametrize("service", DOMAINS)
def test_a_domain_module_imports_no_transport_nor_database(service):
    loaded = subprocess.run(
        [sys.executable, "-c", PROBE, f"services.{service}.domain", *IMPURE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert loaded == [], f"services/{service}/domain.py loads {loaded}"
