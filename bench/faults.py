"""Fault suite: what the gateway survives, with real processes on loopback.

One command (`make faults`, i.e. `.venv/bin/python bench/faults.py [options]`):

1. checks PostgreSQL at 127.0.0.1:5432 (user postgres, trust) and Redis at 127.0.0.1:6379;
2. creates a throw-away database (`governance_faults`), uses Redis db 9 as Celery broker
   and shared cache, runs `migrate`, `seed_demo` and `create_api_key demo development`
   (with `--owner-role` and `--app-role`, the database's owner migrates and every process
   connects as the restricted application role of docs/database-roles.md);
3. for each scenario starts its own processes: gateway gunicorn node(s), an upstream
   gunicorn node serving the built-in simulator (so killing the gateway never kills the
   provider), Celery worker(s), one beat with a short sweep interval and stall time, and the dispatcher;
4. submits N videos (`sora-2-2025-12-08`, seconds "4"; with `--upstream vertex`, Veo 3.1 at the
   simulated Vertex AI, a long-running-operation provider) through the official `openai` SDK
   from several threads, each with its own `Idempotency-Key`, retrying connection errors,
   409, 429 and 5xx with the same key (as a careful client does), while the scenario's
   fault happens;
5. waits (generously) for every generation to reach a terminal state and prints one row:
   accepted, rows, upstream creates, duplicates, lost, stuck, slowest time to a terminal
   state, and (the Sora upstream, whose environment is given a budget, so every submission
   pays from a budget lease) whether the month's spend is what the generations cost once
   every lease is settled; exit 1 if any scenario lost, doubled or left a generation stuck,
   or its budget is off.

The `audit` scenario submits nothing: writer processes (bench/audit_writer.py) append audit
events to one chain while PostgreSQL restarts, checkpoints are written before, during and
after, and it prints one row: appends attempted, committed, failed (of which found committed
after all, and retried), events in the chain, duplicates, lost, gaps, forks, checkpoints
written/failed; exit 1 unless every committed append is in the chain once and
`verify_audit --strict` holds the chain to every checkpoint.

Redis and PostgreSQL are shared with others on this machine: their outages are brief and
the services are always started again (try/finally), also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from audit_writer import ACTION as AUDIT_ACTION
from processes import stop_process_group
from submit import BIN, PG_HOST, PG_PORT, PG_USER, REDIS_HOST, REDIS_PORT, ROOT, BenchError, admin_sql, free_port, tail


@dataclass(frozen=True)
class Upstream:
    """Which provider the submissions reach: the project and environment whose key is used, and its snapshot;
    with `budget`, the environment is given that monthly budget (a protected one's policy cannot be changed)."""

    project: str
    environment: str
    snapshot: str
    provider: str
    budget: str = ""


UPSTREAMS = {
    # OpenAI's Videos shape (the Sora simulator): create with an Idempotency-Key, poll by id.
    "sora": Upstream("demo", "development", "sora-2-2025-12-08", "simulator", budget="1000000"),
    # Google's long-running operations: predictLongRunning, then fetchPredictOperation until done.
    "vertex": Upstream("studio", "production", "veo-3.1-generate-001", "vertex"),
}
UNFINISHED = ("queued", "in_progress")
REDIS_START = [
    "redis-server", "--daemonize", "yes", "--bind", REDIS_HOST, "--port", str(REDIS_PORT),
    "--save", "", "--appendonly", "no",
]  # fmt: skip
# A job that finishes in ~1.5 s upstream, never by the simulator's own choice failed.
CALM_PROFILE = {
    "latency_seconds": 1.5,
    "failure_rate": 0.0,
    "error_rate": 0.0,
    "rate_limit_rate": 0.0,
    "accept_then_timeout": False,
    "read_timeout_seconds": 3.0,
}
# Longer than beat's wait for a silent dispatcher (generations.tasks.DISPATCHER_SILENT_SECONDS) and its tick.
DISPATCHER_DOWN_SECONDS = 8.0
SIMULATOR_READ_TIMEOUT = 10.0  # the simulator pack's provider read timeout
GENESIS_HASH = "0" * 64  # the previous hash of the chain's first event (governance.audit.services)


# --------------------------------------------------------------------------- processes


@dataclass
class Process:
    """One service process (and its children) in its own session, so it can be killed as a group."""

    name: str
    command: list[str]
    log: Path
    env: dict
    popen: subprocess.Popen | None = None
    unexpected_exits: int = 0

    def start(self) -> None:
        with open(self.log, "a") as log:
            self.popen = subprocess.Popen(
                self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL, timeout: float = 15) -> None:
        process, self.popen = self.popen, None
        if process is None or process.poll() is not None:
            return
        stop_process_group(process, timeout, first_signal=sig)
        if sig != signal.SIGKILL:
            return
        with contextlib.suppress(ProcessLookupError):  # orphans of the group (e.g. prefork children)
            os.killpg(process.pid, signal.SIGKILL)

    def children(self) -> list[int]:
        if not self.running:
            return []
        with contextlib.suppress(FileNotFoundError):
            text = Path(f"/proc/{self.popen.pid}/task/{self.popen.pid}/children").read_text()
            return [int(pid) for pid in text.split()]
        return []


@dataclass
class Stack:
    args: argparse.Namespace
    tmp: Path
    env: dict = field(default_factory=dict)
    api_key: str = ""
    run_id: str = ""
    upstream_port: int = 0
    db_created: bool = False
    processes: list[Process] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    supervising: threading.Event = field(default_factory=threading.Event)

    def gunicorn(self, name: str, port: int, worker_class: str, workers: int, threads: int = 1) -> Process:
        command = [
            str(BIN / "gunicorn"), "governance.wsgi",
            "--bind", f"127.0.0.1:{port}",
            "--worker-class", worker_class, "--workers", str(workers), "--threads", str(threads),
            "--log-level", "warning", "--no-control-socket", "--backlog", "2048", "--timeout", "30",
            "--preload",  # a killed worker is replaced by a fork of the loaded app, at once
        ]  # fmt: skip
        if Path("/dev/shm").is_dir():
            command += ["--worker-tmp-dir", "/dev/shm"]
        return self.add(Process(name, command, self.tmp / f"{name}.log", self.env))

    def worker(self, index: int) -> Process:
        command = [
            str(BIN / "celery"), "-A", "governance", "worker", "--loglevel", "WARNING",
            "--concurrency", str(self.args.concurrency), "--hostname", f"faults-{index}@%h",
            "--without-gossip", "--without-mingle",
        ]  # fmt: skip
        return self.add(Process(f"worker-{index}", command, self.tmp / f"worker-{index}.log", self.env))

    def beat(self) -> Process:
        command = [
            str(BIN / "celery"), "-A", "governance", "beat", "--loglevel", "WARNING",
            "--schedule", str(self.tmp / "celerybeat-schedule"),
        ]  # fmt: skip
        return self.add(Process("beat", command, self.tmp / "beat.log", self.env))

    def dispatcher(self) -> Process:
        """The dispatcher process production runs (docs/operations.md); beat dispatches only while none runs."""
        command = [sys.executable, str(ROOT / "manage.py"), "dispatch_generations", "--every", "0.1"]
        return self.add(Process("dispatcher", command, self.tmp / "dispatcher.log", self.env))

    def add(self, process: Process) -> Process:
        self.processes.append(process)
        process.start()
        return process

    def restart(self, process: Process, sig: int = signal.SIGKILL) -> None:
        with self.lock:
            process.kill(sig)
            process.start()

    def supervise(self, supervising: threading.Event) -> None:
        """Restart a process that exits on its own, as systemd would; the scenario reports it."""
        while supervising.is_set():
            time.sleep(0.5)
            with self.lock:
                if not supervising.is_set():
                    return
                for process in self.processes:
                    if process.popen is not None and process.popen.poll() is not None:
                        process.unexpected_exits += 1
                        print(f"    ! {process.name} exited with {process.popen.returncode}; restarting", flush=True)
                        process.start()

    def stop_all(self) -> None:
        self.supervising.clear()
        with self.lock:
            for process in reversed(self.processes):
                process.kill(signal.SIGTERM)
            self.processes.clear()


# --------------------------------------------------------------------------- services


def check_services() -> None:
    import psycopg
    import redis

    try:
        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=3):
            pass
    except psycopg.OperationalError as error:
        raise BenchError(f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT}: {error}") from None
    try:
        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        raise BenchError(f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT}: {error}") from None


