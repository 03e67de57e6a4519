"""A small pool of worker processes driven from eventlet without blocking it, with a bounded wait.

CPU-heavy work (Argon2 in auth) runs in child processes, at a lower scheduling priority, so the
service's own process (and the gateway and the services on the same node) keep their cores for
pages. Each worker is `python -m <module>` speaking length-prefixed JSON frames on its pipes
(`serve(handle)` is the child's side); the pipes are eventlet's green ones, so waiting yields to
the hub. A caller waits at most `wait` seconds for a free worker and otherwise gets `PoolBusy`;
a worker that dies, breaks the protocol or passes the job deadline is killed and replaced.
services/reports/pool.py is the same pattern with binary frames, for PDFs.
"""

import json
import logging
import os
import struct
import sys
from collections.abc import Callable
from typing import Any

import eventlet
from eventlet.green import subprocess
from eventlet.queue import Empty, LightQueue

from services.common.config import PROJECT_ROOT

log = logging.getLogger("services.procpool")

_HEADER = struct.Struct(">I")


class PoolError(RuntimeError):
    """The job did not run to its end."""


class PoolBusy(PoolError):
    """No worker became free within the wait; nothing was done."""


class WorkerFailure(PoolError):
    """The worker died, broke the protocol or passed the deadline; it is replaced."""


def _read_exact(stream: Any, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            raise WorkerFailure("the worker process ended unexpectedly")
        data += chunk
    return data


def _write_frame(stream: Any, payload: Any) -> None:
    data = json.dumps(payload).encode("utf-8")
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _read_frame(stream: Any) -> Any:
    (size,) = _HEADER.unpack(_read_exact(stream, _HEADER.size))
    return json.loads(_read_exact(stream, size))


class Worker:
    def __init__(self, module: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(  # noqa: S603  our own module, fixed arguments
            [sys.executable, "-m", module],
            cwd=str(PROJECT_ROOT),
            env={**os.environ, **(env or {})},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def call(self, request: Any) -> Any:
        _write_frame(self.proc.stdin, request)
        reply = _read_frame(self.proc.stdout)
        if "error" in reply:
            raise PoolError(reply["error"])
        return reply["result"]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self, timeout: float = 2.0) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class ProcessPool:
    """`call(request)` → the worker's answer; at most `size` jobs at once, the rest wait in line
    (eventlet's queue is fair: first come, first served) for at most `wait` seconds, and no more
    than `max_waiting` of them (None: no limit): a caller beyond is refused at once."""

    def __init__(
        self,
        module: str,
        size: int,
        wait: float,
        max_waiting: int | None = None,
        timeout: float = 30.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.module = module
        self.size = max(1, int(size))
        self.wait = float(wait)
        self.max_waiting = max_waiting
        self.timeout = float(timeout)
        self.env = env
        self.waiting = 0
        self._idle = LightQueue()
        self._workers: list[Worker] = []
        self._closed = False

    def start(self) -> None:
        for _ in range(self.size):
            worker = Worker(self.module, self.env)
            self._workers.append(worker)
            self._idle.put(worker)

    def _replace(self, worker: Worker) -> Worker:
        worker.kill()
        if worker in self._workers:
            self._workers.remove(worker)
        fresh = Worker(self.module, self.env)
        self._workers.append(fresh)
        return fresh

    def acquire(self, wait: float | None = None) -> Worker:
        """A free worker, taken out of the pool until `release`; PoolBusy after `wait` seconds."""
        if self._closed:
            raise PoolBusy("the pool is closing")
        full = self.max_waiting is not None and self.waiting >= self.max_waiting
        if full and self._idle.qsize() == 0:
            raise PoolBusy("too many jobs waiting")
        self.waiting += 1
        try:
            worker: Worker = self._idle.get(timeout=self.wait if wait is None else wait)
            return worker
        except Empty:
            raise PoolBusy("no worker became free in time") from None
        finally:
            self.waiting -= 1

    def release(self, worker: Worker) -> None:
        self._idle.put(worker)

    def call(self, request: Any) -> Any:
        worker = self.acquire()
        try:
            if not worker.alive():
                worker = self._replace(worker)
            with eventlet.Timeout(self.timeout, WorkerFailure("the job passed its deadline")):
                return worker.call(request)
        except WorkerFailure:
            worker = self._replace(worker)
            raise
        except (OSError, struct.error, ValueError) as exc:
            worker = self._replace(worker)
            raise WorkerFailure(str(exc)) from None
        finally:
            self.release(worker)

    def close(self) -> None:
        self._closed = True
        for worker in self._workers:
            worker.close()
        self._workers = []

    def kill(self) -> None:
        for worker in list(self._workers):
            worker.kill()


def serve(handle: Callable[[Any], Any], nice: int = 0) -> None:
    """The child's loop: read a request, answer `handle(request)`, until the parent closes stdin.

    `nice` lowers this process's priority so that the portal's other processes are served first
    when the cores are busy."""
    if nice:
        try:
            os.nice(nice)
        except OSError:  # pragma: no cover  not permitted: run at the normal priority
            log.warning("could not lower the priority of %s", sys.argv[0])
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = stdin.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return
        (size,) = _HEADER.unpack(header)
        request = json.loads(stdin.read(size))
        try:
            reply = {"result": handle(request)}
        except Exception as exc:  # noqa: BLE001  told to the parent; the worker goes on
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        _write_frame(stdout, reply)
