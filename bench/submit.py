"""Benchmark governed submission: `POST /v1/videos` on the production-like stack, against the floor, on loopback.

One command (`make bench`, i.e. `.venv/bin/python bench/submit.py [options]`) does it all:

1. checks PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth), Redis at
   127.0.0.1:6379 and `wrk`, and stops with a clear message and exit code 2 if one is
   missing (it never starts system services);
2. creates a throw-away database (`governance_bench`), flushes Redis db 13 (both the
   Celery broker and Django's cache) and makes a temporary GOVERNANCE_DATA_DIR; the
   floor (bench/floor: a bare Django view that makes one committed INSERT and one LPUSH)
   gets its own database (`governance_bench_floor`) and Redis db 14;
3. runs `migrate`, `seed_demo`, and per environment of ours (development, and staging
   with a $1,000,000 monthly budget) `set_rate_limit demo <environment> 1000000` and
   `create_api_key demo <environment>`, with DEBUG=0 and the built-in simulator on: the
   per-key limit counts every request (one Redis round trip), as in production, but one
   key at hundreds of requests a second never reaches it; and the floor's one migration;
4. per round (2 by default), per gunicorn configuration: the floor, ours in development,
   ours in staging (A B A B), each on a fresh gunicorn on a free loopback port with the
   same worker class and count;
5. drives each with `wrk` (C, so the client takes ~5% of a core on this 2-core machine;
   a Python generator would take a whole one) over 16 connections: a 3 s warm-up,
   then 15 s measured. Every request is `{"prompt": ..., "model": "sora-2-2025-12-08",
   "seconds": "4"}` with the bearer key (the floor ignores it); the Lua script counts
   200s apart from every other status and counts the requests it writes;
6. prints requests, accepted (200), refused/other, accepted/s, p50/p90/p99 latency
   (wrk's own histogram), where the CPU went (gunicorn, PostgreSQL backends, Redis,
   wrk, everything else) and per-request PostgreSQL/Redis activity;
7. verifies after every run, once gunicorn has drained and stopped, that nothing was
   lost or doubled: the rows must equal the requests written (warm-ups included; wrk
   stops with one request in flight per connection, which the server still handles, so
   the 200s wrk saw are checked to be among the `queued` rows), and the generations the
   Redis list starts (`celery` for ours, its `start_generations` messages opened and
   counted, up to 10 first steps each; `floor` for the floor, one entry each) must equal
   the `queued` rows. No Celery worker consumes during the run, so this proves each
   accepted submission was committed *and* published. A run of ours that accepted
   nothing fails too;
8. prints a summary: every run, ours / the floor of the same round for accepted/s and
   p99, PASS/FAIL against issue 19's aim (ours >= 60 % of the floor's accepted/s and
   p99 <= 2 x the floor's; printed, not the exit code), gunicorn CPU, PostgreSQL tuples
   fetched and Redis commands per request, and the host speed before and after;
9. stops gunicorn, drops the databases, flushes both Redis dbs and removes the temporary
   directory, also on Ctrl-C or SIGTERM (exit 130). Exit 0 only if every verification
   passed.

Gunicorn configuration (`--configs sync:3,sync:4,sync:5,sync:6,gthread:2x4 --repeat 3`,
10 s runs, development, a quiet machine; medians):

    sync 3 workers     594/s  p50 26.8 ms  p99 32.2 ms
    sync 4 workers     596/s  p50 26.5 ms  p99 32.9 ms   <- default
    sync 5 workers     600/s  p50 26.5 ms  p99 33.7 ms
    sync 6 workers     585/s  p50 27.1 ms  p99 34.5 ms
    gthread 2 x 4      535/s  p50 33.8 ms  p99 62.7 ms
    gthread 3 x 2, 4 x 2 (noisier runs): p99 75-100 ms

Default: 4 sync workers. A request is ~2.3 ms of Python CPU and ~1 ms of waiting on
PostgreSQL and Redis, so two processes per core keep both cores busy; 3-5 are a
plateau, 6 starts to pay for context switches; gthread queues requests behind the GIL
inside a process and its p99 doubles. Every run prints the share of CPU taken by
processes outside the bench and warns above 15%: on a shared machine such runs
understate the stack. It prints the share the hypervisor gave to other guests while
this machine was ready to run (steal, from /proc/stat) and warns above 10%: on a
virtual machine that slows every process of the run at once.

Production mode (`--environment production`, model `sora-2-2025-10-06`, the snapshot it
is pinned to) exercises the budget path. Its $1000 monthly budget at $0.40 per 4-second
request admits at most 2,500 submissions per bench database; the bench does not raise
it (a protected environment's policy changes only through an approved migration plan),
so in that mode the defaults shrink to a 1 s warm-up and 5 s measured run, and a run
that still hits the cap is flagged: its accepted/s is then capped by the budget. To
measure the budget path at length, give an unprotected environment a large budget, as the
default run does for staging: `--environment staging --budget 1000000` (a new policy
revision in the bench database, written by the same service as the policy editor).

Other options: `--environment` (ours in that one environment only), `--no-floor`,
`--workers`, `--worker-class`, `--threads`, `--connections`, `--duration`, `--warmup`,
`--model`, `--sweep` (a preset list of configurations), `--configs`, `--repeat` (rounds),
`--db-name`, `--redis-db`, `--floor-db-name`, `--floor-redis-db`, `--keep` (leave the
databases and temp dir), `--py-spy PATH`
(sample the workers during the measured run with a py-spy binary you installed
elsewhere; see bench/README.md). bench/components.py breaks one request down.

LiteLLM's proxy (`--litellm`): a third side in every round (floor, ours, LiteLLM: A B C A B C),
LiteLLM's proxy forwarding the same `POST /v1/videos` (same body, connections and durations;
its master key as the bearer key) to a bare OpenAI-shaped upstream, with as many uvicorn
workers as ours has gunicorn workers (or `--litellm-workers N`). bench/litellm_proxy.py installs it once into its own
virtualenv (var/bench/litellm-venv) and says how it is configured. Without the flag it runs
only if that virtualenv is already there (`--no-litellm` leaves it out), so a fresh clone's
`make bench` neither installs it nor takes longer. The summary adds ours / LiteLLM per round.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import litellm_proxy
from processes import stop_process_group

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
CELERY_QUEUE_KEY = "celery"
RATE_LIMIT_PER_MINUTE = 1_000_000  # counted on every request (governance on), never reached by one bench key
SWEEP_CONFIGS = [
    ("sync", 3, 1),
    ("sync", 4, 1),
    ("sync", 5, 1),
    ("sync", 6, 1),
    ("gthread", 2, 4),
    ("gthread", 3, 2),
    ("gthread", 4, 2),
]
MODEL_BY_ENVIRONMENT = {"production": "sora-2-2025-10-06"}  # production is pinned to the old snapshot
BUDGETED_ENVIRONMENTS = {"production"}  # as seeded by seed_demo
# --budget: the environment's next policy revision, through the same service as the policy editor.
BUDGET_SCRIPT = """
from decimal import Decimal
from governance.audit.services import Actor
from governance.policies.selectors import current_revision
from governance.policies.services import revise_policy
from governance.projects.models import Environment
environment = Environment.objects.get(project__slug="demo", name=%r)
current = current_revision(environment)
revise_policy(environment=environment, provider=current.provider, actor=Actor.system("bench"),
              reason="bench: measure the budget path", monthly_budget=Decimal(%r))
