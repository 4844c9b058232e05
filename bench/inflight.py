"""Jobs in flight: what tracking 10,000 running video jobs costs the provider, the broker, the database and the worker.

`.venv/bin/python bench/inflight.py [--jobs 10000] [--min-seconds 60] [--max-seconds 300]`:

1. creates a throw-away PostgreSQL database (`governance_inflight_bench`), uses Redis db 11 as broker and
   cache, migrates, seeds the demo and an environment on BytePlus ModelArk (Seedance 1.5 Pro, simulated);
2. starts, as `make run` would but split so each can be measured: the simulator as its own gunicorn server
   (every job lasting a random time in [min, max] s, `SIMULATOR_JOB_SECONDS`; its access log counts the
   polls it serves), a Celery worker for the generations' steps (submit upstream, archive, complete), a
   Celery worker for the tracker's polls (queue `tracking`) and beat; with `--callbacks`, the gateway's web
   server too, whose address goes to ModelArk as each job's `callback_url` (`GENERATION_CALLBACK_URL`): the
   simulator calls it back when a job ends, and polling is the calmer fallback;
3. submits N generations through the service layer, then waits until every one is finished;
4. prints: polls sent upstream (per second, per job, HTTP calls), database writes per poll (INSERT + UPDATE +
   DELETE on our tables, not the simulator's, from pg_stat_user_tables), worker CPU (from /proc) per job and
   as mean cores busy, the whole host's busy cores (/proc/stat: on average, and over its busiest minute), the
   jobs finished at the provider and the rows completed in their busiest minute (what the archive had to keep
   up with, and did), broker messages per job (tasks received, from the workers' logs), the delay between
   the provider finishing a job and our row saying so (p50/p99, and the share within max(5 s, 10 % of the
   job's age)), and rows = jobs, none lost or stuck; then whether each aim is met. Exit 1 if one is not.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from faults import Process, check_services, drop_bench_data, flush_redis, run_step, wait_for_http
from submit import (
    BIN,
    PG_HOST,
    PG_PORT,
    PG_USER,
    REDIS_HOST,
    REDIS_PORT,
    ROOT,
    BenchError,
    admin_sql,
    free_port,
    summarize_profile,
)

TICKS = os.sysconf("SC_CLK_TCK")
UNFINISHED = ("queued", "in_progress")
# A job's own writes in the window from the release, whatever its polls: in progress, handed back by the
# tracker, the step's claim, two archived files, completed (6.6-6.7 measured). Writing per poll would add
# 19 a job polling only, 4.3 with callbacks.
WRITES_PER_JOB = 8
TASK_RECEIVED = re.compile(r"Task (governance\.[\w.]+)\[[^\]]+\] received")
CALLBACK_LINE = re.compile(r'"POST /callbacks/byteplus/[^ ]* HTTP[^"]*" 200')
POLL_LINE = re.compile(r'"GET (/simulator/byteplus/api/v3/contents/generations/tasks[^ ]*) HTTP')


@dataclass
class Bench:
    args: argparse.Namespace
    tmp: Path
    env: dict = field(default_factory=dict)
    key: str = ""
    processes: dict[str, Process] = field(default_factory=dict)
    db_created: bool = False

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=self.args.db_name, autocommit=True) as c:
            cursor = c.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def start(self, name: str, command: list[str]) -> Process:
        process = Process(name, command, self.tmp / f"{name}.log", self.env)
        process.start()
        self.processes[name] = process
        return process


def prepare(bench: Bench) -> None:
    args = bench.args
    admin_sql(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{args.db_name}"')
    bench.db_created = True
    flush_redis(args.redis_db)
    redis_url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{args.redis_db}"
    upstream_port = free_port()
    bench.env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{args.db_name}",
        "CELERY_BROKER_URL": redis_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "inflight-bench-only-secret-key-not-the-development-default-0123456789",
        "DEBUG": "0",
        "SIMULATOR_ENABLED": "1",
        "SIMULATOR_BASE_URL": f"http://127.0.0.1:{upstream_port}/simulator/v1",
        "SIMULATOR_JOB_SECONDS": "86400",  # held until every job is upstream, then released (release_jobs)
        "SIMULATOR_LINK_SECONDS": "3600",
        "GOVERNANCE_DATA_DIR": str(bench.tmp / "data"),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "GENERATION_TRACKING_QUEUE": "tracking",
        "GENERATION_TRACK_SECONDS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for name in ("CELERY_TASK_ALWAYS_EAGER", "MIGRATE_DATABASE_URL", "DATABASE_APP_ROLE", "GENERATION_CALLBACK_URL"):
        bench.env.pop(name, None)
    bench.env["UPSTREAM_PORT"] = str(upstream_port)
    if getattr(args, "callbacks", False):
        web_port = free_port()
        bench.env["WEB_PORT"] = str(web_port)
        bench.env["GENERATION_CALLBACK_URL"] = f"http://127.0.0.1:{web_port}"
    bench.env["INFLIGHT_UNSIGNED"] = "1" if getattr(args, "unsigned", False) else "0"
    manage = [sys.executable, str(ROOT / "manage.py")]
    run_step("migrate", [*manage, "migrate", "--noinput", "-v", "0"], bench.env)
    run_step("create_signing_identity", [*manage, "create_signing_identity", "--if-missing"], bench.env)
    run_step("seed_demo", [*manage, "seed_demo"], bench.env)
    helper = [sys.executable, str(ROOT / "bench" / "inflight_django.py")]
    bench.key = run_step("prepare", [*helper, "prepare"], bench.env).strip().splitlines()[-1].strip()


def start_server(bench: Bench, name: str, port: str, threads: int, ready_path: str, *extra: str) -> None:
    """governance.wsgi under gunicorn (2 gthread workers), its access log in `<name>-access.log` for counting."""
    server = bench.start(
        name,
        [
            str(BIN / "gunicorn"), "governance.wsgi", "--bind", f"127.0.0.1:{port}",
            "--worker-class", "gthread", "--workers", "2", "--threads", str(threads), "--log-level", "warning",
            "--access-logfile", str(bench.tmp / f"{name}-access.log"), "--access-logformat", '"%(r)s" %(s)s',
            "--backlog", "2048", "--no-control-socket", *extra,
        ],
    )  # fmt: skip
    wait_for_http(f"http://127.0.0.1:{port}{ready_path}", server)


def start_upstream(bench: Bench) -> None:
    """The simulator as its own server, its access log counting the polls it serves."""
    start_server(bench, "upstream", bench.env["UPSTREAM_PORT"], 8, "/simulator/v1/models", "--limit-request-line", "0")


def start_web(bench: Bench) -> None:
    """The gateway's web server, for the providers' callbacks only (its access log counts them)."""
    start_server(bench, "web", bench.env["WEB_PORT"], 4, "/healthz")


def start_processes(bench: Bench) -> None:
    start_upstream(bench)
    if "WEB_PORT" in bench.env:
        start_web(bench)
    celery = [str(BIN / "celery"), "-A", "governance"]
    common = ["--loglevel", "INFO", "--without-gossip", "--without-mingle"]
    bench.start(
        "steps",
        [*celery, "worker", *common, "--queues", "celery", "--concurrency", str(bench.args.concurrency),
         "--hostname", "steps@%h"],
    )  # fmt: skip
    bench.start(
        "tracking",
        [*celery, "worker", *common, "--queues", "tracking", "--concurrency", "2", "--hostname", "tracking@%h"],
    )
    bench.start("beat", [*celery, "beat", "--loglevel", "WARNING", "--schedule", str(bench.tmp / "beat-schedule")])
    time.sleep(3)


def cpu_seconds(process: Process) -> float:
    """User + system CPU of a process and all its descendants now alive, plus its reaped children's."""
    return tree_cpu_seconds(process.popen.pid) if process.running else 0.0