def redis_up() -> bool:
    done = subprocess.run(["redis-cli", "-h", REDIS_HOST, "-p", str(REDIS_PORT), "ping"], capture_output=True)
    return done.returncode == 0 and b"PONG" in done.stdout


def ensure_redis() -> None:
    if not redis_up():
        subprocess.run(REDIS_START, check=False, capture_output=True)
    for _ in range(50):
        if redis_up():
            return
        time.sleep(0.2)
    raise BenchError("Redis did not come back")


def pg_cluster(*options: str) -> list[str]:
    version = sorted(os.listdir("/etc/postgresql"))[0]
    return ["pg_ctlcluster", "--skip-systemctl-redirect", *options, version, "main"]


def pg_up() -> bool:
    return subprocess.run(["pg_isready", "-h", PG_HOST, "-p", str(PG_PORT), "-q"]).returncode == 0


def ensure_postgres() -> None:
    if not pg_up():
        subprocess.run([*pg_cluster(), "start"], check=False, capture_output=True)
    for _ in range(60):
        if pg_up():
            return
        time.sleep(0.5)
    raise BenchError("PostgreSQL did not come back")


def flush_redis(db: int) -> None:
    import redis

    redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db).flushdb()


def drop_bench_data(db_name: str, redis_db: int, tmp: Path, *, db_created: bool) -> None:
    """What a bench leaves behind, gone: its database (if it made one), its Redis db, its temporary files."""
    if db_created:
        with contextlib.suppress(Exception):
            admin_sql(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    with contextlib.suppress(Exception):
        flush_redis(redis_db)
    shutil.rmtree(tmp, ignore_errors=True)


def sql(stack: Stack, query: str, params: tuple = ()) -> list[tuple]:
    import psycopg

    for attempt in range(30):  # PostgreSQL may be restarting under us
        try:
            with psycopg.connect(
                host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=stack.args.db_name, autocommit=True
            ) as conn:
                cursor = conn.execute(query, params)
                return cursor.fetchall() if cursor.description else []
        except psycopg.OperationalError:
            if attempt == 29:
                raise
            time.sleep(1)
    return []


# --------------------------------------------------------------------------- setup


def prepare(stack: Stack) -> None:
    args = stack.args
    admin_sql(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
    owner = args.owner_role or PG_USER
    admin_sql(f'CREATE DATABASE "{args.db_name}" OWNER "{owner}"')
    stack.db_created = True
    redis_url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{args.redis_db}"
    upstream_port = free_port()
    stack.env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{args.app_role or owner}@{PG_HOST}:{PG_PORT}/{args.db_name}",
        "CELERY_BROKER_URL": redis_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "faults-only-secret-key-not-the-development-default-0123456789",
        "DEBUG": "0",
        "SIMULATOR_ENABLED": "1",
        "SIMULATOR_BASE_URL": f"http://127.0.0.1:{upstream_port}/simulator/v1",
        "GOVERNANCE_DATA_DIR": str(stack.tmp / "data"),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "SWEEP_INTERVAL_SECONDS": str(args.sweep_interval),
        "GENERATION_STALL_SECONDS": str(args.stall_seconds),
        "GENERATION_STEP_LEASE_SECONDS": str(args.lease_seconds),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for name in ("CELERY_TASK_ALWAYS_EAGER", "MIGRATE_DATABASE_URL", "DATABASE_APP_ROLE"):
        stack.env.pop(name, None)
    stack.upstream_port = upstream_port
    manage = [sys.executable, str(ROOT / "manage.py")]
    # With --app-role, only migrate logs in as the owner (docs/database-roles.md); every process runs as the app.
    migrate_env = dict(stack.env)
    if args.app_role:
        migrate_env["MIGRATE_DATABASE_URL"] = f"postgres://{owner}@{PG_HOST}:{PG_PORT}/{args.db_name}"
    run_step("migrate", [*manage, "migrate", "--noinput", "-v", "0"], migrate_env)
    run_step("seed_demo", [*manage, "seed_demo"], stack.env)
    upstream = UPSTREAMS[args.upstream]
    output = run_step(
        "create_api_key",
        [*manage, "create_api_key", upstream.project, upstream.environment, "--name", "faults"],
        stack.env,
    )
    stack.api_key = output.strip().splitlines()[-1].strip()
    if upstream.budget:
        script = BUDGET_SCRIPT % (upstream.project, upstream.environment, upstream.budget)
        run_step("budget", [*manage, "shell", "-c", script], stack.env)


# An environment's monthly budget, far beyond any run, so every submission pays from a budget lease.
BUDGET_SCRIPT = """
from decimal import Decimal
from governance.audit.services import Actor
from governance.policies.selectors import current_revision
from governance.policies.services import revise_policy
from governance.projects.models import Environment
environment = Environment.objects.get(project__slug=%r, name=%r)
revise_policy(environment=environment, provider=current_revision(environment).provider, actor=Actor.system("faults"),
              reason="faults: every submission pays from a budget lease", monthly_budget=Decimal(%r))
"""
# Every process is stopped, so no request can still draw on a lease: all of them are settled at once.
SETTLE_SCRIPT = """
import datetime as dt
from django.utils import timezone
from governance.generations.budget_leases import settle_due_leases
while settle_due_leases(timezone.now() + dt.timedelta(days=1)):
    pass
"""


def check_budget(stack: Stack) -> str:
    """The month's spend against what the generations that keep their cost cost, once every lease is settled:
    each accepted generation's, less those that failed before the provider took them (refunded); '' without a
    budget."""
    upstream = UPSTREAMS[stack.args.upstream]
    if not upstream.budget:
        return ""
    run_step("settle", [sys.executable, str(ROOT / "manage.py"), "shell", "-c", SETTLE_SCRIPT], stack.env)
    environment = (
        "environment_id = (SELECT e.id FROM projects_environment e JOIN projects_project p ON p.id = e.project_id "
        "WHERE p.slug = %s AND e.name = %s)"
    )
    month = "date_trunc('month', now() AT TIME ZONE 'UTC')::date"
    usage = sql(
        stack, f"SELECT spent, leased FROM policies_budgetusage WHERE {environment} AND month = {month}",
        (upstream.project, upstream.environment),
    )  # fmt: skip
    spent, leased = usage[0] if usage else (0, 0)
    kept = sql(
        stack,
        f"SELECT coalesce(sum(estimated_cost), 0) FROM generations_generation WHERE {environment} "
        f"AND budget_month = {month} AND status <> 'refused' "
        "AND NOT (status = 'failed' AND upstream_id = '' AND error_code <> 'upstream_outcome_unknown')",
        (upstream.project, upstream.environment),
    )[0][0]
    leases = sql(stack, "SELECT count(*) FROM policies_budgetlease")[0][0]
    if spent == kept and leased == 0 and leases == 0:
        return "OK"
    return f"spent {spent}, generations kept {kept}, leased {leased}"


def run_step(name: str, command: list[str], env: dict) -> str:
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"{name} failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def set_upstream(stack: Stack, profile: dict, read_timeout: float) -> None:
    columns = ", ".join(profile)
    placeholders = ", ".join(["%s"] * len(profile))
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in profile)
    sql(
        stack,
        f"INSERT INTO simulator_simulatorprofile (snapshot, {columns}) VALUES (%s, {placeholders}) "
        f"ON CONFLICT (snapshot) DO UPDATE SET {updates}",
        (UPSTREAMS[stack.args.upstream].snapshot, *profile.values()),
    )
    provider = UPSTREAMS[stack.args.upstream].provider
    sql(stack, "UPDATE catalog_provider SET read_timeout = %s WHERE slug = %s", (read_timeout, provider))


def wait_for_http(url: str, process: Process, headers: dict | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers=headers or {})
    while time.monotonic() < deadline:
        if not process.running:
            raise BenchError(f"{process.name} exited:\n{tail(process.log)}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise BenchError(f"{process.name} did not answer {url} within {timeout:.0f} s:\n{tail(process.log)}")


# --------------------------------------------------------------------------- scenarios


@dataclass
class Run:
    """One scenario in progress: its processes and its submission window."""

    stack: Stack
    scenario: Scenario
    gateways: list[Process] = field(default_factory=list)
    gateway_ports: list[int] = field(default_factory=list)
    workers: list[Process] = field(default_factory=list)
    dispatcher: Process | None = None
    started: float = 0.0
    span: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)
    notes: list[str] = field(default_factory=list)

    def at(self, fraction: float) -> bool:
        """Sleep until `fraction` of the submission window; False if the run ended first."""
        return not self.done.wait(max(0.0, self.started + fraction * self.span - time.monotonic()))

    def note(self, text: str) -> None:
        elapsed = time.monotonic() - self.started
        print(f"    t={elapsed:5.1f}s {text}", flush=True)
        self.notes.append(text)


def kill_workers(run: Run) -> None:
    """SIGKILL the whole Celery worker (main process and pool) mid-task, then start it again."""
    restarted = time.monotonic()
    for fraction in (0.15, 0.4, 0.65, 0.9):
        if not run.at(fraction):
            return
        time.sleep(max(0.0, restarted + 4.0 - time.monotonic()))  # let it boot and take work first
        busy = count_in_progress(run)
        run.stack.restart(run.workers[0], signal.SIGKILL)
        restarted = time.monotonic()
        run.note(f"worker SIGKILLed with {busy} generations unfinished, restarted")


def kill_web(run: Run) -> None:
    """SIGKILL one busy gunicorn worker of the gateway every 1-2 s; the master forks a new one.

    Submissions come in a burst here, so each kill lands mid-request: some requests die
    after their row committed and before their task was published (the sweep's case).
    """
    kills = 0
    while not run.done.wait(random.uniform(1.0, 2.0)):
        workers = run.gateways[0].children()
        if workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(random.choice(workers), signal.SIGKILL)
                kills += 1
    run.note(f"SIGKILLed {kills} gunicorn workers in all")


def kill_dispatcher(run: Run) -> None:
    """SIGKILL the dispatcher process mid-burst and leave it down for longer than beat waits, then start it again.

    A kill can land between a batch's publish and the commit that takes it out of the outbox (the next dispatch
    sends it again under the same token). While it is down, beat's dispatch takes over once the dispatcher has
    been silent for DISPATCHER_SILENT_SECONDS.
    """
    for fraction in (0.3, 0.8):
        if not run.at(fraction):
            return
        with run.stack.lock:
            run.dispatcher.kill(signal.SIGKILL)
        run.note(f"dispatcher SIGKILLed, down for {DISPATCHER_DOWN_SECONDS:.0f} s")
        time.sleep(DISPATCHER_DOWN_SECONDS)
        with run.stack.lock:
            run.dispatcher.start()
        run.note("dispatcher started again")


def stop_redis(run: Run) -> None:
    """Stop Redis (broker and cache) for a while during submissions, then start it again."""
    if not run.at(0.15):
        return
    try:
        subprocess.run(["redis-cli", "-h", REDIS_HOST, "-p", str(REDIS_PORT), "shutdown", "nosave"], check=False)
        run.note(f"Redis stopped for {run.stack.args.redis_outage:.0f} s")
        time.sleep(run.stack.args.redis_outage)
    finally:
        ensure_redis()
        run.note("Redis started again (empty: every queued message was lost)")


def restart_postgres(run: Run) -> None:
    """Restart the PostgreSQL server at 30% of the window, as `--postgres-fault` says."""
    if not run.at(0.3):
        return
    fault = run.stack.args.postgres_fault
    if fault == "cut-off":
        cut_off_database(run)
        return
    # restart: a fast shutdown (sessions ended, open transactions rolled back); crash: an immediate one
    # (the server processes quit at once) and crash recovery from the WAL when it starts again.
    mode = "immediate" if fault == "crash" else "fast"
    try:
        began = time.monotonic()
        subprocess.run([*pg_cluster("--mode", mode), "restart"], check=False, capture_output=True)
    finally:
        ensure_postgres()
        run.note(f"PostgreSQL restarted, {mode} shutdown ({time.monotonic() - began:.1f} s)")


def cut_off_database(run: Run) -> None:
    """End every session of the run's database and refuse new ones for `--postgres-outage` seconds.

    The server stays up, so others using it at the same time see nothing: to try the
    PostgreSQL scenarios on a shared server. Clients see what a restart shows them (their
    connection ends, new ones are refused for a while), but no crash recovery happens.
    """
    name = run.stack.args.db_name
    began = time.monotonic()
    try:
        admin_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        while time.monotonic() - began < run.stack.args.postgres_outage:
            admin_sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
            time.sleep(0.2)
    finally:
        admin_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        run.note(f"database '{name}' cut off for {time.monotonic() - began:.1f} s (sessions ended, no new ones)")


@dataclass
class Scenario:
    name: str
    title: str
    fault: Callable[[Run], None] | None = None
    appends: bool = False  # audit appends from writer processes (run_audit), not submissions
    gateways: int = 1
    workers: int = 1
    profile: dict = field(default_factory=dict)
    read_timeout: float = SIMULATOR_READ_TIMEOUT
    burst: bool = False  # submit as fast as the clients can, not at --rate


SCENARIOS = [
    Scenario("worker-kill", "worker SIGKILL mid-task (4x)", kill_workers),
    Scenario("web-kill", "web SIGKILL mid-request, rows waiting in the outbox", kill_web, burst=True),
    Scenario("dispatcher-kill", "dispatcher SIGKILL while submitting, down 8 s", kill_dispatcher),
    Scenario("redis-down", "Redis stopped while submitting", stop_redis),
    Scenario("postgres-restart", "PostgreSQL restarted while submitting", restart_postgres),
    Scenario("upstream-errors", "upstream 50% 429/5xx", profile={"rate_limit_rate": 0.25, "error_rate": 1 / 3}),
    Scenario(
        "upstream-timeout",
        "upstream times out after accepting",
        profile={"accept_then_timeout": True, "read_timeout_seconds": 2.0},
        read_timeout=1.0,
    ),
    Scenario("race", "2 web nodes, 3 workers, 1 beat", gateways=2, workers=3),
    Scenario("audit", "audit appends by concurrent writers, PostgreSQL restarted", restart_postgres, appends=True),
]


def start_processes(run: Run) -> None:
    stack, scenario = run.stack, run.scenario
    upstream = stack.gunicorn("upstream", stack.upstream_port, "gthread", 2, threads=8)
    wait_for_http(f"http://127.0.0.1:{stack.upstream_port}/simulator/v1/models", upstream)
    for index in range(scenario.gateways):
        port = free_port()
        gateway = stack.gunicorn(f"gateway-{index}", port, "sync", stack.args.web_workers)
        run.gateways.append(gateway)
        run.gateway_ports.append(port)
        auth = {"Authorization": f"Bearer {stack.api_key}"}
        wait_for_http(f"http://127.0.0.1:{port}/v1/models", gateway, auth)
    run.workers = [stack.worker(index) for index in range(scenario.workers)]
    stack.beat()
    run.dispatcher = stack.dispatcher()
    stack.supervising = threading.Event()
    stack.supervising.set()
    threading.Thread(target=stack.supervise, args=(stack.supervising,), daemon=True).start()


# --------------------------------------------------------------------------- clients


@dataclass
class Outcome:
    index: int
    video_id: str | None = None
    ids_seen: set = field(default_factory=set)
    attempts: int = 0
    error: str = ""


def submit_all(run: Run, prefix: str) -> list[Outcome]:
    import openai

    warnings.filterwarnings("ignore", category=DeprecationWarning)  # the snapshot's Sunset header, as designed
    args = run.stack.args
    local = threading.local()

    def client(index: int) -> openai.OpenAI:
        if not hasattr(local, "clients"):
            local.clients = {}
        port = run.gateway_ports[index % len(run.gateway_ports)]
        if port not in local.clients:
            local.clients[port] = openai.OpenAI(
                base_url=f"http://127.0.0.1:{port}/v1",
                api_key=run.stack.api_key,
                max_retries=0,  # we retry ourselves, always with the same Idempotency-Key
                # openai's own Timeout: the SDK's HTTP client is httpx in 2.x and httpx2 in 3.x.
                timeout=openai.Timeout(20.0, connect=3.0),
            )
        return local.clients[port]

    def submit_one(index: int) -> Outcome:
        delay = run.started + index / args.rate - time.monotonic()
        if delay > 0 and not run.scenario.burst:
            time.sleep(delay)
        outcome = Outcome(index)
        deadline = time.monotonic() + args.submit_deadline
        while time.monotonic() < deadline:
            outcome.attempts += 1
            try:
                video = client(index).videos.create(
                    model=UPSTREAMS[args.upstream].snapshot,
                    prompt=f"{prefix}{index}: a lighthouse at dusk, slow pan",
                    seconds="4",
                    extra_headers={"Idempotency-Key": f"{prefix}{index}"},
                )
                outcome.video_id = video.id
                outcome.ids_seen.add(video.id)
                return outcome
            except openai.APIConnectionError as error:
                outcome.error = type(error).__name__
            except openai.APIStatusError as error:
                outcome.error = f"HTTP {error.status_code}"
                if error.status_code not in (409, 429) and error.status_code < 500:
                    return outcome
            time.sleep(min(2.0, 0.1 * outcome.attempts) * random.uniform(0.5, 1.0))
        return outcome

    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        return list(pool.map(submit_one, range(args.submissions)))


# --------------------------------------------------------------------------- verdict


@dataclass
class Row:
    scenario: str
    submitted: int
    accepted: int
    rows: int
    upstream_creates: int
    duplicates: int
    lost: int
    stuck: int
    completed: int
    failed: int
    slowest: float
    retries: int
    swept: int
    notes: str = ""
    budget: str = ""  # check_budget's verdict

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.duplicates == 0
            and self.stuck == 0
            and self.accepted == self.submitted
            and self.budget in ("", "OK")
        )


