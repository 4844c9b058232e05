"""`make run`: the whole product in one command on embedded defaults.

Migrates, seeds the demo on first start, then runs the web server (which also
serves the built-in simulator), a Celery worker with beat, a Celery worker
for webhook deliveries and the dispatcher of new generations, under a small
supervisor: a process that exits is started again after a backoff, and only
Ctrl-C, SIGTERM, the end of whatever started it, or a process that keeps
crashing stops them all.
"""

import collections
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def main() -> int:
    port = os.environ.setdefault("PORT", "8000")
    if not _port_is_free(int(port)):
        print(f"Port {port} is already in use. Stop what runs there, or: PORT=8001 make run", file=sys.stderr)
        return 1
    data_dir = Path(os.environ.setdefault("GOVERNANCE_DATA_DIR", str(ROOT / "var")))
    data_dir.mkdir(parents=True, exist_ok=True)
    # Metrics start from zero with every run: the files of processes from an earlier run are stale.
    metrics_dir = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(data_dir / "prometheus")))
    shutil.rmtree(metrics_dir, ignore_errors=True)
    manage = [sys.executable, str(ROOT / "manage.py")]
    # Only `migrate` logs in as the owner of the tables; the rest runs as the application (docs/database-roles.md).
    application = {name: value for name, value in os.environ.items() if name != "MIGRATE_DATABASE_URL"}

    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], check=True, cwd=ROOT)
    # A development claim-signing identity on first start, unless an organisation's is configured.
    if not os.environ.get("CONTENT_SIGNING_CERT_FILE") and not os.environ.get("CONTENT_SIGNING_CERT_PEM"):
        subprocess.run([*manage, "create_signing_identity", "--if-missing"], check=True, cwd=ROOT, env=application)
    seeded_marker = data_dir / ".demo-seeded"
    if not seeded_marker.exists():
        subprocess.run([*manage, "seed_demo"], check=True, cwd=ROOT, env=application)
        seeded_marker.touch()

    supervisor = Supervisor(commands(port, data_dir), env=application)
    supervisor.start()
    if _wait_until_serving(port, supervisor):
        _print_welcome(port)
    return supervisor.run()


def commands(port: str, data_dir: Path) -> dict[str, list[str]]:
    """The web server, the worker for generations (with beat), the worker for webhook deliveries only, the dispatcher.

    Deliveries have their own worker, a few threads waiting on receivers, so that however slowly the
    receivers answer, every generation step finds a free process.
    """
    web = [
        str(BIN / "gunicorn"), "governance.wsgi", "--bind", f"127.0.0.1:{port}",
        "--worker-class", "gthread", "--workers", os.environ.get("WEB_CONCURRENCY", "2"), "--threads", "8",
        "--log-level", "warning",
    ]  # fmt: skip
    worker = [
        str(BIN / "celery"), "--quiet", "-A", "governance", "worker", "--beat", "--loglevel", "WARNING",
        "--queues", "celery", "--concurrency", os.environ.get("WORKER_CONCURRENCY", "4"),
        "--schedule", str(data_dir / "celerybeat-schedule"),
    ]  # fmt: skip
    webhooks = [
        str(BIN / "celery"), "--quiet", "-A", "governance", "worker", "--loglevel", "WARNING",
        "--queues", "webhooks", "--pool", "threads", "--concurrency", "4", "--hostname", "webhooks@%h",
    ]  # fmt: skip
    # New generations' first steps, ten times a second (beat's dispatch stands down while this runs).
    dispatcher = [sys.executable, str(ROOT / "manage.py"), "dispatch_generations", "--every", "0.1"]
    return {"web": web, "worker": worker, "webhooks": webhooks, "dispatcher": dispatcher}


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_until_serving(port: str, supervisor: "Supervisor", timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    web = supervisor.processes["web"]
    while time.monotonic() < deadline and web.poll() is None and not supervisor.stopping:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2)
            return True
        except OSError:
            time.sleep(0.3)
    return False


