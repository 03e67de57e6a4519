"""Shared fixtures. Service tests run against the real RabbitMQ (nameko's pytest plugin gives each
test its own vhost) and real databases (SQLite files, or fresh PostgreSQL databases)."""

import eventlet

eventlet.monkey_patch()  # noqa: E402  before anything imports socket or threading

import os  # noqa: E402

# Argon2id at its cheapest in tests (and in the portal processes they start, which inherit this
# environment): tests check that secrets are hashed with Argon2id and verified, not the cost that
# production chooses, which would spend ~0.2 s of CPU per hash on every demo user and login.
# make bench runs with production's cost.
for _name, _value in (
    ("ARGON2_TIME_COST", "1"),
    ("ARGON2_MEMORY_KIB", "8"),
    ("ARGON2_PARALLELISM", "1"),
    # the core's broker user of the tests: its own name, so a developer's `make run` user `core`
    # on the same broker keeps its password; tests/service/core_tools.py gives it each vhost
    ("CORE_AMQP_USER", "portal-test-core"),
    ("CORE_AMQP_PASSWORD", "portal-test-core"),
):
    os.environ.setdefault(_name, _value)
import shutil  # noqa: E402
import sqlite3  # noqa: E402
import tempfile  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import requests  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from services.common import config  # noqa: E402
from services.common import db as common_db  # noqa: E402
from services.common.clock import CLOCK  # noqa: E402
from services.common.migrate import upgrade  # noqa: E402

PG_ADMIN_URL = os.environ.get(
    "TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)


def pytest_addoption(parser):
    parser.addoption(
        "--db-backend",
        default=os.environ.get("PORTAL_TEST_DB", "sqlite"),
        choices=["sqlite", "postgres"],
        help="database backend of the service tests (default sqlite)",
    )


@pytest.fixture(autouse=True)
def _isolated_var_dir(tmp_path, monkeypatch):
    # nothing a test does may touch the developer's var/ (mail, caches, databases)
    monkeypatch.setenv("PORTAL_VAR_DIR", str(tmp_path / "var"))


class DatabaseFactory:
    """Makes migrated, empty databases: SQLite files in tmp_path or fresh PostgreSQL databases.

    Each service's history is migrated once per test session into a template, and every test
    gets a copy of it (a file copy, or CREATE DATABASE ... TEMPLATE): the same schema alembic
    builds, without running alembic six times per test. tests/service/test_migrations.py runs
    the histories themselves."""

    templates = {}  # (backend, service) -> SQLite path or PostgreSQL database name

    def __init__(self, tmp_path, default_backend):
        self.tmp_path = tmp_path
        self.default_backend = default_backend
        self.pg_databases = []

    def __call__(self, service, backend=None, migrate=True):
        backend = backend or self.default_backend
        migrated = (
            migrate
            and (config.PROJECT_ROOT / "services" / service / "migrations" / "env.py").exists()
        )
        template = self._template(service, backend) if migrated else None
        if backend == "sqlite":
            path = self.tmp_path / f"{service}-{uuid.uuid4().hex[:6]}.db"
            if template:
                with sqlite3.connect(template) as source, sqlite3.connect(path) as target:
                    source.backup(target)
                source.close()
                target.close()
            return f"sqlite:///{path}"
        name = f"portal_test_{service}_{uuid.uuid4().hex[:10]}"
        _create_pg_database(name, template)
        self.pg_databases.append(name)
        return _pg_url(name)

    @classmethod
    def _template(cls, service, backend):
        key = (backend, service)
        if key not in cls.templates:
            if backend == "sqlite":
                path = Path(tempfile.mkdtemp(prefix="portal-templates-")) / f"{service}.db"
                url = f"sqlite:///{path}"
                cls.templates[key] = path
            else:
                name = f"portal_tpl_{service}_{uuid.uuid4().hex[:10]}"
                _create_pg_database(name)
                url = _pg_url(name)
                cls.templates[key] = name
            upgrade(service, url)
            common_db.engine_for(url).dispose()  # no connection may stay open on a template
        return cls.templates[key]

    @classmethod
    def drop_templates(cls):
        names = [name for (backend, _), name in cls.templates.items() if backend == "postgres"]
        for path in [p for (backend, _), p in cls.templates.items() if backend == "sqlite"]:
            shutil.rmtree(path.parent, ignore_errors=True)
        cls.templates.clear()
        _drop_pg_databases(names)

    def cleanup(self):
        common_db.dispose_all()
        _drop_pg_databases_later(self.pg_databases)


def _pg_url(name):
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _create_pg_database(name, template=None):
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        suffix = f' TEMPLATE "{template}"' if template else ""
        conn.execute(text(f'CREATE DATABASE "{name}"{suffix}'))
    admin.dispose()


# Every DROP DATABASE waits for a checkpoint of the whole server (seconds on a busy machine).
# Dropped one by one, seven databases per test cost more than the test; dropped together, the
# waits share one checkpoint.
_PENDING_DROPS = []
DROP_BATCH = 40


def _drop_pg_databases_later(names):
    _PENDING_DROPS.extend(names)
    if len(_PENDING_DROPS) >= DROP_BATCH:
        _drop_pg_databases(_PENDING_DROPS)
        _PENDING_DROPS.clear()


def _drop_pg_databases(names):
    if not names:
        return
    from psycogreen.eventlet import patch_psycopg

    patch_psycopg()  # the drops below wait side by side, each on its own connection
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)

    def drop(name):
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    list(eventlet.GreenPool(len(names)).imap(drop, list(names)))
    admin.dispose()


