"""A pool of WeasyPrint worker processes driven from eventlet without blocking it.

Each worker (services/reports/worker.py) is a child process speaking length-prefixed frames on
its pipes; the pipes are eventlet's green ones, so waiting for a PDF yields to the hub and the
service keeps answering other RPCs. A worker that dies, errs at the protocol level or exceeds
the render deadline is killed and replaced.
"""

import logging
import os
import struct
import sys

import eventlet
from eventlet.green import subprocess
from eventlet.queue import LightQueue
from nameko.extensions import DependencyProvider

from services.common.config import PROJECT_ROOT, env_float, env_int

log = logging.getLogger("reports.pool")


class RenderError(RuntimeError):
    """A document could not be rendered."""


class DocumentError(RenderError):
    """WeasyPrint refused the document; the worker is fine."""


class WorkerFailure(RenderError):
    """The worker died, broke the protocol or passed the deadline; it is replaced."""


def default_size():
    return max(1, env_int("REPORTS_WORKERS", min(2, os.cpu_count() or 1)))


def _read_exact(stream, size):
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            raise WorkerFailure("el proceso de reportes terminó inesperadamente")
        data += chunk
    return data


class Worker:
    def __init__(self):
        env = dict(os.environ)
        self.proc = subprocess.Popen(  # noqa: S603  our own module, fixed arguments
            [sys.executable, "-m", "services.reports.worker"],
            cwd=str(PROJECT_ROOT),
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def render(self, html):
        data = html.encode("utf-8")
        self.proc.stdin.write(struct.pack(">I", len(data)) + data)
        self.proc.stdin.flush()
        status, pages, size = struct.unpack(">BII", _read_exact(self.proc.stdout, 9))
        payload = _read_exact(self.proc.stdout, size)
        if status != 0:
            raise DocumentError(payload.decode("utf-8", "replace"))
        return payload, pages

    def alive(self):
        return self.proc.poll() is None

    def close(self, timeout=2.0):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class RenderPool:
    """`render(html)` → (pdf bytes, page count), at most `size` documents at once."""

    def __init__(self, size=None, timeout=None):
        self.size = size or default_size()
        self.timeout = timeout or env_float("REPORTS_RENDER_TIMEOUT", 60.0)
        self._idle = LightQueue()
        self._workers = []
        self._closed = False

    def start(self):
        for _ in range(self.size):
            worker = Worker()
            self._workers.append(worker)
            self._idle.put(worker)

    def _replace(self, worker):
        worker.kill()
        if worker in self._workers:
            self._workers.remove(worker)
        fresh = Worker()
        self._workers.append(fresh)
        return fresh

    def render(self, html):
        if self._closed:
            raise RenderError("el servicio de reportes se está deteniendo")
        worker = self._idle.get()
        try:
            if not worker.alive():
                worker = self._replace(worker)
            with eventlet.Timeout(self.timeout, WorkerFailure("el reporte tardó demasiado")):
                return worker.render(html)
        except WorkerFailure:
            worker = self._replace(worker)
            raise
        except (OSError, struct.error) as exc:
            worker = self._replace(worker)
            raise WorkerFailure(str(exc)) from None
        finally:
            self._idle.put(worker)

    def render_many(self, documents):
        """Render several HTML documents in parallel (as many at once as there are workers)."""
        threads = [eventlet.spawn(self.render, html) for html in documents]
        return [thread.wait() for thread in threads]

    def close(self):
        self._closed = True
        for worker in self._workers:
            worker.close()
        self._workers = []


class RenderPoolProvider(DependencyProvider):
    """The service's pool: workers start with the container and stop with it."""

    def __init__(self, size=None):
        self.requested_size = size
        self.pool = None

    def setup(self):
        size = self.requested_size or int(self.container.config.get("REPORTS_WORKERS") or 0)
        self.pool = RenderPool(size or None)

    def start(self):
        assert self.pool is not None  # setup() made it
        self.pool.start()

    def stop(self):
        assert self.pool is not None  # setup() made it
        self.pool.close()

    def kill(self):
        assert self.pool is not None  # setup() made it
        for worker in list(self.pool._workers):
            worker.kill()

    def get_dependency(self, worker_ctx):
        return self.pool