def _print_welcome(port: str) -> None:
    print(
        f"""
  Snapshot governance is running: http://127.0.0.1:{port}/

  Sign in as admin, approver, lead, developer, viewer or auditor; password: demo-password
  Get an API key for an environment (development, testing, staging, production) of a project
  (studio: Gemini, Runway and Veo at Vertex AI, simulated until their keys are set; demo; launch-videos):
      .venv/bin/python manage.py create_api_key studio staging
  Point the OpenAI SDK at it:
      OpenAI(base_url="http://127.0.0.1:{port}/v1", api_key="<that key>")

  Ctrl-C stops everything.
""",
        flush=True,
    )


class Supervisor:
    """Keeps named processes running until told to stop, restarting one that exits, with backoff.

    A process that exits is started again after `first_backoff` seconds, doubling with each
    exit within `crash_window` seconds up to `max_backoff`; `crash_limit` exits within the
    window stop everything, since restarting again would not help. SIGINT and SIGTERM stop
    everything, and so does the end of the process that started the supervisor.
    """

    def __init__(
        self,
        commands: dict[str, list[str]],
        *,
        first_backoff: float = 1.0,
        max_backoff: float = 30.0,
        crash_limit: int = 5,
        crash_window: float = 60.0,
        poll_seconds: float = 0.2,
        env: dict[str, str] | None = None,
    ) -> None:
        self.commands, self.env = commands, env
        self.first_backoff, self.max_backoff = first_backoff, max_backoff
        self.crash_limit, self.crash_window = crash_limit, crash_window
        self.poll_seconds = poll_seconds
        self.processes: dict[str, subprocess.Popen] = {}
        self._crashes: dict[str, collections.deque[float]] = {name: collections.deque() for name in commands}
        self._restart_at: dict[str, float] = {}
        self._stopping = False
        self._parent = os.getppid()

    @property
    def stopping(self) -> bool:
        return self._stopping

    def start(self) -> None:
        """Take over Ctrl-C and SIGTERM, and start every process."""
        self._parent = os.getppid()
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGTERM, self._stop)
        for name in self.commands:
            self._start(name)

    def run(self) -> int:
        """Supervise until stopped; 0 after Ctrl-C or SIGTERM, 1 when a process kept crashing."""
        if not self.processes:
            self.start()
        exit_code = 0
        while not self._stopping and os.getppid() == self._parent:  # a new parent: make or the terminal is gone
            if not self._tend():
                exit_code = 1
                break
            time.sleep(self.poll_seconds)
        self._stop_all()
        return exit_code

    def _stop(self, signum, frame) -> None:
        self._stopping = True

    def _tend(self) -> bool:
        """Restart what is due and note what exited; False once a process has crashed too often."""
        now = time.monotonic()
        for name, process in self.processes.items():
            if name in self._restart_at:
                if now >= self._restart_at[name]:
                    del self._restart_at[name]
                    self._start(name)
            elif process.poll() is not None and not self._schedule_restart(name, process.returncode, now):
                return False
        return True

    def _schedule_restart(self, name: str, code: int, now: float) -> bool:
        _kill_what_it_left(self.processes[name])
        crashes = self._crashes[name]
        crashes.append(now)
        while crashes and crashes[0] <= now - self.crash_window:
            crashes.popleft()
        if len(crashes) >= self.crash_limit:
            _say(
                f"{name} exited with code {code}, its {len(crashes)}th exit within {self.crash_window:g} s; "
                "it keeps crashing, so everything stops. Its log lines above say why."
            )
            return False
        delay = min(self.max_backoff, self.first_backoff * 2 ** (len(crashes) - 1))
        _say(f"{name} exited with code {code}; restarting in {delay:g} s.")
        self._restart_at[name] = now + delay
        return True

    def _start(self, name: str) -> None:
        # Its own session: Ctrl-C reaches only us, and each child (with its own children) stops gracefully.
        self.processes[name] = subprocess.Popen(self.commands[name], cwd=ROOT, env=self.env, start_new_session=True)

    def _stop_all(self) -> None:
        running = [process for process in self.processes.values() if process.poll() is None]
        for process in running:
            process.terminate()  # gunicorn and celery shut their own children down gracefully
        deadline = time.monotonic() + 15
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        print("Stopped.", flush=True)


def _kill_what_it_left(process: subprocess.Popen) -> None:
    """A process killed outright leaves its children (gunicorn's workers holding the port, a worker's pool)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