"""
DEFAULT_MODEL = "sora-2-2025-12-08"
# Ours runs in these environments by default, the budgeted one with a budget no run reaches.
DEFAULT_ENVIRONMENTS = [("development", ""), ("staging", "1000000")]
AIM_SHARE, AIM_P99_FACTOR = 0.60, 2.0  # issue 19: >= 60 % of the floor's accepted/s, p99 <= 2 x the floor's
# A run is marked disturbed above these shares of a core: others' processes on this machine, or the hypervisor
# running other guests while this machine's CPUs were ready to run (steal: up to 30 % of a core in one run here).
OTHER_LIMIT, STOLEN_LIMIT = 0.15, 0.10
AIM_LITELLM_FACTOR = 4.0  # issue 19: ours >= 4 x LiteLLM's proxy's accepted/s in every round
FLOOR_DIR = ROOT / "bench" / "floor"
PROMPT = "A calico cat surfing a slow wave at sunset, wide shot."

LUA_TEMPLATE = r"""
-- Written by bench/submit.py: POST /v1/videos, count 200s apart from the rest.
wrk.method = "POST"
wrk.path = "/v1/videos"
wrk.body = __BODY__
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. __KEY__

local threads = {}
local req = nil

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok = 0
  other = 0
  sent = 0
  req = wrk.format()
end

-- Count every request written to a socket, so requests still in flight when wrk
-- stops (answered by the server, but never read by wrk) are accounted for too.
function request()
  sent = sent + 1
  return req
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local ok_total, other_total, sent_total = 0, 0, 0
  for _, thread in ipairs(threads) do
    ok_total = ok_total + thread:get("ok")
    other_total = other_total + thread:get("other")
    sent_total = sent_total + thread:get("sent")
  end
  -- wrk calls request() once on its first thread before the run, to check the script
  -- (script_verify_request in wrk.c); that request is never sent.
  sent_total = sent_total - 1
  local e = summary.errors
  io.write(string.format(
    "BENCH-RESULT requests=%d sent=%d ok=%d other=%d duration_us=%d " ..
    "p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f " ..
    "connect=%d read=%d write=%d timeout=%d status=%d\n",
    summary.requests, sent_total, ok_total, other_total, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.timeout, e.status))
end
"""


class BenchError(Exception):
    """Something the operator must fix; printed without a traceback."""


@dataclass
class RunResult:
    requests: int
    sent: int
    ok: int
    other: int
    duration_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    socket_errors: dict
    cpu: dict = field(default_factory=dict)  # share of one core, per process group, filled in by bench_config
    per_request: dict = field(default_factory=dict)  # gunicorn CPU ms, PostgreSQL tuples, Redis commands
    verified: bool | None = None  # rows = requests = queued first steps after this run (None: not checked)

    @property
    def accepted_per_s(self) -> float:
        return self.ok / self.duration_s if self.duration_s else 0.0

    @property
    def in_flight_at_stop(self) -> int:
        """Requests written but not answered when wrk stopped (the server still handles them)."""
        return self.sent - self.ok - self.other


@dataclass
class Stack:
    """One side of the comparison: a Django project under gunicorn, its database and Redis db, what it was sent."""

    args: argparse.Namespace
    tmp: Path
    name: str = "ours"
    db_name: str = "governance_bench"
    redis_db: int = 13
    wsgi: str = "governance.wsgi"
    cwd: Path = ROOT
    table: str = "generations_generation"
    queue_key: str = CELERY_QUEUE_KEY
    ready_path: str = "/v1/models"  # authenticated with ready_key, so Django and the database are up
    ready_key: str = ""
    env: dict = field(default_factory=dict)
    port: int = 0
    gunicorn: subprocess.Popen | None = None
    gunicorn_log: Path | None = None
    db_created: bool = False
    accepted_total: int = 0
    other_total: int = 0
    sent_total: int = 0


@dataclass
class Variant:
    """What one run measures: a stack, and the load (its own key and environment for ours)."""

    label: str
    stack: Stack
    lua: Path
    environment: str = ""
    model: str = ""  # for LiteLLM's proxy, the one model its config routes

    @property
    def is_floor(self) -> bool:
        return self.stack.name == "floor"

    @property
    def is_litellm(self) -> bool:
        return self.stack.name == "litellm"


# --------------------------------------------------------------------------- services


def check_services(args: argparse.Namespace) -> tuple[str, str]:
    import psycopg
    import redis

    try:
        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=3) as conn:
            pg_version = conn.execute("SHOW server_version").fetchone()[0]
    except psycopg.OperationalError as error:
        raise BenchError(
            f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} as user '{PG_USER}': {error}".strip()
            + "\nStart PostgreSQL (trust auth for 127.0.0.1) and run the bench again."
        ) from None
    try:
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=args.redis_db, socket_connect_timeout=3)
        client.ping()
        redis_version = client.info("server")["redis_version"]
    except redis.RedisError as error:
        raise BenchError(
            f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT}: {error}\nStart Redis and run the bench again."
        ) from None
    if shutil.which("wrk") is None:
        raise BenchError(
            "wrk is not installed; the bench uses it as a low-overhead load generator.\n"
            "Install it with: apt-get install -y wrk"
        )
    return pg_version, redis_version


def admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True) as conn:
        conn.execute(sql)


_redis_clients: dict = {}


def redis_client(db: int):
    """One client per db, so our own counters' connection handshakes (HELLO, SELECT) are not counted per read."""
    import redis

    if db not in _redis_clients:
        _redis_clients[db] = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)
    return _redis_clients[db]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- setup


def create_database(stack: Stack) -> None:
    """A fresh database and an empty Redis db for this side, and the environment its processes run with."""
    admin_sql(f'DROP DATABASE IF EXISTS "{stack.db_name}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{stack.db_name}"')
    stack.db_created = True
    redis_client(stack.redis_db).flushdb()
    redis_url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{stack.redis_db}"
    stack.env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{stack.db_name}",
        "CELERY_BROKER_URL": redis_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "bench-only-secret-key-not-the-development-default-0123456789",
        "DEBUG": "0",
        "GOVERNANCE_DATA_DIR": str(stack.tmp / "data"),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "PYTHONDONTWRITEBYTECODE": "1",
        # The demo's models are served by the built-in simulator, off by default with DEBUG=0: without it
        # every request is refused (provider_not_configured) and the bench would measure refusals.
        "SIMULATOR_ENABLED": "1",
    }
    stack.env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    stack.env.pop("DJANGO_SETTINGS_MODULE", None)


def prepare(stack: Stack, environments: list[tuple[str, str]]) -> dict[str, str]:
    """Migrate and seed ours; per (environment, budget): a rate limit it never reaches, the budget if any, a key."""
    create_database(stack)
    manage = [sys.executable, str(ROOT / "manage.py")]
    step("migrate", [*manage, "migrate", "--noinput", "-v", "0"], stack.env)
    step("seed_demo", [*manage, "seed_demo"], stack.env)
    keys = {}
    for environment, budget in environments:
        limit = [*manage, "set_rate_limit", "demo", environment, str(RATE_LIMIT_PER_MINUTE)]
        step(f"set_rate_limit {environment}", limit, stack.env)
        if budget:
            script = BUDGET_SCRIPT % (environment, budget)
            step(f"set budget {environment}", [*manage, "shell", "-c", script], stack.env)
        command = [*manage, "create_api_key", "demo", environment, "--name", "bench"]
        output = step(f"create_api_key {environment}", command, stack.env)
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        if not lines:
            raise BenchError("create_api_key printed no key")
        keys[environment] = lines[-1]
    stack.ready_key = next(iter(keys.values()))
    return keys


