"""Process handling shared by the bench scripts: each server they start leads a process group of its own."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def stop_process_group(
    process: subprocess.Popen | None, timeout: float = 15, first_signal: int = signal.SIGTERM
) -> None:
    """Signal the group `process` leads (a server and its workers); SIGKILL it if it is still there after `timeout`."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, first_signal)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
