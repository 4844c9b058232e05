"""What one tick of the tracker costs with N jobs in flight: picking the jobs due a poll.

`.venv/bin/python bench/tracking_tick.py [--jobs 10000] [--ticks 60]`:

1. sets up as bench/inflight.py does (a throw-away PostgreSQL database `governance_tracking_tick`, Redis db 9,
   the demo seeded, an environment on BytePlus ModelArk), and submits N generations through the service layer;
2. in one Django process, makes them jobs in flight handed to the tracker (status in progress, started a random
   0-300 s ago, as bench/inflight.py's jobs are at their release), then runs `tracking.due_batches()` once a
   simulated second for `--ticks` seconds, as beat's `track_generations` does every second;
3. prints the CPU and wall milliseconds of a tick (median and p90), and how many jobs each tick picked.

Nothing is polled: this is the tick's own cost, which grows with what it reads. bench/inflight.py measures the
tracker as a whole.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inflight import Bench, run_inside, submit_jobs  # noqa: E402
from submit import ROOT  # noqa: E402


def inside(ticks: int) -> None:
    """In Django, with the bench's environment: the jobs in flight, then the ticks."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    import django

    django.setup()
    import datetime as dt

    from django.core.cache import cache
    from django.db import connection
    from django.db.models import DateTimeField, Func
    from django.utils import timezone

    from governance.generations import tracking
    from governance.generations.models import TRACKED_STEP, Generation

    now = timezone.now()
    in_flight = Generation.objects.filter(project__slug="inflight")
    in_flight.update(
        status=Generation.Status.IN_PROGRESS,
        step_token=TRACKED_STEP,
        # random() per row: each job started somewhere in the last 300 s
        started_at=Func(template="now() - random() * interval '300 seconds'", output_field=DateTimeField()),
    )
    jobs = in_flight.count()
    with connection.cursor() as cursor:  # the statistics autovacuum gathers after a change this large
        cursor.execute("ANALYZE generations_generation")
    cache.set(tracking.HEARTBEAT_KEY, now.timestamp(), timeout=None)
    tracking.due_batches(now)  # the first tick warms the process (imports, connections, compiled SQL)
    cpu, wall, picked = [], [], []
    for second in range(2, ticks + 2):
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        batches = tracking.due_batches(now + dt.timedelta(seconds=second))
        cpu.append(1000 * (time.process_time() - started_cpu))
        wall.append(1000 * (time.perf_counter() - started_wall))
        picked.append(sum(len(ids) for _, ids in batches))
    print(f"{jobs} jobs in flight, {ticks} ticks of one second:")
    print(f"  CPU per tick    median {statistics.median(cpu):.1f} ms, p90 {statistics.quantiles(cpu, n=10)[-1]:.1f} ms")
    print(
        f"  wall per tick   median {statistics.median(wall):.1f} ms, p90 {statistics.quantiles(wall, n=10)[-1]:.1f} ms"
    )
    print(f"  jobs due a poll {statistics.mean(picked):.0f} a tick on average ({min(picked)}-{max(picked)})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--ticks", type=int, default=60)
    parser.add_argument("--db-name", default="governance_tracking_tick")
    parser.add_argument("--redis-db", type=int, default=9)
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inside:
        inside(args.ticks)
        return 0
    signal.signal(signal.SIGTERM, lambda signum, frame: (_ for _ in ()).throw(KeyboardInterrupt()))
    bench = Bench(args=args, tmp=Path(tempfile.mkdtemp(prefix="governance-tracking-tick-")))
    return run_inside(bench, __file__, set_up, ["--ticks", str(args.ticks)])


def set_up(bench: Bench) -> None:
    submit_jobs(bench)
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores", flush=True)


if __name__ == "__main__":
    sys.exit(main())
