"""The whole portal as real processes (used by end-to-end tests, fault tests and benchmarks)."""

import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from services.common.config import PROJECT_ROOT
from services.common.files import PRIVATE_UMASK

PROCESSES = (
    "accounts",
    "auth",
    "credit",
    "deposit",
    "payments",
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

    def __init__(self, workdir, amqp_uri, extra_env=None, broker_users=None):
        """`broker_users`: a user name prefix (e.g. "portal-test-"): every process then connects
        as `<prefix><name>` with that process's permissions of `make run` on this vhost
        (scripts/broker_users.py), its password being its name (the broker is shared: several
        test sessions set the same)."""
        self.workdir = Path(workdir)
        self.amqp_uri = amqp_uri
        self.broker_users = broker_users
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "AMQP_URI": amqp_uri,
            "PORTAL_VAR_DIR": str(self.workdir / "var"),
            "GATEWAY_ADDRESS": f"127.0.0.1:{self.port}",
            "DEMO_MEMBERS": "20",
            "RPC_TIMEOUT": "3",
            # the operator's token: /health's detail (which service, the broker) needs it
            "METRICS_TOKEN": secrets.token_urlsafe(24),
            **(extra_env or {}),
        }
        self.procs = {}
        # tests and tools find this portal's files (e-mails, device tokens) by its port
        os.environ[f"PORTAL_VAR_DIR_{self.port}"] = self.env["PORTAL_VAR_DIR"]

    def run(self, *args, check=True):
        return subprocess.run(
            [sys.executable, *args],
            cwd=PROJECT_ROOT,
            env=self.env,
            check=check,
            umask=PRIVATE_UMASK,
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
        if self.broker_users:
            env = {"AMQP_URI": self.process_uri(name), **(env or {})}
        log = open(self.workdir / f"{key}.log", "ab")  # noqa: SIM115  closed with the process
        self.procs[key] = subprocess.Popen(
            [sys.executable, "-m", "scripts.run_service", name],
            cwd=PROJECT_ROOT,
            env={**self.env, **(env or {})},
            umask=PRIVATE_UMASK,  # its files under var/ are 0600 (services/common/files.py)
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def process_uri(self, name):
        from scripts import broker_users
        from services.common.amqp import vhost_of, with_credentials

        user = f"{self.broker_users}{name}"
        permissions = broker_users.service_permissions(name)
        broker_users.ensure_user(user, user, vhost_of(self.amqp_uri), permissions)
        return with_credentials(self.amqp_uri, user, user)

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

    def health_detail(self, timeout=10):
        """/health as an operator sees it (METRICS_TOKEN): which check failed, if any."""
        return requests.get(
            self.base_url + "/health",
            headers={"Authorization": f"Bearer {self.env['METRICS_TOKEN']}"},
            timeout=timeout,
        )

    def start_all(self):
        for name in PROCESSES:
            self.start(name)
        self.wait_healthy()

    def wait_healthy(self, timeout=180):
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
        raise RuntimeError(f"portal not healthy after {timeout} s: {self._unhealthy_detail(last)}")

    def _unhealthy_detail(self, last):
        """What an operator would look at: which checks failed (/health's detail) and the end
        of the log of each process that did not answer."""
        try:
            detail = self.health_detail().json()
        except (requests.RequestException, ValueError):
            return f"/health: {getattr(last, 'text', last)}"
        down = [name for name, state in detail.get("services", {}).items() if state != "ok"]
        logs = "".join(f"\n--- {name}.log ---\n{self.log(name)[-1500:]}" for name in down)
        return f"{detail}{logs}"

    def log(self, name):
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_all(self, timeout=20):
        """Every process told at once (each takes 2–3 s to close its consumers; one after the
        other that was 25 s a portal), then waited for; what is left at `timeout` is killed."""
        procs = {name: self.procs.pop(name) for name in list(self.procs)}
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in procs.values():
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def url(self, path):
        return self.base_url + path


def procfile_commands(path):
    """{name: argv} of a Procfile (`name: command`), `python` meaning this interpreter."""
    commands = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        name, command = line.split(":", 1)
        argv = shlex.split(command)
        if argv and argv[0] in ("python", "python3"):
            argv[0] = sys.executable
        commands[name.strip()] = argv
    return commands


class Supervisor:
    """What `make run` runs (docs/operations.md, "Running"): every Procfile line as its own
    process, their output prefixed with the name. A process that dies is restarted, and says
    so, with a growing pause (1 s, 2 s, 4 s … 30 s; back to 1 s after a minute up) while the
    others keep serving. SIGINT/SIGTERM stop them all: SIGTERM each, SIGKILL what is still
    running after `stop_timeout` seconds."""

    def __init__(self, procfile, env=None, out=None, stop_timeout=10.0, envs=None):
        self.commands = procfile_commands(procfile)
        self.env = env or dict(os.environ)
        # {name: {variable: value}}: what one process gets on top of `env` (its broker user)
        self.envs = envs or {}
        self.out = out or sys.stdout
        self.stop_timeout = stop_timeout
        self.procs = {}
        self.started_at = {}
        self.pause = dict.fromkeys(self.commands, 1.0)
        self.restart_at = {}
        self.restarts = dict.fromkeys(self.commands, 0)
        self.stopping = False
        self._lock = threading.Lock()

    def say(self, name, text):
        with self._lock:
            self.out.write(f"{name:>13} | {text}\n")
            self.out.flush()

    def _pump(self, name, stream):
        for raw in iter(stream.readline, b""):
            self.say(name, raw.decode("utf-8", "replace").rstrip("\n"))
        stream.close()

    def start(self, name):
        proc = subprocess.Popen(  # noqa: S603  our own Procfile's commands
            self.commands[name],
            cwd=PROJECT_ROOT,
            env={**self.env, **self.envs.get(name, {})},
            umask=PRIVATE_UMASK,  # its files under var/ are 0600 (services/common/files.py)
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.procs[name] = proc
        self.started_at[name] = time.monotonic()
        threading.Thread(target=self._pump, args=(name, proc.stdout), daemon=True).start()
        self.say("portal", f"{name} started (pid {proc.pid})")

    def add(self, name, command):
        """One more process beside the Procfile's (the demo core of `make run`)."""
        self.commands[name] = command
        self.pause[name] = 1.0
        self.restarts[name] = 0

    def start_all(self):
        for name in self.commands:
            self.start(name)

    def check(self):
        """One round: restart what died (after its pause). Returns the names restarted."""
        restarted = []
        now = time.monotonic()
        for name, proc in list(self.procs.items()):
            if self.stopping:
                break
            code = proc.poll()
            if code is None:
                if now - self.started_at[name] > 60:
                    self.pause[name] = 1.0
                continue
            if name not in self.restart_at:
                pause = self.pause[name]
                self.restart_at[name] = now + pause
                self.pause[name] = min(pause * 2, 30.0)
                self.say(
                    "portal",
                    f"{name} exited with code {code}; restarting it in {pause:.0f} s "
                    "(the others keep running)",
                )
            elif now >= self.restart_at[name]:
                del self.restart_at[name]
                self.restarts[name] += 1
                self.start(name)
                self.say("portal", f"{name} restarted (restart {self.restarts[name]})")
                restarted.append(name)
        return restarted

    def run(self, interval=0.2):
        """Supervise until stop() (or a signal in the main thread) ends it."""
        while not self.stopping:
            self.check()
            time.sleep(interval)

    def stop(self):
        self.stopping = True
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for name, proc in self.procs.items():
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                self.say("portal", f"{name} did not stop in {self.stop_timeout:.0f} s; killed")
                proc.kill()
                proc.wait()
