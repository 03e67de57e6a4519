"""What the portal writes under its var directory is readable by its own account only: folders
0700, files 0600, whatever the umask of the process that writes them (issue 28, item 5)."""

import io
import os
import stat
import subprocess
import sys
import time
from email.message import EmailMessage

import pytest
from sqlalchemy import text

from gateway.web.report_jobs import JobStore
from scripts.processes import Supervisor
from services.audit import anchors, domain
from services.common import config
from services.common.db import engine_for
from services.common.migrate import upgrade
from services.notifications.mail import MailSettings, Transport
from services.reports.renderer import PdfCache


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def open_umask():
    """The umask that left these files world-readable: the explicit modes must not rely on it."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_embedded_mail_is_private():
    message = EmailMessage()
    message["X-Portal-Kind"] = "recovery_code"
    message.set_content("Su código temporal es 5uqZ7zkp")
    path = Transport(MailSettings.from_config({})).send(message)
    assert mode(config.var_dir() / "mail") == 0o700
    assert mode(config.var_dir() / "mail" / os.path.basename(path)) == 0o600


def test_report_jobs_and_cached_statements_are_private():
    store = JobStore(config.var_dir() / "report-jobs")
    job = store.create("100234", "estado.pdf")
    store.update(job, status="done", progress=100)
    store.save_pdf(job, b"%PDF-1.7 estado de cuenta")
    assert mode(config.var_dir() / "report-jobs") == 0o700
    assert {mode(path) for path in (config.var_dir() / "report-jobs").iterdir()} == {0o600}
    cache = PdfCache()
    cache.put("k" * 64, b"%PDF-1.7")
    assert mode(config.var_dir() / "cache" / "reports") == 0o700
    assert mode(config.var_dir() / "cache" / "reports" / f"{'k' * 64}.pdf") == 0o600


def test_embedded_databases_and_their_wal_are_private(monkeypatch):
    monkeypatch.delenv("AUDIT_DATABASE_URL", raising=False)
    url = config.database_url("audit")
    upgrade("audit", url)
    with engine_for(url).begin() as conn:  # a write: the WAL and its index exist now
        conn.execute(text("UPDATE chain_head SET legacy_seq = 0"))
    assert mode(config.var_dir()) == 0o700
    files = sorted(config.var_dir().glob("audit.db*"))
    assert [p.name for p in files] == ["audit.db", "audit.db-shm", "audit.db-wal"]
    assert {mode(path) for path in files} == {0o600}


def test_an_existing_world_readable_var_is_closed():
    var = config.var_dir()
    var.mkdir(mode=0o755)
    database = var / "auth.db"
    database.touch(mode=0o644)
    engine_for(config.database_url("auth"))  # what every service does at start
    assert mode(var) == 0o700 and mode(database) == 0o600


def test_the_audit_key_and_anchor_file_are_private():
    key = anchors.audit_key()
    anchors.append_anchor(
        anchors.anchor_path(), key, domain.Anchor(0, domain.GENESIS_HASH, 0, "2026-12-07T15:00:00Z")
    )
    assert mode(config.var_dir() / "audit_hmac_key") == 0o600
    assert mode(config.var_dir() / "audit-anchors.jsonl") == 0o600
    assert anchors.audit_key() == key  # made once


UMASK_AT_EXIT = (
    "import atexit, os; atexit.register(lambda: print(oct(os.umask(0)))); os.umask(0o022)"
)


@pytest.mark.parametrize(
    "entry",
    [
        "from scripts.run_service import main; main('audit')",  # each service's process
        "from scripts.portal import main; main(['check'])",  # make run, setup, migrate...
    ],
)
def test_the_portal_processes_start_with_a_private_umask(entry):
    # no broker at that address: both stop at their first check, after setting the umask
    env = {**os.environ, "AMQP_URI": "amqp://guest:guest@127.0.0.1:1//"}
    answer = subprocess.run(
        [sys.executable, "-c", f"{UMASK_AT_EXIT}\n{entry}"],
        capture_output=True,
        text=True,
        env=env,
        cwd=config.PROJECT_ROOT,
        timeout=120,
    )
    assert answer.returncode == 2, answer.stderr[-2000:]
    assert answer.stdout.strip().splitlines()[-1] == "0o77"


def test_the_supervisor_starts_every_process_with_a_private_umask(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text('probe: python -c "import os; print(oct(os.umask(0)))"\n')
    out = io.StringIO()
    supervisor = Supervisor(procfile, env=dict(os.environ), out=out)
    supervisor.start("probe")
    supervisor.procs["probe"].wait(timeout=60)
    deadline = time.monotonic() + 10  # its output is pumped by a thread
    while "0o77" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "probe | 0o77" in out.getvalue()