def count_in_progress(run: Run) -> int:
    prefix = f"{run.stack.run_id}/{run.scenario.name}/"
    found = sql(
        run.stack,
        "SELECT count(*) FROM generations_generation WHERE prompt LIKE %s AND status IN ('queued', 'in_progress')",
        (prefix + "%",),
    )
    return found[0][0]


def wait_for_terminal(run: Run, prefix: str) -> None:
    deadline = time.monotonic() + run.stack.args.deadline
    last = None
    while time.monotonic() < deadline:
        unfinished = count_in_progress(run)
        if unfinished == 0:
            return
        if unfinished != last:
            print(f"    waiting: {unfinished} unfinished", flush=True)
            last = unfinished
        time.sleep(1)


def verdict(run: Run, prefix: str, outcomes: list[Outcome]) -> Row:
    stack = run.stack
    rows = sql(
        stack,
        "SELECT video_id, prompt, status, EXTRACT(EPOCH FROM completed_at - created_at) "
        "FROM generations_generation WHERE prompt LIKE %s",
        (prefix + "%",),
    )
    # A step that first ran later than the stall time after acceptance was started by the sweep.
    swept = sql(
        stack,
        "SELECT count(*) FROM generations_generation WHERE prompt LIKE %s AND "
        "(timeline -> 1 ->> 'at')::timestamptz > created_at + make_interval(secs => %s)",
        (prefix + "%", stack.args.stall_seconds),
    )[0][0]
    jobs = sql(stack, "SELECT prompt FROM simulator_simulatedvideo WHERE prompt LIKE %s", (prefix + "%",))
    pattern = re.compile(re.escape(prefix) + r"(\d+):")
    rows_per_submission = Counter(int(pattern.match(prompt).group(1)) for _, prompt, _, _ in rows)
    jobs_per_submission = Counter(int(pattern.match(prompt).group(1)) for (prompt,) in jobs)
    accepted = [outcome for outcome in outcomes if outcome.video_id]
    statuses = {video_id: status for video_id, _, status, _ in rows}
    duplicates = (
        sum(count - 1 for count in rows_per_submission.values())
        + sum(count - 1 for count in jobs_per_submission.values())
        + sum(len(outcome.ids_seen) - 1 for outcome in accepted)
    )
    unfinished = sum(1 for status in statuses.values() if status in UNFINISHED)
    never_accepted = len(outcomes) - len(accepted)
    no_row = sum(1 for outcome in accepted if outcome.video_id not in statuses)
    by_status = Counter(statuses.values())
    for outcome in outcomes:
        if not outcome.video_id:
            print(f"    submission {outcome.index} never accepted: {outcome.error}", flush=True)
    return Row(
        scenario=run.scenario.name,
        submitted=len(outcomes),
        accepted=len(accepted),
        rows=len(rows),
        upstream_creates=len(jobs),
        duplicates=duplicates,
        lost=never_accepted + no_row + unfinished,
        stuck=unfinished,
        completed=by_status["completed"],
        failed=by_status["failed"] + by_status["refused"],
        slowest=max((float(seconds) for *_, seconds in rows if seconds is not None), default=0.0),
        retries=sum(outcome.attempts - 1 for outcome in outcomes),
        swept=swept,
    )