def pytest_sessionfinish(session):
    _drop_pg_databases(_PENDING_DROPS)
    _PENDING_DROPS.clear()
    DatabaseFactory.drop_templates()


@pytest.fixture
def make_db(tmp_path, request):
    factory = DatabaseFactory(tmp_path, request.config.getoption("--db-backend"))
    yield factory
    factory.cleanup()


@pytest.fixture
def today():
    """Ecuador's business day (the services' "today"), not the machine's."""
    return CLOCK.today()


@pytest.fixture(autouse=True)
def _real_time_after_each_test():
    """A test that moves the clock (CLOCK.travel/set/advance) leaves real time behind it."""
    yield
    CLOCK.reset()


@pytest.fixture
def service_config(rabbit_config, make_db, request):
    """nameko config on the test's own vhost, with a fresh database for every service.

    Its queues are classic unless the test is marked `quorum` (the portal's processes of the
    e2e and fault tests keep the production default, quorum): the suite creates and deletes a
    few hundred vhosts, and RabbitMQ 3.10 stops at-least-once dead-lettering on the whole node
    after two of its workers die within 5 s, which a quorum queue deleted as it starts can do
    (docs/operations.md, "Quorum dead-lettering stopped")."""
    cfg = dict(rabbit_config)
    cfg.update(
        {
            "AMQP_QUEUE_TYPE": "quorum" if request.node.get_closest_marker("quorum") else "classic",
            "serializer": "json",
            "RPC_TIMEOUT": 3.0,
            "max_workers": 10,
            # Argon2 inline (eventlet's thread pool) in in-process containers; the portal's
            # processes and the tests of the hashing pool use worker processes
            "AUTH_HASH_WORKERS": 0,
            "WEB_SERVER_ADDRESS": f"127.0.0.1:{_free_port()}",
            "CORE_AMQP_USER": config.core_amqp_user(),
        }
    )
    for service in config.DB_SERVICES:
        cfg[f"{service.upper()}_DATABASE_URL"] = make_db(service)
    return cfg


@pytest.fixture
def core_uri(service_config):
    """The test's vhost as the core's broker user, which exists with the core's permissions on it
    (docs/operations.md, "Broker users and permissions")."""
    from tests.service.core_tools import core_uri as as_core

    return as_core(service_config["AMQP_URI"])


def _free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gateway_url(service_config):
    return "http://" + service_config["WEB_SERVER_ADDRESS"]


@pytest.fixture
def http_session(gateway_url):
    """requests.Session whose relative URLs go to the gateway under test."""

    class GatewaySession(requests.Session):
        base_url = gateway_url

        def request(self, method, url, *args, **kwargs):
            kwargs.setdefault("timeout", 15)
            return super().request(method, gateway_url + url, *args, **kwargs)

    with GatewaySession() as session:
        yield session


@pytest.fixture
def rpc_proxy(service_config):
    """`rpc_proxy("accounts").get_member(...)`: a standalone client on the test's vhost."""
    from nameko.standalone.rpc import ClusterRpcProxy

    proxies = []

    def factory(service):
        # a PDF render may take REPORT_TIMEOUT (30 s) on a busy machine
        cluster = ClusterRpcProxy(service_config, timeout=30)
        proxies.append(cluster)
        return getattr(cluster.start(), service)

    yield factory
    for cluster in proxies:
        cluster.stop()


def load_demo(service_config, today, services=None, count=20):
    """Load the demo cooperative (reference members + `count` generated) into the test databases."""
    import importlib

    for service in services or config.DB_SERVICES:
        try:
            module = importlib.import_module(f"services.{service}.demo")
        except ModuleNotFoundError:
            continue
        module.load(service_config[f"{service.upper()}_DATABASE_URL"], today, count=count)
        if service == "auth":
            # the demo users log in from a remembered device (tests/helpers.py api_login): the
            # second factor is exercised by the tests that mean to (test_auth_second_factor*)
            from tests.helpers import save_device_tokens

            save_device_tokens(module.remember_devices(service_config["AUTH_DATABASE_URL"]))


@pytest.fixture
def demo(service_config, today):
    """Every service's database filled with the reference members and 20 generated ones."""
    load_demo(service_config, today)
    return service_config
