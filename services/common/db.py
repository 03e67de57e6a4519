"""SQLAlchemy 2 for nameko: one engine per database URL, one session per worker.

`Database` is a nameko DependencyProvider: the worker gets a session that commits when the worker
succeeds and rolls back when it raises. Outside nameko (loader, migrations, tests) use
`engine_for(url)` and `session_scope(url)`.
"""

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import TracebackType
from typing import cast

from nameko.containers import WorkerContext
from nameko.extensions import DependencyProvider
from sqlalchemy import BigInteger, Connection, Dialect, Engine, TypeDecorator, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from services.common import config
from services.common.files import private_file

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def normalize_url(url: str) -> str:
    # psycopg2 is the driver we pin (and make cooperative under eventlet with psycogreen)
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def engine_for(url: str) -> Engine:
    url = normalize_url(url)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _create_engine(url)
            _engines[url] = engine
        return engine


def _create_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            private_file(Path(database))  # 0600, and so its -wal and -shm (services/common/files)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: object) -> None:
            cur = dbapi_conn.cursor()
            # WAL lets readers go on while one writer commits; foreign keys are off by default.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "savepoint")
        def _sqlite_savepoint(conn: Connection, name: str) -> None:
            # pysqlite opens a transaction only before INSERT/UPDATE/DELETE. A SAVEPOINT issued
            # first (Session.begin_nested, as in Inbox.claim after its SELECT) would become the
            # outermost transaction and its RELEASE would commit at once: the claim would
            # survive the rollback of a failed handler and its retried event be skipped. Open
            # the transaction first, as PostgreSQL has it.
            dbapi_conn = cast(sqlite3.Connection, conn.connection.dbapi_connection)
            if not dbapi_conn.in_transaction:
                dbapi_conn.execute("BEGIN")

        return engine
    _green_psycopg2()
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def _green_psycopg2() -> None:
    """Under eventlet, let a PostgreSQL query yield to other greenthreads instead of blocking."""
    import socket

    import eventlet.patcher

    if eventlet.patcher.is_monkey_patched(socket):
        from psycogreen.eventlet import patch_psycopg

        patch_psycopg()


def dispose_all() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    session = Session(bind=engine_for(url), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def commit(session: Session) -> None:
    """Commit, then run what waits for the commit (the outbox's publishing).

    The entrypoints call it through `Database.finish`; a use case that must keep what it wrote
    although it answers with an error (auth's failed logins) calls it before raising.
    """
    session.commit()
    for callback in session.info.pop("after_commit", []):
        callback()


class Database(DependencyProvider):
    """`db = Database("accounts")` gives each worker a Session on ACCOUNTS_DATABASE_URL."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.sessions: dict[WorkerContext, Session] = {}

    @property
    def url(self) -> str:
        key = f"{self.service.upper()}_DATABASE_URL"
        url: str = self.container.config.get(key) or config.database_url(self.service)
        return url

    def setup(self) -> None:
        self.engine = engine_for(self.url)
        self.Session = sessionmaker(bind=self.engine, expire_on_commit=False)

    def get_dependency_session(self, worker_ctx: WorkerContext) -> Session:
        """The worker's session (created on first use); other providers share it."""
        session = self.sessions.get(worker_ctx)
        if session is None:
            session = self.Session()
            self.sessions[worker_ctx] = session
        return session

    def get_dependency(self, worker_ctx: WorkerContext) -> Session:
        return self.get_dependency_session(worker_ctx)

    def finish(self, worker_ctx: WorkerContext, success: bool) -> None:
        """Commit (or roll back) the worker's session; the entrypoints call this before replying."""
        session = self.sessions.get(worker_ctx)
        if session is None:
            return
        if not success:
            session.rollback()
            return
        if not session.in_transaction() and not session.info.get("after_commit"):
            return  # the worker never touched the database (ping, pure computations)
        try:
            commit(session)
        except Exception:
            session.rollback()
            raise

    def worker_result(
        self,
        worker_ctx: WorkerContext,
        result: object = None,
        exc_info: tuple[type[BaseException], BaseException, TracebackType] | None = None,
    ) -> None:
        # Entrypoints that did not commit already (plain nameko ones) still get commit/rollback.
        self.finish(worker_ctx, success=exc_info is None)

    def worker_teardown(self, worker_ctx: WorkerContext) -> None:
        session = self.sessions.pop(worker_ctx, None)
        if session is not None:
            session.close()


class Cents(TypeDecorator[Decimal]):
    """Money column: Decimal in Python, whole cents (BIGINT) in every database.

    Exact on SQLite too (its NUMERIC is a float), and SUM() stays exact.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | str | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return int((Decimal(value) * 100).to_integral_value(rounding=ROUND_HALF_UP))

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(int(value)) / 100).quantize(Decimal("0.01"))