def run_scenario(stack: Stack, scenario: Scenario) -> Row:
    args = stack.args
    print(f"\n== {scenario.name}: {scenario.title}, {args.submissions} submissions", flush=True)
    flush_redis(args.redis_db)
    set_upstream(stack, {**CALM_PROFILE, **scenario.profile}, scenario.read_timeout)
    run = Run(stack=stack, scenario=scenario, span=args.submissions / args.rate)
    prefix = f"{stack.run_id}/{scenario.name}/"
    try:
        start_processes(run)
        run.started = time.monotonic()
        fault = threading.Thread(target=scenario.fault, args=(run,)) if scenario.fault else None
        if fault:
            fault.start()
        try:
            outcomes = submit_all(run, prefix)
        finally:
            run.done.set()
            if fault:
                fault.join()
        print(f"    submitted in {time.monotonic() - run.started:.1f} s", flush=True)
        wait_for_terminal(run, prefix)
        row = verdict(run, prefix, outcomes)
        exits = {p.name: p.unexpected_exits for p in stack.processes if p.unexpected_exits}
        if exits:
            row.notes = "unexpected exits, restarted: " + ", ".join(f"{n} {c}" for n, c in exits.items())
    finally:
        stack.stop_all()
        set_upstream(stack, CALM_PROFILE, SIMULATOR_READ_TIMEOUT)
    row.budget = check_budget(stack)
    return row


