"""`make run`: the whole product in one command on embedded defaults.

Migrates, seeds the demo on first start, then runs the web server (which also
serves the built-in simulator), a Celery worker with beat, and a Celery worker
for webhook deliveries, until Ctrl-C,
SIGTERM, or the end of whatever started it stops them all.
"""

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

    processes = {name: _start(command, application) for name, command in commands(port, data_dir).items()}
    if _wait_until_serving(port, processes["web"]):
        _print_welcome(port)
    return _supervise(processes)


def commands(port: str, data_dir: Path) -> dict[str, list[str]]:
    """The web server, the worker for generations (with beat), and the worker for webhook deliveries only.

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
    return {"web": web, "worker": worker, "webhooks": webhooks}


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_until_serving(port: str, web: subprocess.Popen, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and web.poll() is None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2)
            return True
        except OSError:
            time.sleep(0.3)
    return False


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)


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


def _supervise(processes: dict[str, subprocess.Popen]) -> int:
    stopping = False

    def stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    parent = os.getppid()
    exit_code = 0
    while not stopping:
        if os.getppid() != parent:  # make or the terminal that started us is gone
            break
        for name, process in processes.items():
            if process.poll() is not None:
                print(f"{name} exited with code {process.returncode}; stopping.", file=sys.stderr, flush=True)
                exit_code, stopping = process.returncode or 1, True
        time.sleep(0.5)
    _stop_all(processes)
    return exit_code


def _stop_all(processes: dict[str, subprocess.Popen]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.terminate()  # gunicorn and celery shut their own children down gracefully
    deadline = time.monotonic() + 15
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    print("Stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
