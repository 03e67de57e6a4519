"""Statements too long to print within a request's deadline, prepared in the background.

A statement may cover ten years (docs/api.md): tens of thousands of movements, more than the
reports service prints before a page request gives up. Above STATEMENT_INLINE_MOVEMENTS the
page answers at once with a job page that shows the progress (fetching the movements, then
printing) and, when it is ready, the *Descargar PDF* link — never a timeout.

A job is two files under var/report-jobs (state as JSON, then the PDF), so every gateway
instance on the host sees it; it belongs to one member (another member's job answers 404) and is
removed after JOB_TTL_SECONDS.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from pathlib import Path

from nameko.extensions import DependencyProvider

from services.common.config import env_float, env_int, var_dir
from services.common.files import private_dir, write_private

log = logging.getLogger("gateway.report_jobs")

JOB_TTL_SECONDS = 3600


def inline_limit():
    """Statements with more movements than this are prepared in the background."""
    return env_int("STATEMENT_INLINE_MOVEMENTS", 5000)


def background_timeout():
    """Deadline (seconds) of a background statement's print by the reports service."""
    return env_float("STATEMENT_BACKGROUND_TIMEOUT", 900.0)


def _valid_id(job_id):
    return bool(job_id) and len(job_id) <= 64 and all(c.isalnum() or c in "-_" for c in job_id)


class JobStore:
    def __init__(self, root: Path):
        self.root = root

    def _state_path(self, job_id):
        return self.root / f"{job_id}.json"

    def pdf_path(self, job_id):
        return self.root / f"{job_id}.pdf"

    def create(self, member_number, filename):
        private_dir(self.root)  # members' statements: the portal's account only
        self._forget_old()
        job_id = secrets.token_urlsafe(18)
        self._write(
            job_id,
            {
                "member_number": member_number,
                "filename": filename,
                "status": "pending",
                "progress": 0,
                "step": "En cola",
                "created": time.time(),
            },
        )
        return job_id

    def update(self, job_id, **changes):
        state = self._read(job_id) or {}
        state.update(changes)
        self._write(job_id, state)

    def get(self, job_id, member_number):
        """The job's state, or None (unknown, expired, or another member's)."""
        if not _valid_id(job_id):
            return None
        state = self._read(job_id)
        if not state or state.get("member_number") != member_number:
            return None
        return state

    def save_pdf(self, job_id, content):
        write_private(self.pdf_path(job_id), content)

    def _read(self, job_id):
        try:
            return json.loads(self._state_path(job_id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _write(self, job_id, state):
        write_private(self._state_path(job_id), json.dumps(state, ensure_ascii=False).encode())

    def _forget_old(self):
        limit = time.time() - JOB_TTL_SECONDS
        for path in self.root.glob("*"):
            try:
                if path.stat().st_mtime < limit:
                    path.unlink()
            except OSError:
                continue


class ReportJobs(DependencyProvider):
    """`self.report_jobs.store` (JobStore) and `self.report_jobs.spawn(fn, *args)`: a job runs in
    a thread of the container (stopped with it), not in the request's worker."""

    def setup(self):
        self.store = JobStore(var_dir() / "report-jobs")

    def get_dependency(self, worker_ctx):
        return self

    def spawn(self, fn, *args):
        self.container.spawn_managed_thread(lambda: _run(fn, *args))


def _run(fn, *args):
    try:
        fn(*args)
    except Exception:  # noqa: BLE001  the job's own handler records the failure for the member
        log.exception("background report failed")