HEADER = (
    f"{'scenario':<18}{'accepted':>9}{'rows':>7}{'upstream':>9}{'dupl.':>7}{'lost':>6}{'stuck':>6}"
    f"{'completed':>10}{'failed':>7}{'slowest s':>10}{'retries':>8}{'swept':>6}{'budget':>7}  verdict"
)


def print_row(row: Row) -> None:
    print(
        f"{row.scenario:<18}{row.accepted:>9}{row.rows:>7}{row.upstream_creates:>9}{row.duplicates:>7}"
        f"{row.lost:>6}{row.stuck:>6}{row.completed:>10}{row.failed:>7}{row.slowest:>10.1f}"
        f"{row.retries:>8}{row.swept:>6}{(row.budget if len(row.budget) <= 6 else 'FAIL') or '-':>7}  "
        f"{'OK' if row.ok else 'FAIL'}"
        + (f"  ({row.notes})" if row.notes else "")
        + (f"  (budget: {row.budget})" if len(row.budget) > 6 else ""),
        flush=True,
    )


# --------------------------------------------------------------------------- the audit chain


@dataclass
class AuditWriter:
    """One bench/audit_writer.py process: its own connection, its own events."""

    index: int
    popen: subprocess.Popen
    report: Path
    log: Path

    def kill(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()


@dataclass
class Checkpoints:
    """`manage.py audit_checkpoint` run as an operator or beat would, counting what it wrote and what failed."""

    stack: Stack
    written: int = 0
    failed: int = 0
    refusals: list[str] = field(default_factory=list)

    def write(self, *, retry_for: float = 0.0) -> bool:
        """Write one checkpoint, retrying for `retry_for` seconds while the database is away."""
        give_up_at = time.monotonic() + retry_for
        while True:
            try:
                done = subprocess.run(
                    [sys.executable, str(ROOT / "manage.py"), "audit_checkpoint"],
                    cwd=ROOT, env=self.stack.env, capture_output=True, text=True, timeout=120,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                done = None
            if done is not None and done.returncode == 0:
                self.written += 1
                return True
            self.failed += 1
            if done is not None and "No checkpoint written" in done.stderr:  # refused: the chain does not verify
                self.refusals.append(done.stderr.strip().splitlines()[-1])
                return False
            if time.monotonic() >= give_up_at:
                return False
            time.sleep(0.5)

    def keep_writing(self, run: Run) -> None:
        """One checkpoint after another while the writers run; those tried while PostgreSQL is away fail."""
        while not run.done.is_set():
            self.write()
            run.done.wait(0.5)


@dataclass
class AuditRow:
    scenario: str
    writers: int
    per_writer: int
    attempts: int = 0
    committed: int = 0
    failed: int = 0
    found_committed: int = 0
    events: int = 0
    duplicates: int = 0
    lost: int = 0
    gaps: int = 0
    forks: int = 0
    checkpoints: int = 0
    checkpoint_failures: int = 0
    verification: str = ""
    verified: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def retried(self) -> int:
        """Failed appends tried again: those not found committed, less those given up on."""
        return max(0, self.failed - self.found_committed - (self.writers * self.per_writer - self.committed))

    @property
    def ok(self) -> bool:
        counts = (self.duplicates, self.lost, self.gaps, self.forks)
        complete = self.committed == self.events == self.writers * self.per_writer
        return self.verified and complete and not any(counts) and not self.problems


def start_writers(stack: Stack) -> list[AuditWriter]:
    """Start the writer processes and wait until each has Django set up and a connection open."""
    args = stack.args
    writers = []
    for index in range(args.audit_writers):
        report, log = stack.tmp / f"audit-writer-{index}.json", stack.tmp / f"audit-writer-{index}.log"
        command = [
            sys.executable, str(ROOT / "bench" / "audit_writer.py"), "--writer", str(index),
            "--writers", str(args.audit_writers), "--events", str(args.audit_events), "--rate", str(args.audit_rate),
            "--run-id", stack.run_id, "--report", str(report),
        ]  # fmt: skip
        with open(log, "a") as log_file:
            popen = subprocess.Popen(
                command, cwd=ROOT, env=stack.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file,
                text=True, start_new_session=True,
            )  # fmt: skip
        writers.append(AuditWriter(index, popen, report, log))
    for writer in writers:
        if writer.popen.stdout.readline().strip() != "ready":
            raise BenchError(f"audit writer {writer.index} did not start:\n{tail(writer.log)}")
    return writers


def wait_for_writers(run: Run, writers: list[AuditWriter], row: AuditRow) -> list[dict]:
    """Each writer's report; a writer that failed or outlived the deadline is a problem of the run."""
    deadline = run.started + run.span + run.stack.args.deadline
    reports = []
    for writer in writers:
        try:
            writer.popen.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            writer.kill()
        if writer.popen.returncode != 0 or not writer.report.exists():
            print(f"    audit writer {writer.index} exited {writer.popen.returncode}:\n{tail(writer.log)}", flush=True)
            row.problems.append(f"writer {writer.index} exited {writer.popen.returncode}")
            continue
        reports.append(json.loads(writer.report.read_text()))
    return reports


def count_appended(reports: list[dict], row: AuditRow) -> set[str]:
    """Add the writers' tallies to the row; the event ids they saw committed."""
    committed: set[str] = set()
    errors: Counter = Counter()
    for report in reports:
        row.attempts += report["attempts"]
        row.failed += report["failed"]
        row.found_committed += report["found_committed"]
        committed.update(report["committed"])
        errors.update(report["errors"])
        if report["gave_up"]:
            row.problems.append(f"writer {report['writer']} gave up on {len(report['gave_up'])} events")
    for error, times in errors.most_common(5):
        print(f"    writers saw {times} x {error}", flush=True)
    row.committed = len(committed)
    return committed


def check_chain(stack: Stack, row: AuditRow, committed: set[str]) -> None:
    """The chain as the database holds it: our events once each, no sequence missing, every link holding."""
    in_chain = dict(
        sql(
            stack,
            "SELECT payload ->> 'event_id', count(*) FROM audit_auditevent WHERE action = %s GROUP BY 1",
            (AUDIT_ACTION,),
        )
    )
    expected = {f"{stack.run_id}/{w}/{n}" for w in range(row.writers) for n in range(row.per_writer)}
    row.events = len(in_chain)
    row.duplicates = sum(count - 1 for count in in_chain.values())
    row.lost = len(committed - in_chain.keys())
    if stray := len(in_chain.keys() - committed):
        row.problems.append(f"{stray} events in the chain that no writer saw committed")
    if unexpected := len(in_chain.keys() - expected):
        row.problems.append(f"{unexpected} event ids in the chain that no writer was given")
    ((count, top, parents),) = sql(
        stack, "SELECT count(*), coalesce(max(sequence), 0), count(DISTINCT previous_hash) FROM audit_auditevent"
    )
    row.gaps = top - count
    (broken_links,) = sql(
        stack,
        "SELECT count(*) FROM audit_auditevent e LEFT JOIN audit_auditevent p ON p.sequence = e.sequence - 1 "
        "WHERE e.previous_hash <> coalesce(p.hash, CASE WHEN e.sequence = 1 THEN %s ELSE e.previous_hash END)",
        (GENESIS_HASH,),
    )[0]
    row.forks = broken_links + (count - parents)  # a link to the wrong event, or two events after one
    head = sql(stack, "SELECT sequence, hash FROM audit_auditchainhead")
    last = sql(stack, "SELECT sequence, hash FROM audit_auditevent ORDER BY sequence DESC LIMIT 1")
    if head != last:
        row.problems.append(f"the chain head {head} is not the last event {last}")


def verify_audit(stack: Stack, row: AuditRow) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "verify_audit", "--strict"],
        cwd=ROOT, env=stack.env, capture_output=True, text=True,
    )  # fmt: skip
    row.verified = done.returncode == 0
    lines = (done.stdout if row.verified else done.stderr).strip().splitlines()
    row.verification = lines[-1] if lines else f"verify_audit exited {done.returncode}"


