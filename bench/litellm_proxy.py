"""LiteLLM's proxy beside ours in `bench/submit.py --litellm`: its virtualenv, its config, its processes.

LiteLLM is not a dependency of the project (it pins many packages of its own): it lives in a
virtualenv of its own, `var/bench/litellm-venv`, with `litellm[proxy]` at the version below,
made by `--litellm` the first time (a few minutes, from PyPI) and reused after.

How LiteLLM serves `POST /v1/videos` (read 2026-12-06): docs.litellm.ai/docs/providers/openai/videos
("LiteLLM Proxy Usage": a `model_list` entry whose `litellm_params.model` is `openai/<model>`,
started with `litellm --config config.yaml`, then `POST /v1/videos` with the proxy's key) and
docs.litellm.ai/docs/videos; in the installed package, `litellm/proxy/video_endpoints/endpoints.py`
(the route, behind `user_api_key_auth`) and `litellm/llms/openai/videos/transformation.py` (the
upstream URL is `api_base` + `/videos`, and the request goes there as multipart/form-data).

The proxy runs as a user would run it from pip, with what matters for a fair figure:

- `general_settings.master_key`: every request is authenticated against a bearer key, as ours is.
  Without a database LiteLLM has no virtual keys, so the master key is its only key (a wrong key
  is answered 400 "No connected db.", still a refusal);
- no `DATABASE_URL` and no Redis: no spend logs, budgets or rate limits (they need the database;
  `disable_spend_logs` says so explicitly). Ours counts a rate limit in Redis and writes a
  durable row per request; LiteLLM here writes nothing, its lightest configuration;
- `--num_workers N`: uvicorn with N worker processes, N being ours' gunicorn worker count;
- `LITELLM_LOG=ERROR` (and uvicorn's log level with it) and no access log: no per-request lines;
- `LITELLM_LOCAL_MODEL_COST_MAP=True`: the bundled price list, not a download at start-up;
- telemetry off.

The upstream is bench/litellm_upstream.py (OpenAI's `POST /v1/videos` answered from memory, one
Granian process): the cheapest upstream there is, so the figures are LiteLLM's own; its CPU is
measured apart. Ours does not call its provider in the request (a worker does, later), so an
upstream that costs something would count against LiteLLM only.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from processes import stop_process_group

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "var" / "bench" / "litellm-venv"
LITELLM_VERSION = "1.108.7"  # the version measured in docs/benchmarks.md ("LiteLLM's proxy")
INSTALLED_MARKER = VENV / "bench-litellm-version"  # written once pip has installed LITELLM_VERSION
MASTER_KEY = "sk-bench-litellm-master-key"
UPSTREAM_KEY = "bench-upstream-key"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

CONFIG_TEMPLATE = """\
# Written by bench/litellm_proxy.py for bench/submit.py --litellm.
model_list:
  - model_name: {model}
    litellm_params:
      model: openai/{model}
      api_base: http://127.0.0.1:{upstream_port}/v1
      api_key: {upstream_key}
general_settings:
  master_key: {master_key}
  disable_spend_logs: true
litellm_settings:
  telemetry: false