def service_cpu_seconds(name: str) -> float:
    """The CPU of a service the bench did not start (`postgres`, `redis-server`): each process of that name whose
    parent has another name, with its descendants (PostgreSQL's backends, reaped ones included)."""
    comm = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            head, tail = stat.read_text().rsplit(")", 1)
            comm[int(stat.parent.name)] = (head.split("(", 1)[1], int(tail.split()[1]))
    roots = [pid for pid, (command, parent) in comm.items() if command == name and comm.get(parent, ("",))[0] != name]
    return sum(tree_cpu_seconds(pid) for pid in roots)


def tree_cpu_seconds(root: int) -> float:
    total = 0.0
    pending = [root]
    while pending:
        pid = pending.pop()
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(value) for value in fields[11:15]) / TICKS  # utime stime cutime cstime
            for task in Path(f"/proc/{pid}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
    return total


def host_busy_seconds() -> float:
    """CPU seconds the whole host has been busy since boot, all cores (/proc/stat: all but idle and iowait)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / TICKS


def busiest_minute(bench: Bench, moment: str) -> int:
    """The most completed jobs whose `moment` (an SQL expression) falls within any one minute (a sliding window)."""
    rows = bench.sql(
        f"SELECT extract(epoch FROM {moment}) FROM generations_generation g "
        "JOIN simulator_simulatedvideo s ON s.video_id = g.upstream_id WHERE g.status = 'completed' ORDER BY 1"
    )
    moments, most, first = [float(at) for (at,) in rows], 0, 0
    for last, at in enumerate(moments):
        while at - moments[first] >= 60.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def our_writes(bench: Bench) -> int:
    rows = bench.sql(
        "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables "
        "WHERE relname NOT LIKE 'simulator\\_%%'"
    )
    return int(rows[0][0])


def count_polls(bench: Bench) -> tuple[int, int]:
    """(jobs polled, HTTP calls) the simulator served on ModelArk's task paths (creates excluded)."""
    jobs = calls = 0
    log = bench.tmp / "upstream-access.log"
    if not log.exists():
        return 0, 0
    for line in log.read_text(errors="replace").splitlines():
        match = POLL_LINE.search(line)
        if match is None:
            continue
        calls += 1
        path = match.group(1)
        jobs += path.count("filter.task_ids=") if "?" in path else 1
    return jobs, calls


def count_callbacks(bench: Bench) -> int:
    """The callbacks the gateway's web server answered 200 (a job it polled at once)."""
    log = bench.tmp / "web-access.log"
    if not log.exists():
        return 0
    return sum(1 for line in log.read_text(errors="replace").splitlines() if CALLBACK_LINE.search(line))


def tasks_received(bench: Bench) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in ("steps", "tracking"):
        for match in TASK_RECEIVED.finditer((bench.tmp / f"{name}.log").read_text(errors="replace")):
            task = match.group(1).rsplit(".", 1)[1]
            counts[task] = counts.get(task, 0) + 1
    return counts


def submit_jobs(bench: Bench) -> int:
    helper = [sys.executable, str(ROOT / "bench" / "inflight_django.py")]
    prompts = str(getattr(bench.args, "prompts", 0))
    output = run_step("submit", [*helper, "submit", bench.key, str(bench.args.jobs), prompts], bench.env)
    return int(output.strip().splitlines()[-1])


def status_counts(bench: Bench) -> dict[str, int]:
    rows = bench.sql(
        "SELECT status, count(*) FROM generations_generation g JOIN projects_project p ON p.id = g.project_id "
        "WHERE p.slug = 'inflight' GROUP BY status"
    )
    return dict(rows)


FINISH = "(s.created_at + make_interval(secs => s.latency_seconds))"
SEEN = (
    "(SELECT (entry ->> 'at')::timestamptz FROM jsonb_array_elements(g.timeline) entry "
    "WHERE entry ->> 'status' = 'finished upstream' LIMIT 1)"
)


def delays(bench: Bench) -> list[tuple[float, float, float]]:
    """(seen, completed, allowed) per completed job: when the tracker saw it finished and when our row said
    completed, each minus the simulator's finish time; allowed is max(5 s, 10 % of the job's age then)."""
    rows = bench.sql(
        f"SELECT extract(epoch FROM {SEEN} - {FINISH}), extract(epoch FROM g.completed_at - {FINISH}), "
        f"extract(epoch FROM {FINISH} - g.started_at) FROM generations_generation g "
        "JOIN simulator_simulatedvideo s ON s.video_id = g.upstream_id WHERE g.status = 'completed'"
    )
    return [
        (float(seen) if seen is not None else float("nan"), float(done), max(5.0, 0.1 * float(age)))
        for seen, done, age in rows
    ]


def release_jobs(bench: Bench) -> None:
    """From now, each job finishes a random min-max seconds later (its duration as the simulator drew it)."""
    args = bench.args
    bench.sql(
        "UPDATE simulator_simulatedvideo SET latency_seconds = "
        "extract(epoch FROM now() - created_at) + %s + random() * %s",
        (args.min_seconds, args.max_seconds - args.min_seconds),
    )


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Sampler(threading.Thread):
    """Every few seconds: jobs in flight (tracked), so the mean is known, and the host's busy CPU."""

    def __init__(self, bench: Bench):
        super().__init__(daemon=True)
        self.bench, self.samples, self.stopping = bench, [], threading.Event()
        self.host: list[tuple[float, float]] = [(time.monotonic(), host_busy_seconds())]

    def busiest_minute(self) -> float:
        """The most cores the host kept busy over any minute (12 samples) of the run; over the run if shorter."""
        width = min(12, len(self.host) - 1)
        spans = zip(self.host, self.host[width:], strict=False)
        return max(((busy - busy0) / (at - at0) for (at0, busy0), (at, busy) in spans if at > at0), default=0.0)

    def run(self) -> None:
        while not self.stopping.wait(5):
            self.host.append((time.monotonic(), host_busy_seconds()))
            with contextlib.suppress(Exception):
                tracked = tracked_count(self.bench)
                self.samples.append(tracked)
                if len(self.samples) % 6 == 1:
                    print(f"    {time.strftime('%H:%M:%S')} in flight {tracked}", flush=True)


@dataclass
class Counters:
    """What the processes, the database, the simulator and the broker have done so far."""

    at: float
    tracking_cpu: float
    steps_cpu: float
    upstream_cpu: float
    web_cpu: float
    postgres_cpu: float
    redis_cpu: float
    host_busy: float
    callbacks: int
    writes: int
    polls: int
    calls: int
    received: dict[str, int]

    @classmethod
    def now(cls, bench: Bench) -> Counters:
        time.sleep(1.0)  # PostgreSQL's statistics lag the last transactions by a moment
        polls, calls = count_polls(bench)
        return cls(
            at=time.monotonic(),
            tracking_cpu=cpu_seconds(bench.processes["tracking"]) + cpu_seconds(bench.processes["beat"]),
            steps_cpu=cpu_seconds(bench.processes["steps"]),
            upstream_cpu=cpu_seconds(bench.processes["upstream"]),
            web_cpu=cpu_seconds(bench.processes["web"]) if "web" in bench.processes else 0.0,
            postgres_cpu=service_cpu_seconds("postgres"),
            redis_cpu=service_cpu_seconds("redis-server"),
            host_busy=host_busy_seconds(),
            callbacks=count_callbacks(bench),
            writes=our_writes(bench),
            polls=polls,
            calls=calls,
            received=tasks_received(bench),
        )


def tracked_count(bench: Bench) -> int:
    return bench.sql(
        "SELECT count(*) FROM generations_generation WHERE step_token = 'tracked' AND status = ANY(%s)",
        (list(UNFINISHED),),
    )[0][0]


def wait_until_upstream(bench: Bench, accepted: int) -> None:
    deadline = time.monotonic() + bench.args.deadline + accepted / 5
    while time.monotonic() < deadline:
        tracked = tracked_count(bench)
        print(f"    {time.strftime('%H:%M:%S')} upstream and tracked: {tracked} of {accepted}", flush=True)
        if tracked >= accepted:
            return
        time.sleep(10)
    raise BenchError("not every generation reached the provider in time")


def run(bench: Bench) -> bool:
    args = bench.args
    prepare(bench)
    start_processes(bench)
    began = time.monotonic()
    print(f"Submitting {args.jobs} generations through the service layer; the simulator holds every job ...")
    accepted = submit_jobs(bench)
    print(f"  {accepted} accepted in {time.monotonic() - began:.0f} s; the worker submits them upstream", flush=True)
    wait_until_upstream(bench, accepted)
    print(f"  all upstream after {time.monotonic() - began:.0f} s; released: each finishes in "
          f"{args.min_seconds:g}-{args.max_seconds:g} s", flush=True)  # fmt: skip
    before = Counters.now(bench)
    release_jobs(bench)
    spy = start_py_spy(bench) if args.py_spy else None
    sampler = Sampler(bench)
    sampler.start()
    deadline = time.monotonic() + args.max_seconds + args.deadline
    while time.monotonic() < deadline:
        counts = status_counts(bench)
        if sum(counts.get(status, 0) for status in UNFINISHED) == 0:
            break
        time.sleep(3)
    sampler.stopping.set()
    after = Counters.now(bench)
    if spy is not None:
        spy.send_signal(signal.SIGINT)  # py-spy writes what it sampled so far
        spy.wait(timeout=60)
    elapsed = after.at - before.at
    tracking_cpu = after.tracking_cpu - before.tracking_cpu
    steps_cpu = after.steps_cpu - before.steps_cpu
    upstream_cpu = after.upstream_cpu - before.upstream_cpu
    web_cpu = after.web_cpu - before.web_cpu
    postgres_cpu, redis_cpu = after.postgres_cpu - before.postgres_cpu, after.redis_cpu - before.redis_cpu
    host_cores = (after.host_busy - before.host_busy) / elapsed
    finishing, archived = busiest_minute(bench, FINISH), busiest_minute(bench, "g.completed_at")
    callbacks = after.callbacks - before.callbacks
    writes = after.writes - before.writes
    polls, calls = after.polls - before.polls, after.calls - before.calls
    received = {name: count - before.received.get(name, 0) for name, count in after.received.items()}
    counts = status_counts(bench)
    finished = delays(bench)
    rows = sum(counts.values())
    stuck = sum(counts.get(status, 0) for status in UNFINISHED)
    creates = bench.sql("SELECT count(*) FROM simulator_simulatedvideo WHERE dialect = 'byteplus'")[0][0]
    mean_tracked = statistics.mean(sampler.samples) if sampler.samples else 0.0
    peak_tracked = max([accepted if before else 0, *sampler.samples])
    tracking_cores = (tracking_cpu + web_cpu) / elapsed
    messages = sum(received.values())
    seen = [seen for seen, _, _ in finished]
    done = [completed for _, completed, _ in finished]
    seen_within = sum(1 for seen, _, allowed in finished if seen <= allowed)
    done_within = sum(1 for _, completed, allowed in finished if completed <= allowed)

    print(f"\nJobs in flight: {accepted} jobs released at once, each finishing {args.min_seconds:g}-"
          f"{args.max_seconds:g} s later; figures for the {elapsed:.0f} s from the release to the last")  # fmt: skip
    print(f"  jobs in flight (tracked)    {peak_tracked} at the release, mean {mean_tracked:.0f} (sampled every 5 s)")
    print(f"  polls sent upstream         {polls} ({polls / elapsed:.1f}/s), {polls / max(1, accepted):.1f} per job, "
          f"in {calls} HTTP calls ({calls / elapsed:.1f}/s)")  # fmt: skip
    print(f"  database writes             {writes} on our tables: {writes / max(1, polls):.2f} per poll, "
          f"{writes / max(1, accepted):.1f} per job (status changes, archive, completion)")  # fmt: skip
    if "web" in bench.processes:
        print(f"  callbacks                   {callbacks} answered ({callbacks / max(1, accepted):.2f} per job); the "
              f"gateway's web server used {web_cpu:.1f} s of CPU for them")  # fmt: skip
    print(f"  tracking worker + beat CPU  {tracking_cpu:.1f} s: {1000 * tracking_cpu / max(1, accepted):.2f} ms per "
          f"job; with the callbacks' web server, mean {tracking_cores:.2f} cores busy")  # fmt: skip
    print(f"  step worker CPU             {steps_cpu:.1f} s ({1000 * steps_cpu / max(1, accepted):.1f} ms per job: "
          f"archive and complete); simulator server {upstream_cpu:.1f} s")  # fmt: skip
    print(f"  PostgreSQL, Redis CPU       {postgres_cpu:.1f} s ({1000 * postgres_cpu / max(1, accepted):.1f} ms per "
          f"job: ours and the simulator's queries), {redis_cpu:.1f} s")  # fmt: skip
    peak_cores = sampler.busiest_minute()
    print(f"  host CPU                    {host_cores:.2f} of {os.cpu_count()} cores busy on average, {peak_cores:.2f} "
          f"in the busiest minute (every process: ours, the simulator, PostgreSQL, Redis, others')")  # fmt: skip
    print(f"  archive rate                the busiest minute: {finishing / 60:.1f} jobs/s finished at the provider, "
          f"{archived / 60:.1f} rows/s completed (archived)")  # fmt: skip
    print(
        f"  broker messages             {messages} ({messages / max(1, accepted):.2f} per job): "
        + ", ".join(f"{name} {count}" for name, count in sorted(received.items()) if count)
    )
    print(f"  seen finished (tracker)     p50 {percentile(seen, 0.5):.1f} s, p99 {percentile(seen, 0.99):.1f} s "
          f"after the provider; {seen_within}/{len(finished)} within max(5 s, 10 % of age)")  # fmt: skip
    print(f"  row completed (archived)    p50 {percentile(done, 0.5):.1f} s, p99 {percentile(done, 0.99):.1f} s "
          f"after the provider; {done_within}/{len(finished)} within max(5 s, 10 % of age)")  # fmt: skip
    print(f"  rows                        {rows} for {accepted} accepted, {creates} upstream jobs; "
          f"{counts.get('completed', 0)} completed, {counts.get('failed', 0)} failed, {stuck} stuck")  # fmt: skip

    aims = {
        f"{args.jobs} jobs in flight at once": peak_tracked >= args.jobs,
        "tracking under one core busy": tracking_cores < 1.0,
        f"at most one database write per state change, not per poll (<= {WRITES_PER_JOB} per job)": writes
        <= WRITES_PER_JOB * max(1, accepted),
        "completion seen by the tracker within max(5 s, 10 % of age) (p99)": seen_within >= 0.99 * len(finished),
        "row completed within max(5 s, 10 % of age) (p99)": done_within >= 0.99 * len(finished),
        "rows = jobs, none lost, none stuck, none doubled": rows == accepted == args.jobs
        and stuck == 0
        and creates == accepted,
    }
    if spy is not None:
        summarize_profile(Path(args.py_spy), accepted)
    print("\nAims")
    for aim, met in aims.items():
        print(f"  {'met    ' if met else 'NOT MET'}  {aim}")
    return all(aims.values())


def start_py_spy(bench: Bench) -> subprocess.Popen:
    """Sample the step worker and its pool processes from the release on (py-spy is not a dependency)."""
    command = [
        bench.args.py_spy_bin, "record", "--pid", str(bench.processes["steps"].popen.pid), "--subprocesses",
        "--nonblocking", "--rate", "100", "--format", "raw", "--output", bench.args.py_spy,
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--min-seconds", type=float, default=60.0, help="Shortest job upstream (default 60).")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="Longest job upstream (default 300).")
    parser.add_argument("--concurrency", type=int, default=4, help="Pool processes of the step worker.")
    parser.add_argument(
        "--deadline", type=float, default=1500.0, help="Seconds past the longest job to wait (the archive's backlog)."
    )
    parser.add_argument("--unsigned", action="store_true", help="Archive unsigned (signed by default).")
    parser.add_argument(
        "--callbacks",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="ModelArk calls the gateway back when a job ends, polling the calmer fallback (default: polling only).",
    )
    parser.add_argument(
        "--prompts",
        type=int,
        default=50,
        help="Distinct prompts the jobs take in turn (default 50), so the simulator renders each once: rendering "
        "is the provider's work, not this host's. 0: a prompt of its own per job.",
    )
    parser.add_argument("--db-name", default="governance_inflight_bench")
    parser.add_argument("--redis-db", type=int, default=11)
    parser.add_argument("--keep", action="store_true", help="Keep the database and logs afterwards.")
    parser.add_argument("--py-spy", default="", help="Sample the step worker with py-spy into this file.")
    parser.add_argument("--py-spy-bin", default=str(BIN / "py-spy"), help="py-spy's path (not a dependency).")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: (_ for _ in ()).throw(KeyboardInterrupt()))
    bench = Bench(args=args, tmp=Path(tempfile.mkdtemp(prefix="governance-inflight-")))
    try:
        check_services()
        print(f"In-flight bench: database '{args.db_name}', Redis db {args.redis_db}, logs in {bench.tmp}", flush=True)
        return 0 if run(bench) else 1
    except BenchError as error:
        print(f"\ninflight: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nInterrupted; cleaning up.", file=sys.stderr)
        return 130
    finally:
        clean_up(bench)


def run_inside(bench: Bench, script: str, set_up: Callable[[Bench], None], inside: list[str]) -> int:
    """A bench that measures inside Django: its database prepared and `set_up` done, `script` runs again with
    `--inside` and `inside` in the bench's environment; its exit code (2 when the bench could not be set up).
    Everything is cleaned up afterwards, whatever happens."""
    try:
        check_services()
        prepare(bench)
        set_up(bench)
        return subprocess.run([sys.executable, script, "--inside", *inside], env=bench.env).returncode
    except BenchError as error:
        print(f"\n{Path(script).stem}: {error}", file=sys.stderr)
        return 2
    finally:
        clean_up(bench)


def clean_up(bench: Bench) -> None:
    """Stop the bench's processes; drop its database, empty its Redis db and remove its files, unless `--keep`."""
    args = bench.args
    for process in reversed(list(bench.processes.values())):
        with contextlib.suppress(Exception):
            process.kill(signal.SIGTERM)
    if getattr(args, "keep", False):
        print(f"Kept database '{args.db_name}' and {bench.tmp}")
        return
    drop_bench_data(args.db_name, args.redis_db, bench.tmp, db_created=bench.db_created)


if __name__ == "__main__":
    sys.exit(main())