def run_audit(stack: Stack, scenario: Scenario) -> AuditRow:
    """Writers append to one chain while PostgreSQL restarts; checkpoints before, during and after."""
    args = stack.args
    total = args.audit_writers * args.audit_events
    print(
        f"\n== {scenario.name}: {scenario.title}, {args.audit_writers} writers x {args.audit_events} events "
        f"at {args.audit_rate:g}/s",
        flush=True,
    )
    row = AuditRow(scenario.name, args.audit_writers, args.audit_events)
    run = Run(stack=stack, scenario=scenario, span=total / args.audit_rate)
    checkpoints = Checkpoints(stack)
    if not checkpoints.write(retry_for=60):
        raise BenchError(f"no checkpoint could be written before the run: {checkpoints.refusals}")
    writers = []
    try:
        writers = start_writers(stack)
        go_at = time.time() + 0.2
        run.started = time.monotonic() + 0.2
        for writer in writers:
            writer.popen.stdin.write(f"go {go_at}\n")
            writer.popen.stdin.close()
        helpers = [
            threading.Thread(target=scenario.fault, args=(run,)),
            threading.Thread(target=checkpoints.keep_writing, args=(run,)),
        ]
        for helper in helpers:
            helper.start()
        try:
            reports = wait_for_writers(run, writers, row)
        finally:
            run.done.set()
            for helper in helpers:
                helper.join()
        if not run.notes:
            row.problems.append("the fault never struck: the writers finished first")
        run.note(f"{args.audit_writers} writers done")
    finally:
        for writer in writers:
            writer.kill()
    if not checkpoints.write(retry_for=60):
        row.problems.append("no checkpoint could be written after the run")
    committed = count_appended(reports, row)
    check_chain(stack, row, committed)
    verify_audit(stack, row)
    row.checkpoints, row.checkpoint_failures = checkpoints.written, checkpoints.failed
    row.problems += [f"checkpoint refused: {refusal}" for refusal in checkpoints.refusals]
    print(f"    verify_audit --strict: {row.verification}", flush=True)
    return row


