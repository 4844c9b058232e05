"""What completing one finished simulator job costs the worker, step by step: the poll, the archive, the row.

`.venv/bin/python bench/completion.py [--jobs 200] [--unsigned] [--profile 25]`:

1. sets up as bench/inflight.py does (a throw-away PostgreSQL database `governance_inflight_completion`, Redis db
   10, the demo seeded, an environment on BytePlus ModelArk, the simulator as its own gunicorn server), with the
   environment signing its archive unless `--unsigned`;
2. submits N generations, and in one Django process sends each upstream with the worker's own step
   (`worker.advance`), lets every job finish, then completes each with `worker.advance` again: the poll that
   finds it finished, the archive (fetch the video, make the thumbnail, sign both, SHA-256s, perceptual
   hashes, store) and the completed row, exactly as the step worker's task does;
3. prints the CPU (and wall) milliseconds per job of each step, the SQL queries per job, and with `--profile N`
   the N functions with the most CPU of their own (cProfile) over the completions.

The step worker's Celery overhead (receiving the message, claiming the step) is not in these figures;
bench/inflight.py measures the whole worker.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inflight import Bench, run_inside, start_upstream, submit_jobs  # noqa: E402
from submit import ROOT  # noqa: E402

# (module, attribute, label): the steps timed, in the order they run. Nested steps are shown indented and their
# time is also inside their parent's.
STEPS = (
    ("governance.generations.worker", "advance", "worker.advance (the whole completion)"),
    ("governance.generations.providers.byteplus", "BytePlusAdapter.retrieve", "  poll the finished job"),
    ("governance.generations.worker", "_archive", "  archive"),
    ("governance.generations.archive", "_download", "    fetch (and the thumbnail's WebP)"),
    ("governance.generations.archive", "webp_of", "      the thumbnail's WebP"),
    ("governance.generations.archive", "sha256_of", "    SHA-256s"),
    ("governance.content_credentials.signing", "has_manifest", "    upstream manifest check (c2pa)"),
    ("governance.generations.archive", "_sign", "    sign"),
    ("governance.content_credentials.signing", "sign", "      c2pa sign"),
    ("governance.generations.archive", "_pictures", "    pictures: one decode, perceptual hashes, thumbnail"),
    ("governance.generations.archive", "_store", "    store"),
    ("governance.generations.archive", "_record", "    archived file row"),
    ("governance.generations.worker", "_complete", "  completed row"),
)


def time_steps(cpu: dict, wall: dict) -> None:
    """Wrap each step so that it adds its CPU and wall time to `cpu` and `wall` under its label."""
    import importlib

    for module_name, attribute, label in STEPS:
        owner = importlib.import_module(module_name)
        *classes, name = attribute.split(".")
        for class_name in classes:
            owner = getattr(owner, class_name)
        function = getattr(owner, name, None)
        if function is None:
            continue

        def wrapper(*args, _function=function, _label=label, **kwargs):
            started_cpu, started_wall = time.process_time(), time.perf_counter()
            try:
                return _function(*args, **kwargs)
            finally:
                cpu[_label] += time.process_time() - started_cpu
                wall[_label] += time.perf_counter() - started_wall

        setattr(owner, name, wrapper)


def inside(jobs: int, profile: int) -> None:
    """In Django, with the bench's environment: send the queued generations upstream, then complete them."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    import django

    django.setup()
    import cProfile
    import pstats

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from governance.generations import worker
    from governance.generations.models import Generation
    from governance.simulator.models import SimulatedVideo

    ids = list(Generation.objects.filter(project__slug="inflight").order_by("pk").values_list("pk", flat=True))
    for generation_id in ids:
        worker.advance(generation_id)
    SimulatedVideo.objects.update(latency_seconds=0)
    worker.advance(ids[0])  # the first completion warms the process (imports, the c2pa library, connections)
    cpu, wall = defaultdict(float), defaultdict(float)
    time_steps(cpu, wall)
    profiler = cProfile.Profile(time.process_time) if profile else None
    with CaptureQueriesContext(connection) as queries:
        if profiler:
            profiler.enable()
        for generation_id in ids[1:]:
            with CaptureQueriesContext(connection) as last_queries:
                worker.advance(generation_id)
        if profiler:
            profiler.disable()
    completed = Generation.objects.filter(pk__in=ids[1:], status=Generation.Status.COMPLETED)
    measured = len(ids) - 1
    signed = completed.filter(archived_files__signed=True).distinct().count()
    print(f"{completed.count()} of {measured} completed, {signed} with signed files; per job:")
    print(f"  {'step':<44}{'CPU ms':>8}{'wall ms':>9}")
    for _, _, label in STEPS:
        if label in cpu:
            print(f"  {label:<44}{1000 * cpu[label] / measured:>8.1f}{1000 * wall[label] / measured:>9.1f}")
    print(f"  SQL queries per job: {len(queries) / measured:.1f}; the last job's:")
    for query in last_queries.captured_queries:
        print(f"    {query['sql'][:140]}")
    if profiler:
        print(f"\nThe {profile} functions with the most CPU of their own (cProfile on CPU time, with its overhead):")
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(profile)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--unsigned", action="store_true", help="The environment's signing off (the archive unsigned).")
    parser.add_argument("--profile", type=int, default=0, help="Print the N functions with the most own CPU.")
    parser.add_argument("--db-name", default="governance_inflight_completion")
    parser.add_argument("--redis-db", type=int, default=10)
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inside:
        inside(args.jobs, args.profile)
        return 0
    signal.signal(signal.SIGTERM, lambda signum, frame: (_ for _ in ()).throw(KeyboardInterrupt()))
    bench = Bench(args=args, tmp=Path(tempfile.mkdtemp(prefix="governance-completion-")))
    return run_inside(bench, __file__, set_up, ["--jobs", str(args.jobs), "--profile", str(args.profile)])


def set_up(bench: Bench) -> None:
    """The simulator as its own server, and the jobs submitted and queued."""
    start_upstream(bench)
    submit_jobs(bench)
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; {bench.args.jobs} jobs, archive "
          f"{'unsigned' if bench.args.unsigned else 'signed'}", flush=True)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
