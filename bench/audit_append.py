"""Benchmark the audit append path on PostgreSQL: many writers, one chain.

    .venv/bin/python bench/audit_append.py [--writers 8] [--events 500]

Creates a throw-away database (`governance_bench_audit`), migrates it, then starts
`--writers` processes that each append `--events` audit events through
`record_event()`, each in its own transaction, as governance actions do. Appends
are serialised by a row lock on the chain head, so this measures what that lock
costs under contention. Prints appends/s and per-append latency (p50, p99), then
walks the chain with `verify_chain()` and checks it is gap-free and intact.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "governance_bench_audit"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"


def admin_sql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", sql], check=True)


def django_env() -> dict:
    return {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "SECRET_KEY": "bench-only-secret-key-not-the-development-default-0123456789",
        "DEBUG": "0",
        "GOVERNANCE_DATA_DIR": "/tmp/governance-bench-audit",
        "DJANGO_SETTINGS_MODULE": "governance.settings",
    }


def setup_django() -> None:
    os.environ.update(django_env())
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def append(writer: int, events: int, start_at: float) -> None:
    """One writer process: connect, wait for the common start, append, print its latencies."""
    setup_django()
    from django.db import connection, transaction

    from governance.audit.services import Actor, record_event

    actor = Actor.system(f"bench writer {writer}")
    connection.ensure_connection()
    time.sleep(max(0.0, start_at - time.time()))
    latencies = []
    for number in range(events):
        began = time.perf_counter()
        with transaction.atomic():
            record_event(action="bench.appended", actor=actor, payload={"writer": writer, "n": number})
        latencies.append(time.perf_counter() - began)
    connection.close()
    print(json.dumps(latencies))


def run_writers(writers: int, events: int) -> tuple[list[float], float]:
    start_at = time.time() + 3
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--writer", str(writer), "--events", str(events), "--start-at", str(start_at)],
            stdout=subprocess.PIPE,
            env=django_env(),
            cwd=ROOT,
        )
        for writer in range(writers)
    ]
    outputs = [child.communicate()[0] for child in children]
    elapsed = time.time() - start_at
    if any(child.returncode for child in children):
        raise SystemExit("a writer failed")
    return sorted(latency for output in outputs for latency in json.loads(output)), elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--events", type=int, default=500, help="events per writer")
    parser.add_argument("--writer", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.writer is not None:
        append(args.writer, args.events, args.start_at)
        return 0

    admin_sql(f"DROP DATABASE IF EXISTS {DATABASE}")
    admin_sql(f"CREATE DATABASE {DATABASE}")
    try:
        subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "migrate", "-v", "0"], check=True, env=django_env(), cwd=ROOT
        )
        latencies, elapsed = run_writers(args.writers, args.events)
        total = len(latencies)
        print(f"audit appends on PostgreSQL: {args.writers} concurrent writers x {args.events} events")
        print(f"  appends/s:  {total / elapsed:.0f}  ({total} in {elapsed:.2f} s)")
        print(
            f"  latency ms: p50 {statistics.median(latencies) * 1000:.1f}   "
            f"p99 {latencies[int(total * 0.99) - 1] * 1000:.1f}   max {latencies[-1] * 1000:.1f}"
        )
        setup_django()
        from django.db import connection

        from governance.audit.models import AuditEvent
        from governance.audit.verification import verify_chain

        began = time.perf_counter()
        verification = verify_chain()
        verified_in = time.perf_counter() - began
        sequences = list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True))
        gap_free = sequences == list(range(1, len(sequences) + 1))
        print(f"  chain: {verification.checked} events, gap-free {gap_free}, intact {verification.intact}")
        print(f"  verify_chain: {verified_in:.2f} s")
        connection.close()
        return 0 if verification.intact and gap_free else 1
    finally:
        admin_sql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


if __name__ == "__main__":
    sys.exit(main())