AUDIT_HEADER = (
    f"{'scenario':<10}{'writers':>9}{'attempts':>9}{'committed':>10}{'failed':>7}{'found':>6}{'retried':>8}"
    f"{'events':>7}{'dupl.':>6}{'lost':>5}{'gaps':>5}{'forks':>6}{'checkpoints':>12}  verdict"
)


def print_audit_row(row: AuditRow) -> None:
    checkpoints = f"{row.checkpoints}/{row.checkpoint_failures}"
    print(
        f"{row.scenario:<10}{f'{row.writers}x{row.per_writer}':>9}{row.attempts:>9}{row.committed:>10}"
        f"{row.failed:>7}{row.found_committed:>6}{row.retried:>8}{row.events:>7}{row.duplicates:>6}"
        f"{row.lost:>5}{row.gaps:>5}{row.forks:>6}{checkpoints:>12}  "
        f"{'OK' if row.ok else 'FAIL'}" + (f"  ({'; '.join(row.problems)})" if row.problems else ""),
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = [scenario.name for scenario in SCENARIOS]
    parser.add_argument("--submissions", type=int, default=1000, help="Per scenario (default 1000).")
    parser.add_argument("--scenarios", default=",".join(names), help=f"Comma-separated subset of: {', '.join(names)}")
    parser.add_argument("--rate", type=float, default=25.0, help="Submissions per second (default 25).")
    parser.add_argument("--threads", type=int, default=24, help="Client threads.")
    parser.add_argument("--web-workers", type=int, default=3, help="Sync gunicorn workers per gateway node.")
    parser.add_argument("--concurrency", type=int, default=6, help="Pool processes per Celery worker.")
    parser.add_argument("--redis-outage", type=float, default=30.0, help="Seconds Redis stays stopped.")
    parser.add_argument("--web-kills", type=int, default=10, help="Times the gateway's workers are SIGKILLed.")
    parser.add_argument("--sweep-interval", type=int, default=2)
    parser.add_argument("--stall-seconds", type=int, default=5)
    parser.add_argument("--lease-seconds", type=int, default=15)
    parser.add_argument("--submit-deadline", type=float, default=240.0, help="Seconds a client keeps retrying one.")
    parser.add_argument("--deadline", type=float, default=600.0, help="Seconds to wait for terminal states.")
    parser.add_argument(
        "--upstream", choices=sorted(UPSTREAMS), default="sora", help="The provider the submissions reach."
    )
    parser.add_argument(
        "--postgres-fault",
        choices=("restart", "crash", "cut-off"),
        default="restart",
        help="restart: restart the PostgreSQL server (pg_ctlcluster, fast shutdown). crash: the same with an "
        "immediate shutdown, so it starts with crash recovery. cut-off: end this run's database sessions and "
        "refuse new ones for --postgres-outage s, the server staying up (for a shared server).",
    )
    parser.add_argument("--postgres-outage", type=float, default=3.0, help="Seconds of a cut-off (default 3).")
    parser.add_argument("--audit-writers", type=int, default=8, help="audit: writer processes (default 8).")
    parser.add_argument("--audit-events", type=int, default=250, help="audit: events per writer (default 250).")
    parser.add_argument(
        "--audit-rate", type=float, default=100.0, help="audit: appends per second, all writers (default 100)."
    )
    parser.add_argument("--db-name", default="governance_faults")
    parser.add_argument("--owner-role", default="", help=f"Owns the database and runs migrate (default {PG_USER}).")
    parser.add_argument("--app-role", default="", help="The role every process connects as (default the owner).")
    parser.add_argument("--redis-db", type=int, default=9)
    parser.add_argument("--keep", action="store_true", help="Keep the database and logs afterwards.")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = set(chosen) - set(names)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")

    def terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    stack = Stack(args=args, tmp=Path(tempfile.mkdtemp(prefix="governance-faults-")))
    stack.run_id = f"faults-{int(time.time())}"
    began = time.monotonic()
    rows: list[Row] = []
    audit_rows: list[AuditRow] = []
    try:
        check_services()
        print(
            f"Fault suite: upstream {args.upstream} ({UPSTREAMS[args.upstream].snapshot}), database "
            f"'{args.db_name}', Redis db {args.redis_db}, logs in {stack.tmp}",
            flush=True,
        )
        prepare(stack)
        for scenario in SCENARIOS:
            if scenario.name in chosen and scenario.appends:
                audit_rows.append(run_audit(stack, scenario))
                print_audit_row(audit_rows[-1])
            elif scenario.name in chosen:
                rows.append(run_scenario(stack, scenario))
                print_row(rows[-1])
        count = len(rows) + len(audit_rows)
        print(f"\n{count} scenario{'s' * (count != 1)}, {time.monotonic() - began:.0f} s in all")
        if rows:
            print(f"{args.submissions} submissions per scenario\n{HEADER}")
            for row in rows:
                print_row(row)
        if audit_rows:
            print(AUDIT_HEADER)
            for row in audit_rows:
                print_audit_row(row)
        return 0 if all(row.ok for row in [*rows, *audit_rows]) else 1
    except BenchError as error:
        print(f"\nfaults: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nInterrupted; cleaning up.", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        cleanup(stack)


def cleanup(stack: Stack) -> None:
    with contextlib.suppress(Exception):
        stack.stop_all()
    with contextlib.suppress(Exception):
        ensure_redis()
    with contextlib.suppress(Exception):
        ensure_postgres()
    if stack.db_created:  # a cut-off interrupted half-way must not leave the database refusing connections
        with contextlib.suppress(Exception):
            admin_sql(f'ALTER DATABASE "{stack.args.db_name}" ALLOW_CONNECTIONS true')
    if stack.args.keep:
        print(f"Kept database '{stack.args.db_name}' and {stack.tmp}")
        return
    drop_bench_data(stack.args.db_name, stack.args.redis_db, stack.tmp, db_created=stack.db_created)


if __name__ == "__main__":
    sys.exit(main())
