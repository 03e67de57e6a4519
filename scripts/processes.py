"""The whole portal as real processes (used by end-to-end tests, fault tests and benchmarks)."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from services.common.config import PROJECT_ROOT

PROCESSES = (
    "accounts",
    "auth",
    "credit",
    "deposit",
    "reports",
    "notifications",
    "audit",
    "gateway",
)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Portal:
    """The whole portal as real processes on its own vhost and its own var/ directory."""

    def __init__(self, workdir, amqp_uri, extra_env=None):
        self.workdir = Path(workdir)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "AMQP_URI": amqp_uri,
            "PORTAL_VAR_DIR": str(self.workdir / "var"),
            "GATEWAY_ADDRESS": f"127.0.0.1:{self.port}",
            "DEMO_MEMBERS": "20",
            "RPC_TIMEOUT": "3",
            "PYTHONWARNINGS": "ignore",
            **(extra_env or {}),
        }
        self.procs = {}

    def run(self, *args, check=True):
        return subprocess.run(
            [sys.executable, *args],
            cwd=PROJECT_ROOT,
            env=self.env,
            check=check,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def setup(self):
        result = self.run("-m", "scripts.portal", "setup", check=False)
        assert result.returncode == 0, result.stderr[-3000:]

    def start(self, name, instance=None, env=None):
        """Start a service process; `instance` names a second (third…) one of the same service."""
        key = instance or name
        log = open(self.workdir / f"{key}.log", "ab")  # noqa: SIM115  closed with the process
        self.procs[key] = subprocess.Popen(
            [sys.executable, "-m", "scripts.run_service", name],
            cwd=PROJECT_ROOT,
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def stop(self, name, sig=signal.SIGTERM, timeout=20):
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def start_all(self):
        for name in PROCESSES:
            self.start(name)
        self.wait_healthy()

    def wait_healthy(self, timeout=90):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = requests.get(self.base_url + "/health", timeout=5)
                if last.status_code == 200:
                    return last.json()
            except requests.RequestException as exc:
                last = exc
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited: {self.log(name)[-3000:]}")
            time.sleep(0.5)
        raise RuntimeError(f"portal not healthy: {getattr(last, 'text', last)}")

    def log(self, name):
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_all(self):
        for name in list(self.procs):
            self.stop(name)

    def url(self, path):
        return self.base_url + path