def prepare_floor(stack: Stack) -> None:
    """The floor's own database and Redis db, and its one table (bench/floor, a migration of its own)."""
    create_database(stack)
    step("floor migrate", [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], stack.env, stack.cwd)


def step(name: str, command: list[str], env: dict, cwd: Path = ROOT) -> str:
    started = time.monotonic()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"{name} failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    print(f"  {name}: ok ({time.monotonic() - started:.1f} s)", flush=True)
    return done.stdout


def start_gunicorn(stack: Stack, worker_class: str, workers: int, threads: int) -> None:
    stack.port = free_port()
    stack.gunicorn_log = stack.tmp / f"gunicorn-{stack.name}-{worker_class}-{workers}x{threads}.log"
    command = [
        str(BIN / "gunicorn"), stack.wsgi,
        "--bind", f"127.0.0.1:{stack.port}",
        "--worker-class", worker_class,
        "--workers", str(workers),
        "--threads", str(threads),
        "--log-level", "warning",
        "--no-control-socket",
        "--backlog", "2048",
    ]  # fmt: skip
    if Path("/dev/shm").is_dir():
        command += ["--worker-tmp-dir", "/dev/shm"]  # heartbeat file in RAM, not on the overlay filesystem
    log = open(stack.gunicorn_log, "w")
    stack.gunicorn = subprocess.Popen(
        command, cwd=stack.cwd, env=stack.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    log.close()
    wait_until_ready(stack, workers)


def start_dispatcher(stack: Stack) -> subprocess.Popen | None:
    """Ours' outbox dispatcher (`manage.py dispatch_generations --every 0.1`, or `--dispatch-every`), which
    publishes the accepted rows.

    In production it is a process of its own on a worker host (docs/operations.md); here it shares the host
    with the web server, its CPU and its LPUSHes count against ours, and the floor, which publishes in its
    request, has none.
    """
    if stack.name == "floor":
        return None
    log = open(stack.tmp / "dispatcher.log", "a")
    command = [
        sys.executable,
        str(ROOT / "manage.py"),
        "dispatch_generations",
        "--every",
        str(stack.args.dispatch_every),
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=stack.env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return process


def stop_dispatcher(stack: Stack, process: subprocess.Popen | None) -> None:
    """Stop the dispatcher, then dispatch once more: what it had not sent yet must reach the queue too."""
    if process is None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    step("final dispatch", [sys.executable, str(ROOT / "manage.py"), "dispatch_generations"], stack.env)


def wait_until_ready(stack: Stack, workers: int) -> None:
    """Poll the ready path (for ours GET /v1/models, authenticated, so Django and the DB are up) until every
    worker could answer."""
    deadline = time.monotonic() + 60
    headers = {"Authorization": f"Bearer {stack.ready_key}"} if stack.ready_key else {}
    request = urllib.request.Request(f"http://127.0.0.1:{stack.port}{stack.ready_path}", headers=headers)
    answered = 0
    while time.monotonic() < deadline:
        if stack.gunicorn.poll() is not None:
            raise BenchError(f"gunicorn exited with code {stack.gunicorn.returncode}:\n{tail(stack.gunicorn_log)}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    answered += 1
                    if answered >= workers * 2:
                        return
                    continue
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise BenchError(f"gunicorn did not answer within 60 s:\n{tail(stack.gunicorn_log)}")


def stop_gunicorn(stack: Stack) -> None:
    process, stack.gunicorn = stack.gunicorn, None
    stop_process_group(process)


def tail(path: Path | None, lines: int = 30) -> str:
    if path is None or not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# --------------------------------------------------------------------------- load


def write_lua(tmp: Path, model: str, api_key: str, name: str) -> Path:
    """wrk's script: the same body for every side; the floor ignores the key (it has no auth to do)."""
    body = json.dumps({"prompt": PROMPT, "model": model, "seconds": "4"})
    script = LUA_TEMPLATE.replace("__BODY__", lua_string(body)).replace("__KEY__", lua_string(api_key))
    path = tmp / f"post_videos-{name}.lua"
    path.write_text(script)
    return path


def lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_wrk(stack: Stack, lua: Path, seconds: int) -> RunResult:
    args = stack.args
    command = [
        "wrk",
        "--threads", str(args.wrk_threads),
        "--connections", str(args.connections),
        "--duration", f"{seconds}s",
        "--timeout", "10s",
        "--script", str(lua),
        f"http://127.0.0.1:{stack.port}/v1/videos",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    match = re.search(r"^BENCH-RESULT (.*)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or match is None:
        raise BenchError(f"wrk failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    values = dict(item.split("=", 1) for item in match.group(1).split())
    result = RunResult(
        requests=int(values["requests"]),
        sent=int(values["sent"]),
        ok=int(values["ok"]),
        other=int(values["other"]),
        duration_s=int(values["duration_us"]) / 1e6,
        p50_ms=int(values["p50_us"]) / 1000,
        p90_ms=int(values["p90_us"]) / 1000,
        p99_ms=int(values["p99_us"]) / 1000,
        max_ms=int(values["max_us"]) / 1000,
        mean_ms=float(values["mean_us"]) / 1000,
        socket_errors={name: int(values[name]) for name in ("connect", "read", "write", "timeout")},
    )
    stack.accepted_total += result.ok
    stack.other_total += result.other
    stack.sent_total += result.sent
    return result


# --------------------------------------------------------------------------- verification and counters


_connections: dict = {}


def bench_connection(stack: Stack):
    """One autocommit connection per bench database for the bench's own reads: a new connection per poll
    would read the catalogs (pg_database, pg_authid) and add to the per-request counters."""
    import psycopg

    conn = _connections.get(stack.db_name)
    if conn is None or conn.closed:
        conn = psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=stack.db_name, autocommit=True)
        _connections[stack.db_name] = conn
    return conn


def database_counts(stack: Stack) -> dict[str, int]:

    rows = bench_connection(stack).execute(f"SELECT status, count(*) FROM {stack.table} GROUP BY status").fetchall()
    return {status: count for status, count in rows}


def pg_counters(stack: Stack) -> dict[str, int]:
    """Cumulative per-database activity, to divide by the requests served."""
    import psycopg

    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_fetched, tup_returned, sessions "
            "FROM pg_stat_database WHERE datname = %s",
            (stack.db_name,),
        ).fetchone()
    names = ("xact_commit", "xact_rollback", "tup_inserted", "tup_updated", "tup_fetched", "tup_returned", "sessions")
    return dict(zip(names, row or (0,) * len(names), strict=True))


def pg_table_fetches(stack: Stack) -> dict[str, int]:
    """Rows fetched by index scans per table of this side's database (its catalogs included, the catalogs
    shared by every database left out), to say where `tup_fetched` comes from."""

    conn = bench_connection(stack)
    conn.execute("SELECT pg_stat_clear_snapshot()")
    rows = conn.execute(
        "SELECT s.relname, s.idx_tup_fetch FROM pg_stat_all_tables s JOIN pg_class c ON c.oid = s.relid "
        "WHERE coalesce(s.idx_tup_fetch, 0) > 0 AND NOT c.relisshared"  # shared catalogs count every database
    ).fetchall()
    return dict(rows)


def redis_counters(stack: Stack) -> dict[str, int]:
    """Cumulative server-wide command counts (Redis has no per-db stats: other clients of this server count too)."""
    stats = redis_client(stack.redis_db).info("commandstats")
    return {name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()}


def delta(after: dict, before: dict) -> dict:
    return {key: after[key] - before.get(key, 0) for key in after if after[key] - before.get(key, 0)}


def verify(stack: Stack) -> bool:
    """Every request the server received left exactly one row; every queued row exactly one queued message.

    Counted over every run on this side so far (ours' two environments share one database),
    and checked after each run, so a mismatch points at the run just done. wrk stops
    mid-flight: the last request on each connection is written but its answer is never read.
    The server still handles it, so the rows are compared with the requests *sent* (counted
    in Lua as they are written), and the 200s seen by wrk must be among them.
    """
    counts = database_counts(stack)
    queued = counts.get("queued", 0)
    refused = counts.get("refused", 0)
    other_statuses = {status: n for status, n in counts.items() if status not in ("queued", "refused")}
    queue_length, queue_steps = queued_steps(stack)
    in_flight = stack.sent_total - stack.accepted_total - stack.other_total
    rows_ok = queued + refused == stack.sent_total
    rows_ok = rows_ok and stack.accepted_total <= queued <= stack.accepted_total + in_flight
    queue_ok = queue_steps == queued
    print(
        f"  rows: {queued} queued, {refused} refused; requests sent {stack.sent_total} "
        f"(answered 200: {stack.accepted_total}, answered otherwise: {stack.other_total}, "
        f"in flight when wrk stopped: {in_flight}; all runs so far, warm-ups included) -> "
        f"{'OK' if rows_ok else 'MISMATCH'}" + (f"; other statuses: {other_statuses}" if other_statuses else "")
    )
    print(
        f"  {stack.name} queue: {queue_length} messages in Redis db {stack.redis_db} list '{stack.queue_key}', "
        f"starting {queue_steps} generations, for {queued} queued rows -> {'OK' if queue_ok else 'MISMATCH'}"
    )
    return rows_ok and queue_ok and not other_statuses


def queued_steps(stack: Stack) -> tuple[int, int]:
    """The messages waiting in the side's queue, and the generations they start.

    The floor pushes one entry per row. Ours sends first steps several to a Celery message
    (`start_generations`), so each message is opened: kombu's envelope, then the body's args.
    """
    entries = redis_client(stack.redis_db).lrange(stack.queue_key, 0, -1)
    if stack.queue_key != CELERY_QUEUE_KEY:
        return len(entries), len(entries)
    steps = 0
    for entry in entries:
        envelope = json.loads(entry)
        args, _kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
        steps += len(args[0]) if envelope["headers"]["task"].endswith(".start_generations") else 1
    return len(entries), steps


def refusal_codes(stack: Stack) -> dict[str, int]:
    """Why ours refused what it refused (error_code per refused row), to tell a misconfigured bench at once."""

    rows = (
        bench_connection(stack)
        .execute(f"SELECT error_code, count(*) FROM {stack.table} WHERE status = 'refused' GROUP BY error_code")
        .fetchall()
    )
    return {code: count for code, count in rows}


def rows_recorded(stack: Stack) -> int:
    return sum(database_counts(stack).values())


def wait_for_drain(stack: Stack, timeout: float = 30.0) -> None:
    """Let the server finish the requests wrk left in flight (they sit in gunicorn's backlog)."""
    deadline = time.monotonic() + timeout
    last, stable = -1, 0
    while time.monotonic() < deadline:
        rows = rows_recorded(stack)
        if rows >= stack.sent_total:
            return
        stable = stable + 1 if rows == last else 0
        if stable >= 10:  # nothing new for a second: whatever is missing is not coming
            return
        last = rows
        time.sleep(0.1)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float, float]:
    """(busy, total, stolen) CPU seconds of the whole machine so far, from /proc/stat.

    Stolen is the time the machine's virtual CPUs were ready to run and the hypervisor ran another
    guest instead; it is not busy time of anything here, so it is counted apart from busy.
    """
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle, steal = fields[3] + fields[4], fields[7]  # idle + iowait; steal
    return (sum(fields) - idle - steal) / CLOCK_TICKS, sum(fields) / CLOCK_TICKS, steal / CLOCK_TICKS


def process_cpu(pids: list[int]) -> float:
    """User+system CPU seconds of these processes so far (those that have exited count as 0)."""
    total = 0.0
    for one in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def service_pids(stack: Stack) -> tuple[list[int], list[int]]:
    """PostgreSQL backends serving the bench database, and the Redis server."""
    import psycopg

    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True) as conn:
        pg = [
            row[0]
            for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (stack.db_name,)
            )
        ]
    redis_pid = redis_client(stack.redis_db).info("server").get("process_id")
    return pg, [int(redis_pid)] if redis_pid else []


def tree_cpu(pid: int) -> float:
    """User+system CPU seconds of a process and its live children (gunicorn master and workers)."""
    total = 0.0
    pids = [pid]
    with contextlib.suppress(FileNotFoundError):
        pids += [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for one in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def start_py_spy(stack: Stack) -> subprocess.Popen:
    """Sample every gunicorn worker during the measured run (py-spy is not a dependency: pass its path)."""
    args = stack.args
    command = [
        args.py_spy, "record", "--pid", str(stack.gunicorn.pid), "--subprocesses", "--nonblocking",
        "--rate", "250", "--duration", str(args.duration), "--format", "raw", "--output", args.profile_out,
    ]  # fmt: skip
    if args.profile_idle:
        command.append("--idle")  # include time blocked on sockets (PostgreSQL, Redis, accept)
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def summarize_profile(path: Path, served: int, top: int = 30) -> None:
    """Inclusive share of samples per function (each counted once per stack), from py-spy's collapsed stacks."""
    from collections import Counter

    if not path.exists():
        print(f"  py-spy wrote no profile to {path}")
        return
    inclusive: Counter = Counter()
    leaf: Counter = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [re.sub(r":\d+\)$", ")", frame.strip()) for frame in stack_text.split(";")]
        frames = [frame for frame in frames if not frame.startswith("process ")]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        if frames:
            leaf[frames[-1]] += count
    if not total:
        return
    print(f"\n  py-spy: {total} samples over all gunicorn processes ({path}); inclusive % of samples:")
    for frame, count in inclusive.most_common(top):
        print(f"    {100 * count / total:5.1f}%  {frame}")
    print("  leaf (self) time:")
    for frame, count in leaf.most_common(15):
        print(f"    {100 * count / total:5.1f}%  {frame}")


# --------------------------------------------------------------------------- reporting


def print_result(label: str, result: RunResult, config: str) -> None:
    print(f"\n=== {label}: POST /v1/videos, {config}")
    print(f"  requests:      {result.requests} in {result.duration_s:.1f} s")
    print(f"  accepted (200): {result.ok}")
    errors = {name: n for name, n in result.socket_errors.items() if n}
    print(f"  refused/other: {result.other}" + (f"   socket errors: {errors}" if errors else ""))
    print(f"  accepted/s:    {result.accepted_per_s:.0f}")
    print(
        f"  latency ms:    p50 {result.p50_ms:.1f}   p90 {result.p90_ms:.1f}   p99 {result.p99_ms:.1f}   "
        f"max {result.max_ms:.1f}   mean {result.mean_ms:.1f}"
    )


def print_per_request(pg: dict, rd: dict, served: int) -> None:
    if not served:
        return
    pg_part = ", ".join(f"{k} {v / served:.2f}" for k, v in pg.items())
    top = sorted(rd.items(), key=lambda item: -item[1])[:8]
    rd_part = ", ".join(f"{k} {v / served:.2f}" for k, v in top)
    print(f"  per request:   PostgreSQL {pg_part}")
    print(f"                 Redis commands {rd_part}")


def bench_config(variant: Variant, worker_class: str, workers: int, threads: int) -> RunResult:
    stack, lua = variant.stack, variant.lua
    args = stack.args
    config = f"gunicorn {worker_class} workers={workers}" + (f" threads={threads}" if worker_class == "gthread" else "")
    start_gunicorn(stack, worker_class, workers, threads)
    dispatcher = start_dispatcher(stack)
    spy = None
    try:
        if args.warmup:
            run_wrk(stack, lua, args.warmup)
            wait_for_drain(stack)
        pg_before, rd_before, tables_before = pg_counters(stack), redis_counters(stack), pg_table_fetches(stack)
        pg_pids, redis_pids = service_pids(stack)
        pg_cpu_before = {pid: process_cpu([pid]) for pid in pg_pids}
        redis_cpu_before = process_cpu(redis_pids)
        busy_before, total_before, stolen_before = machine_cpu()
        web_before = tree_cpu(stack.gunicorn.pid)
        dispatcher_before = process_cpu([dispatcher.pid]) if dispatcher else 0.0
        wrk_before = os.times()
        spy = start_py_spy(stack) if args.py_spy and not variant.is_floor else None
        result = run_wrk(stack, lua, args.duration)
        wrk_after = os.times()
        web_after = tree_cpu(stack.gunicorn.pid)
        dispatcher_after = process_cpu([dispatcher.pid]) if dispatcher else 0.0
        busy_after, total_after, stolen_after = machine_cpu()
        redis_cpu_after = process_cpu(redis_pids)
        pg_pids_after = set(service_pids(stack)[0]) | set(pg_pids)  # backends opened during the run count in full
        pg_cpu = sum(process_cpu([pid]) - pg_cpu_before.get(pid, 0.0) for pid in pg_pids_after)
        if spy is not None:
            spy.wait()
            spy = None
        wait_for_drain(stack)
        pg_after, rd_after, tables_after = pg_counters(stack), redis_counters(stack), pg_table_fetches(stack)
    finally:
        if spy is not None:
            spy.kill()
            spy.wait()
        stop_gunicorn(stack)
        stop_dispatcher(stack, dispatcher)
    seconds = result.duration_s
    dispatcher_cpu = dispatcher_after - dispatcher_before
    wrk_cpu = sum(wrk_after[2:4]) - sum(wrk_before[2:4])  # children_user + children_system: wrk, our only child
    web_cpu, busy = web_after - web_before, busy_after - busy_before
    redis_cpu = redis_cpu_after - redis_cpu_before
    result.cpu = {
        "cores": (total_after - total_before) / seconds,
        "busy": busy / seconds,
        "gunicorn": web_cpu / seconds,
        "postgres": pg_cpu / seconds,
        "redis": redis_cpu / seconds,
        "wrk": wrk_cpu / seconds,
        "dispatcher": dispatcher_cpu / seconds,
        "other": (busy - web_cpu - wrk_cpu - pg_cpu - redis_cpu - dispatcher_cpu) / seconds,
        "stolen": (stolen_after - stolen_before) / seconds,
    }
    print_result(f"{variant.label}, {args.connections} connections", result, config)
    share = {name: f"{100 * value:.0f}%" for name, value in result.cpu.items()}
    served = max(1, result.ok + result.other)
    print(
        f"  CPU (of {result.cpu['cores']:.1f} cores): busy {share['busy']} = gunicorn {share['gunicorn']} + "
        f"PostgreSQL backends {share['postgres']} + Redis {share['redis']} + wrk {share['wrk']} + "
        f"outbox dispatcher {share['dispatcher']} + other "
        f"(kernel softirq, PostgreSQL WAL writer, other processes on the machine) {share['other']}; "
        f"taken by the hypervisor (steal) {share['stolen']}"
    )
    print(
        f"  CPU per request: gunicorn {1000 * web_cpu / served:.2f} ms, PostgreSQL {1000 * pg_cpu / served:.2f} ms, "
        f"Redis {1000 * redis_cpu / served:.2f} ms, outbox dispatcher {1000 * dispatcher_cpu / served:.2f} ms"
    )
    if result.cpu["other"] > OTHER_LIMIT:
        print(
            f"  WARNING: {share['other']} of a core went to processes outside the bench (others are using this "
            f"machine); these figures understate the stack. Run again when the machine is quiet."
        )
    warn_if_stolen(result)
    pg, rd = delta(pg_after, pg_before), delta(rd_after, rd_before)
    print_per_request(pg, rd, served)
    tables = sorted(delta(tables_after, tables_before).items(), key=lambda item: -item[1])[:6]
    if tables:
        by_table = ", ".join(f"{name} {count / served:.2f}" for name, count in tables)
        print(f"                 rows fetched by index, by table: {by_table}")
    result.per_request = {
        "gunicorn_cpu_ms": 1000 * web_cpu / served,
        "tup_fetched": pg.get("tup_fetched", 0) / served,
        # INFO is the bench's own (these counters, service_pids); Redis counts every client of the server.
        "redis_commands": sum(n for name, n in rd.items() if name != "info") / served,
    }
    if args.py_spy and not variant.is_floor:
        summarize_profile(Path(args.profile_out), served)
    return result


def bench_litellm(variant: Variant, worker_class: str, workers: int, threads: int) -> RunResult:
    """LiteLLM's proxy under the same load as ours, with ours' worker count unless --litellm-workers; verified by
    what its upstream received."""
    stack, args = variant.stack, variant.stack.args
    workers = args.litellm_workers or workers
    proxy = litellm_proxy.Proxy(tmp=stack.tmp, model=variant.model, workers=workers)
    sent_before, ok_before, other_before = stack.sent_total, stack.accepted_total, stack.other_total
    try:
        proxy.start(free_port)
        stack.port = proxy.port
        if args.warmup:
            run_wrk(stack, variant.lua, args.warmup)
            proxy.wait_for_drain(stack.sent_total - sent_before)
        proxy_before, (busy_before, total_before, stolen_before), wrk_before = proxy.cpu(), machine_cpu(), os.times()
        result = run_wrk(stack, variant.lua, args.duration)
        wrk_after, proxy_after, (busy_after, total_after, stolen_after) = os.times(), proxy.cpu(), machine_cpu()
        received = proxy.wait_for_drain(stack.sent_total - sent_before)
    finally:
        proxy.stop()
    seconds = result.duration_s
    litellm_cpu = proxy_after["litellm"] - proxy_before["litellm"]
    upstream_cpu = proxy_after["upstream"] - proxy_before["upstream"]
    wrk_cpu = sum(wrk_after[2:4]) - sum(wrk_before[2:4])
    busy = busy_after - busy_before
    result.cpu = {
        "cores": (total_after - total_before) / seconds,
        "busy": busy / seconds,
        "gunicorn": litellm_cpu / seconds,  # the server under test: LiteLLM's uvicorn supervisor and workers
        "upstream": upstream_cpu / seconds,
        "wrk": wrk_cpu / seconds,
        "other": (busy - litellm_cpu - upstream_cpu - wrk_cpu) / seconds,
        "stolen": (stolen_after - stolen_before) / seconds,
    }
    print_result(f"{variant.label}, {args.connections} connections", result, f"LiteLLM's proxy, {workers} workers")
    share = {name: f"{100 * value:.0f}%" for name, value in result.cpu.items()}
    served = max(1, result.ok + result.other)
    print(
        f"  CPU (of {result.cpu['cores']:.1f} cores): busy {share['busy']} = LiteLLM {share['gunicorn']} + its "
        f"upstream {share['upstream']} + wrk {share['wrk']} + other {share['other']}; taken by the hypervisor "
        f"(steal) {share['stolen']}"
    )
    print(
        f"  CPU per request: LiteLLM {1000 * litellm_cpu / served:.2f} ms, its upstream "
        f"{1000 * upstream_cpu / served:.2f} ms"
    )
    if result.cpu["other"] > OTHER_LIMIT:
        print(f"  WARNING: {share['other']} of a core went to processes outside the bench; run again when quiet.")
    warn_if_stolen(result)
    result.per_request = {
        "gunicorn_cpu_ms": 1000 * litellm_cpu / served,
        "upstream_cpu_ms": 1000 * upstream_cpu / served,
    }
    result.verified = verify_litellm(
        stack, received, stack.sent_total - sent_before, stack.accepted_total - ok_before,
        stack.other_total - other_before,
    )  # fmt: skip
    return result


def verify_litellm(stack: Stack, received: dict[str, int], sent: int, ok: int, other: int) -> bool:
    """LiteLLM forwarded what it accepted: each 200 it answered is a create its upstream accepted (this run,
    warm-up included; the requests in flight when wrk stopped may have reached the upstream too)."""
    in_flight = sent - ok - other
    forwarded = ok <= received["created"] <= ok + in_flight and not received["refused"]
    print("  verification (after the upstream stopped receiving):")
    print(
        f"  upstream: {received['created']} creates accepted, {received['refused']} refused; LiteLLM answered 200 to "
        f"{ok}, otherwise (non-2xx) to {other}, in flight when wrk stopped: {in_flight} (this run, warm-up "
        f"included) -> {'OK' if forwarded else 'MISMATCH'}"
    )
    if other:
        print(f"  WARNING: LiteLLM answered {other} requests with another status than 200; the end of its log:")
        print(textwrap.indent(litellm_proxy.tail(stack.tmp / "litellm-litellm.log", 10), "    "))
    if not ok:
        print("  FAILED: LiteLLM's proxy accepted nothing in this run; there is no ratio to report")
    return forwarded and ok > 0


def parse_config(text: str) -> tuple[str, int, int]:
    worker_class, _, shape = text.strip().partition(":")
    workers, _, threads = shape.partition("x")
    if worker_class not in ("sync", "gthread") or not workers.isdigit() or (threads and not threads.isdigit()):
        raise BenchError(f"bad configuration '{text}': use sync:N or gthread:NxT")
    return worker_class, int(workers), int(threads or 1) if worker_class == "gthread" else 1


def config_name(worker_class: str, workers: int, threads: int) -> str:
    return f"{worker_class}:{workers}" + (f"x{threads}" if worker_class == "gthread" else "")


@dataclass
class Row:
    """One run in the summary, with the floor's run of the same round and configuration (None without a floor)."""

    round: int
    config: tuple[str, int, int]
    variant: Variant
    result: RunResult
    floor: RunResult | None


def disturbed(result: RunResult) -> bool:
    """Whether something outside the bench took enough CPU during the run to move its figures."""
    return result.cpu.get("other", 0) > OTHER_LIMIT or result.cpu.get("stolen", 0) > STOLEN_LIMIT


def warn_if_stolen(result: RunResult) -> None:
    stolen = result.cpu.get("stolen", 0)
    if stolen > STOLEN_LIMIT:
        print(
            f"  WARNING: the hypervisor ran other guests for {stolen:.0%} of a core while this machine was ready to "
            f"run (steal); every process here ran slower. Compare this run with care."
        )


def aim_met(result: RunResult, floor: RunResult) -> bool:
    """The issue's aim: at least 60 % of the floor's accepted/s, and p99 no more than twice the floor's."""
    return result.accepted_per_s >= AIM_SHARE * floor.accepted_per_s and result.p99_ms <= AIM_P99_FACTOR * floor.p99_ms


def print_summary(rows: list[Row], speeds: tuple[float, float]) -> None:
    """Every run, its ratios to the floor of its round, the aim per run, then the aims and medians overall."""
    import statistics

    print(
        f"\nSummary (host speed {speeds[0]:.0f} ms before, {speeds[1]:.0f} ms after; lower is faster). Ratios are "
        f"ours / the floor of the same round.\nAim: ours >= {AIM_SHARE:.0%} of the floor's accepted/s and ours' p99 "
        f"<= {AIM_P99_FACTOR:g} x the floor's. Per request: server CPU (gunicorn; for LiteLLM its uvicorn workers), "
        f"PostgreSQL tuples fetched, Redis commands."
    )
    print(
        f"  {'round':<6}{'config':<11}{'run':<24}{'acc/s':>7}{'p50 ms':>8}{'p99 ms':>8}{'acc/s %':>9}{'p99 x':>7}"
        f"{'aim':>6}{'CPU ms':>8}{'tuples':>8}{'Redis':>7}{'other CPU':>10}{'steal':>7}  verified"
    )
    for row in rows:
        result, floor = row.result, row.floor
        if floor is not None:
            share = f"{result.accepted_per_s / floor.accepted_per_s:.0%}" if floor.accepted_per_s else "-"
            p99 = f"{result.p99_ms / floor.p99_ms:.2f}" if floor.p99_ms else "-"
            aim = "-" if row.variant.is_litellm else "PASS" if aim_met(result, floor) else "FAIL"
        else:
            share = p99 = aim = "-"
        other = max(0.0, result.cpu.get("other", 0))  # can dip below 0 by rounding of the CPU clocks
        stolen = result.cpu.get("stolen", 0)
        counters = result.per_request
        verified = {True: "OK", False: "MISMATCH", None: "-"}[result.verified]
        print(
            f"  {row.round:<6}{config_name(*row.config):<11}{row.variant.label:<24}{result.accepted_per_s:>7.0f}"
            f"{result.p50_ms:>8.1f}{result.p99_ms:>8.1f}{share:>9}{p99:>7}{aim:>6}"
            f"{counters.get('gunicorn_cpu_ms', 0):>8.2f}{counters.get('tup_fetched', 0):>8.1f}"
            f"{counters.get('redis_commands', 0):>7.2f}{100 * other:>9.0f}%{'*' if other > OTHER_LIMIT else ' '}"
            f"{100 * stolen:>5.0f}%{'*' if stolen > STOLEN_LIMIT else ' '} {verified}"
        )
    if any(disturbed(row.result) for row in rows):
        print(
            f"  * disturbed: more than {OTHER_LIMIT:.0%} of a core went to processes outside the bench, or more than "
            f"{STOLEN_LIMIT:.0%} of one to the hypervisor's other guests (steal), during that run"
        )
    compared = [row for row in rows if row.floor is not None and not row.variant.is_litellm]
    labels = list(dict.fromkeys(row.variant.label for row in compared))
    for label in labels:
        mine = [row for row in compared if row.variant.label == label]
        met = sum(aim_met(row.result, row.floor) for row in mine)
        shares = [row.result.accepted_per_s / row.floor.accepted_per_s for row in mine if row.floor.accepted_per_s]
        factors = [row.result.p99_ms / row.floor.p99_ms for row in mine if row.floor.p99_ms]
        clean = undisturbed_count([(row.result, row.floor, aim_met(row.result, row.floor)) for row in mine])
        print(
            f"  {label}: aim met in {met} of {len(mine)} runs{clean}; median {statistics.median(shares):.0%} of the "
            f"floor's accepted/s, p99 {statistics.median(factors):.2f} x the floor's"
            if shares and factors
            else f"  {label}: aim met in {met} of {len(mine)} runs{clean}"
        )
    print_litellm_ratios(rows)
    if len(rows) > len({(row.config, row.variant.label) for row in rows}):
        print("\nMedian per configuration and run (undisturbed runs only, where there are any):")
        print(f"  {'config':<11}{'run':<24}{'acc/s':>7}{'p50 ms':>8}{'p99 ms':>8}{'runs':>6}")
        groups: dict = {}
        for row in rows:
            groups.setdefault((row.config, row.variant.label), []).append(row.result)
        for (config, label), runs in groups.items():
            quiet = [run for run in runs if not disturbed(run)] or runs
            print(
                f"  {config_name(*config):<11}{label:<24}{statistics.median(r.accepted_per_s for r in quiet):>7.0f}"
                f"{statistics.median(r.p50_ms for r in quiet):>8.1f}{statistics.median(r.p99_ms for r in quiet):>8.1f}"
                f"{len(quiet):>4}/{len(runs)}"
            )


def undisturbed_count(pairs: list[tuple[RunResult, RunResult, bool]]) -> str:
    """For (ours, the side it is compared with, aim met) pairs: `(n of m where neither side was disturbed)`, or ''
    when no run was disturbed."""
    clean = [passed for ours, theirs, passed in pairs if not disturbed(ours) and not disturbed(theirs)]
    if len(clean) == len(pairs):
        return ""
    return f" ({sum(clean)} of {len(clean)} where neither side was disturbed)"


def print_litellm_ratios(rows: list[Row]) -> None:
    """Ours / LiteLLM's proxy of the same round and configuration, per run of ours, and the aim (>= 4 x)."""
    litellm = {(row.round, row.config): row for row in rows if row.variant.is_litellm}
    if not litellm:
        return
    print(
        f"\nOurs / LiteLLM's proxy in the same round (aim: ours >= {AIM_LITELLM_FACTOR:g} x LiteLLM's accepted/s); "
        f"LiteLLM's CPU per request is that of its uvicorn workers and supervisor, its upstream's left out."
    )
    print(
        f"  {'round':<6}{'config':<11}{'run':<24}{'acc/s':>7}{'LiteLLM':>9}{'x acc/s':>9}{'x p99':>7}{'aim':>6}"
        f"{'LiteLLM CPU ms':>16}"
    )
    met: dict[str, list[tuple[RunResult, RunResult, bool]]] = {}
    for row in rows:
        theirs = litellm.get((row.round, row.config))
        if theirs is None or row.variant.is_floor or row.variant.is_litellm:
            continue
        start = (
            f"  {row.round:<6}{config_name(*row.config):<11}{row.variant.label:<24}{row.result.accepted_per_s:>7.0f}"
        )
        if not theirs.result.ok:
            print(f"{start}  LiteLLM accepted nothing in this round: no ratio")
            met.setdefault(row.variant.label, []).append((row.result, theirs.result, False))
            continue
        factor = row.result.accepted_per_s / theirs.result.accepted_per_s
        p99 = row.result.p99_ms / theirs.result.p99_ms if theirs.result.p99_ms else 0.0
        passed = factor >= AIM_LITELLM_FACTOR
        met.setdefault(row.variant.label, []).append((row.result, theirs.result, passed))
        print(
            f"{start}{theirs.result.accepted_per_s:>9.0f}{factor:>9.2f}{p99:>7.2f}{'PASS' if passed else 'FAIL':>6}"
            f"{theirs.result.per_request.get('gunicorn_cpu_ms', 0):>16.2f}"
        )
    for label, pairs in met.items():
        passed = sum(met_aim for _ours, _theirs, met_aim in pairs)
        print(
            f"  {label}: >= {AIM_LITELLM_FACTOR:g} x LiteLLM in {passed} of {len(pairs)} rounds"
            f"{undisturbed_count(pairs)}"
        )


def host_speed_ms() -> float:
    """The best of five timings of a fixed pure-Python loop, on the CPU clock.

    This machine's host runs the same code up to twice as fast on one day as on another;
    figures from different days compare only next to this number.
    """
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        total = 0
        for i in range(2_000_000):
            total += i % 7
        best = min(best, time.process_time() - started)
    return best * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--environment",
        default=None,
        choices=["development", "testing", "staging", "production"],
        help="Run ours in this environment only (default: development, and staging with a budget).",
    )
    parser.add_argument("--model", default=None, help="Model to request (default: one the environment allows).")
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--duration", type=int, default=None, help="Measured seconds (15; 5 in production).")
    parser.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="Warm-up seconds, not measured, rows still checked (3; 1 in production).",
    )
    parser.add_argument(
        "--budget",
        default="",
        metavar="DOLLARS",
        help="The monthly budget of the budgeted run (default 1000000 for staging), or with --environment: give "
        "that (unprotected) environment this budget first.",
    )
    parser.add_argument(
        "--dispatch-every",
        type=float,
        default=0.1,
        metavar="SECONDS",
        help="How often ours' outbox dispatcher runs beside gunicorn (0.1, as the dispatcher process in production; "
        "1 is beat's GENERATION_DISPATCH_SECONDS where no dispatcher process runs).",
    )
    parser.add_argument("--sweep", action="store_true", help="Try several gunicorn configurations in one go.")
    parser.add_argument("--db-name", default="governance_bench")
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument("--no-floor", action="store_true", help="Run ours only, without the floor (bench/floor).")
    parser.add_argument("--floor-db-name", default="governance_bench_floor")
    parser.add_argument("--floor-redis-db", type=int, default=14)
    parser.add_argument(
        "--repeat", type=int, default=None, help="Rounds: each configuration this many times (2 with a floor, else 1)"
    )
    parser.add_argument(
        "--configs",
        default="",
        metavar="LIST",
        help="Gunicorn configurations to compare, e.g. sync:3,sync:4,gthread:2x4 (workers x threads).",
    )
    parser.add_argument(
        "--litellm",
        action="store_true",
        help="Add LiteLLM's proxy to every round (installed into var/bench/litellm-venv the first time; see "
        "bench/litellm_proxy.py). Without this flag it runs only if that virtualenv is already there.",
    )
    parser.add_argument("--no-litellm", action="store_true", help="Leave LiteLLM's proxy out even if installed.")
    parser.add_argument(
        "--litellm-workers",
        type=int,
        default=None,
        help="LiteLLM's uvicorn worker processes (default: as many as ours' gunicorn workers; on 2 cores LiteLLM "
        "does best with 2, see docs/benchmarks.md).",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the databases and temp dir afterwards.")
    parser.add_argument(
        "--py-spy",
        default="",
        metavar="PATH",
        help="Path to a py-spy binary: sample ours' gunicorn workers during the measured run.",
    )
    parser.add_argument("--profile-idle", action="store_true", help="With --py-spy: include time blocked on I/O.")
    parser.add_argument(
        "--profile-out",
        default=str(Path(tempfile.gettempdir()) / "governance-bench-profile.txt"),
        help="With --py-spy: where to write the collapsed stacks (kept after the run).",
    )
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # each line as it comes, also through a pipe or into a file
    if args.litellm and args.no_litellm:
        parser.error("--litellm and --no-litellm contradict each other")
    if args.budget and args.environment == "production":
        parser.error("production is protected: its budget changes only through an approved migration plan")
    if not args.no_floor and (args.floor_redis_db == args.redis_db or args.floor_db_name == args.db_name):
        parser.error("the floor needs its own database and Redis db")
    if args.environment:
        environments = [(args.environment, args.budget)]
    else:
        environments = [(name, args.budget or budget if budget else "") for name, budget in DEFAULT_ENVIRONMENTS]
    budgeted = any(name in BUDGETED_ENVIRONMENTS for name, _ in environments)
    if args.duration is None:
        args.duration = 5 if budgeted else 15
    if args.warmup is None:
        args.warmup = 1 if budgeted else 3
    if args.repeat is None:
        args.repeat = 1 if args.no_floor else 2
    if args.worker_class == "sync":
        args.threads = 1

    def terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored (e.g. `cmd &`)
    tmp = Path(tempfile.mkdtemp(prefix="governance-bench-"))
    ours = Stack(args=args, tmp=tmp, db_name=args.db_name, redis_db=args.redis_db)
    stacks = [ours]
    floor = None
    if not args.no_floor:
        floor = Stack(
            args=args, tmp=tmp, name="floor", db_name=args.floor_db_name, redis_db=args.floor_redis_db,
            wsgi="floor.wsgi", cwd=FLOOR_DIR, table="floor_submission", queue_key="floor", ready_path="/ready",
        )  # fmt: skip
        stacks.append(floor)
    ok = False
    try:
        pg_version, redis_version = check_services(args)
        wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split()[1]
        print(
            f"Bench stack: Python {platform.python_version()}, PostgreSQL {pg_version}, Redis {redis_version}, "
            f"{os.cpu_count()} CPUs, wrk {wrk_version} with {args.wrk_threads} threads"
        )
        speed_before = host_speed_ms()
        print(f"Host speed: {speed_before:.0f} ms for a fixed pure-Python loop (lower is faster; compare hosts by it)")
        print(f"Preparing database '{args.db_name}', Redis db {args.redis_db}, data dir {tmp}")
        keys = prepare(ours, environments)
        variants = []
        if floor is not None:
            print(f"Preparing the floor: database '{args.floor_db_name}', Redis db {args.floor_redis_db}")
            prepare_floor(floor)
            model = args.model or MODEL_BY_ENVIRONMENT.get(environments[0][0], DEFAULT_MODEL)
            variants.append(Variant("floor", floor, write_lua(tmp, model, "floor-needs-no-key", "floor")))
        for name, budget in environments:
            model = args.model or MODEL_BY_ENVIRONMENT.get(name, DEFAULT_MODEL)
            label = f"ours {name}" + (", budget" if budget or name in BUDGETED_ENVIRONMENTS else "")
            variants.append(Variant(label, ours, write_lua(tmp, model, keys[name], name), environment=name))
        if args.litellm or (not args.no_litellm and litellm_proxy.installed()):
            litellm_proxy.install()
            model = args.model or MODEL_BY_ENVIRONMENT.get(environments[0][0], DEFAULT_MODEL)
            lua = write_lua(tmp, model, litellm_proxy.MASTER_KEY, "litellm")
            label = f"litellm {litellm_proxy.LITELLM_VERSION}" + (
                f", {args.litellm_workers} workers" if args.litellm_workers else ""
            )
            variants.append(Variant(label, Stack(args=args, tmp=tmp, name="litellm"), lua, model=model))
        else:
            print("LiteLLM's proxy: not installed, left out (`bench/submit.py --litellm` installs and adds it)")
        if args.configs:
            configs = [parse_config(item) for item in args.configs.split(",")]
        elif args.sweep:
            configs = SWEEP_CONFIGS
        else:
            configs = [(args.worker_class, args.workers, args.threads)]
        rows = run_rounds(args, configs, variants)
        ok = all(row.result.verified for row in rows)
        print_summary(rows, (speed_before, host_speed_ms()))
        print(
            "\nVerification: every run OK (rows = requests = queued first steps)"
            if ok
            else "\nVerification FAILED: see the MISMATCH lines above"
        )
        if budgeted:
            print(
                "\nNote: production has a monthly budget ($1000 in the demo seed; $0.40 per 4-second request, so at "
                "most 2,500 accepted per bench database)."
            )
            if ours.other_total:
                print(
                    f"WARNING: {ours.other_total} requests were refused: the run hit the budget, so accepted/s "
                    f"above is capped by it. Use a shorter --duration/--warmup."
                )
        return 0 if ok else 1
    except (BenchError, litellm_proxy.ProxyError) as error:
        print(f"\nbench: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nInterrupted; cleaning up.", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # finish cleaning up even if Ctrl-C is pressed again
        cleanup(args, stacks, tmp)


def run_rounds(args: argparse.Namespace, configs: list, variants: list[Variant]) -> list[Row]:
    """Round after round, per configuration: the floor, then ours in each environment, then LiteLLM's proxy if it
    is in (A B C A B C), each verified."""
    rows = []
    for round_number in range(1, args.repeat + 1):
        for config in configs:
            floor_result = None
            for variant in list(variants):
                print(f"\n--- round {round_number} of {args.repeat}, {config_name(*config)}: {variant.label}")
                if variant.is_litellm:
                    try:
                        rows.append(Row(round_number, config, variant, bench_litellm(variant, *config), floor_result))
                    except litellm_proxy.ProxyError as error:
                        if args.litellm:
                            raise
                        print(f"  LiteLLM's proxy left out of this bench (it was not asked for): {error}")
                        variants.remove(variant)
                    continue
                result = bench_config(variant, *config)
                print("  verification (after gunicorn stopped):")
                result.verified = verify(variant.stack)
                if not variant.is_floor and not result.ok:
                    print(f"  FAILED: nothing was accepted; refusals: {refusal_codes(variant.stack)}")
                    result.verified = False
                if variant.is_floor:
                    floor_result = result
                rows.append(Row(round_number, config, variant, result, None if variant.is_floor else floor_result))
    return rows


def cleanup(args: argparse.Namespace, stacks: list[Stack], tmp: Path) -> None:
    for stack in stacks:
        with contextlib.suppress(Exception):
            stop_gunicorn(stack)
    for conn in _connections.values():
        conn.close()
    if args.keep:
        print(f"Kept databases {', '.join(stack.db_name for stack in stacks if stack.db_created)} and {tmp}")
        return
    for stack in stacks:
        if not stack.db_created:
            continue
        try:
            admin_sql(f'DROP DATABASE IF EXISTS "{stack.db_name}" WITH (FORCE)')
        except Exception as error:  # noqa: BLE001 - report and go on cleaning
            print(f"bench: could not drop database {stack.db_name}: {error}", file=sys.stderr)
        with contextlib.suppress(Exception):
            redis_client(stack.redis_db).flushdb()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
