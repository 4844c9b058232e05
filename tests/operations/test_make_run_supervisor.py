"""`make run` supervises its processes: one that dies is restarted with backoff, and only a stop stops them all.

Real processes throughout: the runner's supervisor runs in its own process (it takes over SIGTERM),
over two small child processes that write their process ids to files, standing in for gunicorn and
the Celery worker.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

CHILD = "import os, sys, time; open(sys.argv[1], 'a').write(f'{os.getpid()}\\n'); time.sleep(600)"
CRASHING_CHILD = "import os, sys; open(sys.argv[1], 'a').write(f'{os.getpid()}\\n'); sys.exit(3)"


def start_supervisor(tmp_path: Path, *, worker: str = CHILD) -> subprocess.Popen:
    script = textwrap.dedent(
        f"""
        import sys
        from governance.infra.runner import Supervisor
        supervisor = Supervisor(
            {{"web": [sys.executable, "-c", {CHILD!r}, {str(tmp_path / "web")!r}],
              "worker": [sys.executable, "-c", {worker!r}, {str(tmp_path / "worker")!r}]}},
            first_backoff=0.2, crash_limit=5, crash_window=60, poll_seconds=0.05,
        )
        sys.exit(supervisor.run())
        """
    )
    return subprocess.Popen(
        [sys.executable, "-c", script], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=Path.cwd()
    )


def pids(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def wait_for(condition, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/status").exists() and "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()


@pytest.fixture
def stopped_afterwards():
    started = []
    yield started.append
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_killed_worker_is_restarted_and_the_web_server_keeps_running(tmp_path, stopped_afterwards):
    supervisor = start_supervisor(tmp_path)
    stopped_afterwards(supervisor)
    wait_for(lambda: pids(tmp_path / "web") and pids(tmp_path / "worker"))
    [web], [worker] = pids(tmp_path / "web"), pids(tmp_path / "worker")

    os.kill(worker, signal.SIGKILL)
    wait_for(lambda: len(pids(tmp_path / "worker")) == 2)

    restarted = pids(tmp_path / "worker")[1]
    assert alive(restarted) and not alive(worker)
    assert pids(tmp_path / "web") == [web] and alive(web)
    assert supervisor.poll() is None

    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=20) == 0
    assert "worker exited with code -9; restarting in 0.2 s." in supervisor.stderr.read()
    assert not alive(web) and not alive(restarted)


def test_sigterm_stops_every_process(tmp_path, stopped_afterwards):
    supervisor = start_supervisor(tmp_path)
    stopped_afterwards(supervisor)
    wait_for(lambda: pids(tmp_path / "web") and pids(tmp_path / "worker"))

    supervisor.send_signal(signal.SIGTERM)

    assert supervisor.wait(timeout=20) == 0
    assert "Stopped." in supervisor.stdout.read()
    assert not any(alive(pid) for pid in pids(tmp_path / "web") + pids(tmp_path / "worker"))


def test_a_process_that_keeps_crashing_stops_everything_with_a_clear_message(tmp_path, stopped_afterwards):
    supervisor = start_supervisor(tmp_path, worker=CRASHING_CHILD)
    stopped_afterwards(supervisor)

    assert supervisor.wait(timeout=30) == 1

    errors = supervisor.stderr.read()
    assert "worker exited with code 3; restarting in 0.2 s." in errors
    assert "worker exited with code 3; restarting in 0.4 s." in errors  # the backoff doubles
    assert "worker exited with code 3, its 5th exit within 60 s; it keeps crashing, so everything stops." in errors
    assert len(pids(tmp_path / "worker")) == 5
    assert not any(alive(pid) for pid in pids(tmp_path / "web"))