"""


class ProxyError(Exception):
    """LiteLLM could not be installed or started; printed without a traceback."""


def installed() -> bool:
    """Whether the pinned LiteLLM is in var/bench/litellm-venv (no subprocess, so `make bench` stays fast)."""
    return INSTALLED_MARKER.exists() and INSTALLED_MARKER.read_text().strip() == LITELLM_VERSION


def install() -> None:
    """Make var/bench/litellm-venv with `litellm[proxy]==LITELLM_VERSION` (minutes, once)."""
    if installed():
        return
    print(f"Installing litellm[proxy]=={LITELLM_VERSION} into {VENV} (once; a few minutes)", flush=True)
    started = time.monotonic()
    INSTALLED_MARKER.unlink(missing_ok=True)
    for command in (
        [sys.executable, "-m", "venv", "--clear", str(VENV)],
        [str(VENV / "bin" / "pip"), "install", "--quiet", f"litellm[proxy]=={LITELLM_VERSION}"],
    ):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise ProxyError(f"could not install LiteLLM ({' '.join(command)}):\n{done.stdout}\n{done.stderr}")
    INSTALLED_MARKER.write_text(LITELLM_VERSION + "\n")
    print(f"  installed ({time.monotonic() - started:.0f} s)", flush=True)


@dataclass
class Proxy:
    """LiteLLM's proxy (uvicorn, `workers` processes) and its upstream, each in a process group of its own."""

    tmp: Path
    model: str
    workers: int
    port: int = 0
    upstream_port: int = 0
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)

    def start(self, free_port) -> None:
        self.upstream_port, self.port = free_port(), free_port()
        env = {
            "PATH": f"{VENV / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": os.environ.get("HOME", str(self.tmp)),
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
        }  # nothing of ours' environment (no DATABASE_URL, REDIS_URL): LiteLLM runs without a database
        self._spawn(
            "upstream",
            [
                str(VENV / "bin" / "granian"), "--interface", "asginl", "--working-dir", str(ROOT / "bench"),
                "--host", "127.0.0.1", "--port", str(self.upstream_port), "--workers", "1",
                "--no-ws", "--no-access-log", "--log-level", "warning", "litellm_upstream:app",
            ],
            {**env, "BENCH_UPSTREAM_MODEL": self.model, "BENCH_UPSTREAM_KEY": UPSTREAM_KEY},
        )  # fmt: skip
        config = self.tmp / "litellm-config.yaml"
        config.write_text(
            CONFIG_TEMPLATE.format(
                model=self.model, upstream_port=self.upstream_port, upstream_key=UPSTREAM_KEY, master_key=MASTER_KEY
            )
        )
        self._spawn(
            "litellm",
            [
                str(VENV / "bin" / "litellm"), "--config", str(config), "--host", "127.0.0.1",
                "--port", str(self.port), "--num_workers", str(self.workers),
            ],
            {**env, "LITELLM_LOG": "ERROR", "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
        )  # fmt: skip
        self._wait_until_ready()

    def _spawn(self, name: str, command: list[str], env: dict) -> None:
        self.logs[name] = self.tmp / f"litellm-{name}.log"
        with open(self.logs[name], "w") as log:
            self.processes[name] = subprocess.Popen(
                command, cwd=self.tmp, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def _wait_until_ready(self, timeout: float = 180) -> None:
        """Until both answer and LiteLLM's workers have finished starting (their CPU settles: each
        worker imports LiteLLM on its own, and a worker still starting would take from the run)."""
        deadline = time.monotonic() + timeout
        answered = False
        last_cpu = None
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise ProxyError(f"{name} exited with code {process.returncode}:\n{tail(self.logs[name])}")
            if not answered:
                answered = self._answers("/health/liveliness", self.port) and self._answers(
                    "/received", self.upstream_port
                )
            else:
                cpu = self.cpu()["litellm"]
                if last_cpu is not None and cpu - last_cpu < 0.05:
                    return
                last_cpu = cpu
            time.sleep(1.0 if answered else 0.2)
        raise ProxyError(f"LiteLLM did not start within {timeout:.0f} s:\n{tail(self.logs['litellm'])}")

    @staticmethod
    def _answers(path: str, port: int) -> bool:
        with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
                return response.status == 200
        return False

    def received(self) -> dict[str, int]:
        """Creates the upstream accepted (and refused) since it started."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.upstream_port}/received", timeout=5) as response:
            return json.loads(response.read())

    def wait_for_drain(self, expected: int, timeout: float = 30.0) -> dict[str, int]:
        """Let LiteLLM forward what wrk left in flight: until the upstream has `expected` creates, or a second
        passes with nothing new."""
        deadline = time.monotonic() + timeout
        last, stable = None, 0
        while True:
            counts = self.received()
            if counts["created"] + counts["refused"] >= expected or time.monotonic() > deadline:
                return counts
            stable = stable + 1 if counts == last else 0
            if stable >= 10:
                return counts
            last = counts
            time.sleep(0.1)

    def cpu(self) -> dict[str, float]:
        """User+system CPU seconds so far of LiteLLM's process tree and of the upstream's."""
        return {name: tree_cpu(process.pid) for name, process in self.processes.items()}

    def stop(self) -> None:
        for process in self.processes.values():
            stop_process_group(process)
        self.processes.clear()


def tree_cpu(pid: int) -> float:
    """User+system CPU seconds of a process and all its live descendants (uvicorn's supervisor and workers)."""
    total = 0.0
    pending = [pid]
    while pending:
        one = pending.pop()
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
            pending += [int(child) for child in Path(f"/proc/{one}/task/{one}/children").read_text().split()]
    return total


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""
