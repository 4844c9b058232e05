"""Benchmark exports and audit verification on PostgreSQL, at a million rows each.

    .venv/bin/python bench/exports.py [--generations 1000000] [--events 1000000] [--portable] [--keep]
                                      [--audit-at-scale] [--database NAME]

1. Creates a throw-away database (`governance_bench_exports`), migrates it and runs
   `seed_demo` (project `demo`, its four environments and their policies), then adds
   one API key per environment.
2. Seeds the generation log with one `INSERT ... SELECT` over `generate_series`, and
   the audit trail with events whose hashes form a valid chain: computed here with the
   application's own `event_hash`, in batches, written with `COPY ... FROM STDIN`,
   then the chain head row is set to the last one.
3. Times PostgreSQL's own `COPY (SELECT <the export's columns>) TO STDOUT` of the same
   rows, the reference: drained through psycopg (as the exports read it) and through
   `psql` into /dev/null.
4. Runs each export (generations and audit events, CSV and JSON Lines, no filter, so
   every row) in a fresh process, writing to /dev/null exactly as `export_generations
   --output` does, and reports rows/s (against the reference, and against PostgreSQL
   producing the export's very bytes alone: its own COPY statement over every row, drained;
   a JSON Lines export run in segments on two connections can beat it), the time
   to the first chunk of rows and the process's peak RSS (VmHWM, Django included).
   `--portable` adds the portable path (the ORM and Python encoding that SQLite uses).
5. Times `manage.py verify_audit --full` over the whole chain, in a fresh process.
6. Audit at scale, each in a fresh process: `verify_audit` (the events the newest
   checkpoint covers held to its root, not each to its signature) against `--full`
   (time, peak RSS); the audit JSON Lines export with its proof line streamed against
   the proof as it was made before (every hash in a list): time to the first rows, to
   the proof line, peak RSS; and the proof line alone with tracemalloc (its own peak).
   `--audit-at-scale` runs only this step (with `--generations 0 --events 100000`, say).
7. Drops the database, also on Ctrl-C; `--keep` leaves it for a second look.

Aims (issue 5): exports at least half of COPY's speed, peak memory under 150 MB,
verification of a 1,000,000-event chain under 30 s.
"""

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
AIM_MEMORY_MB = 150
AIM_VERIFY_SECONDS = 30
EXPORTS = [("generations", "csv"), ("generations", "jsonl"), ("audit", "csv"), ("audit", "jsonl")]


class BenchError(Exception):
    """Something the operator must fix; printed without a traceback."""


def django_env(database: str, data_dir: str) -> dict:
    return {
        "DATABASE_URL": f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{database}",
        "SECRET_KEY": "bench-only-secret-key-not-the-development-default-0123456789",
        "DEBUG": "0",
        "GOVERNANCE_DATA_DIR": data_dir,
        "LOG_LEVEL": "WARNING",
        "CONN_MAX_AGE": "0",
        "DJANGO_SETTINGS_MODULE": "governance.settings",
    }


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(**PG, dbname="postgres", autocommit=True, connect_timeout=3) as conn:
        conn.execute(sql)


def peak_rss_mb() -> float:
    """This process's RSS high-water mark (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# Seeding


def seed(generations: int, events: int) -> None:
    from django.core.management import call_command

    from governance.audit.services import Actor
    from governance.projects.models import Environment
    from governance.projects.services import create_api_key

    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=open(os.devnull, "w"))
    for environment in Environment.objects.all():
        create_api_key(environment=environment, name="bench", actor=Actor.system("bench"))
    started = time.perf_counter()
    seed_generations(generations)
    print(f"  {generations:,} generations seeded in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    seed_events(events)
    print(f"  {events:,} audit events seeded in {time.perf_counter() - started:.1f} s", flush=True)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE generations_generation")
        cursor.execute("VACUUM ANALYZE audit_auditevent")


def seed_generations(count: int) -> None:
    """Rows shaped like the gateway's: mostly completed, some refused, failed, unfinished, remixed, canary."""
    from django.db import connection

    from governance.policies.models import PolicyRevision
    from governance.projects.models import ApiKey, Environment

    environments = list(Environment.objects.order_by("pk"))
    keys = [ApiKey.objects.filter(environment=environment).first().pk for environment in environments]
    revisions = [PolicyRevision.objects.filter(environment=environment).first() for environment in environments]
    project = environments[0].project_id

    def pick(values: list[int]) -> str:
        return f"(ARRAY[{','.join(map(str, values))}])[1 + i % {len(values)}]"

    sql = f"""
    INSERT INTO generations_generation (
        video_id, operation, requested_model, resolved_snapshot, canary_arm, prompt, prompt_sha256, seconds, size,
        parameters, input_reference, input_reference_sha256, status, progress, timeline, error_code, error_message,
        error_param, upstream_id, upstream_attempts, estimated_cost, created_at, started_at, completed_at,
        api_key_id, environment_id, policy_revision_id, project_id, provider_id, remixed_from_id, step_token,
        api_version, simulated, purpose, source_video, source_video_sha256, sweeps, request_id)
    SELECT
        'video_' || md5(i::text),
        CASE WHEN remix THEN 'remix' ELSE 'create' END,
        CASE WHEN i % 3 = 0 THEN 'sora-2' ELSE 'sora-2-2025-12-08' END,
        CASE WHEN status = 'refused' THEN '' ELSE 'sora-2-2025-12-08' END,
        CASE WHEN i % 10 = 0 THEN 'canary' WHEN i % 10 = 1 THEN 'control' ELSE '' END,
        prompt,
        encode(sha256(convert_to(prompt, 'UTF8')), 'hex'),
        4 + 4 * (i % 3),
        '720x1280',
        jsonb_build_object('model', 'sora-2-2025-12-08', 'seconds', (4 + 4 * (i % 3))::text, 'size', '720x1280')
            || CASE WHEN i % 4 = 0 THEN jsonb_build_object('seed', i) ELSE '{{}}'::jsonb END,
        '', '',
        status,
        CASE WHEN status = 'completed' THEN 100 ELSE 0 END,
        '[]'::jsonb,
        CASE status WHEN 'refused' THEN 'model_not_allowed' WHEN 'failed' THEN 'upstream_failed' ELSE '' END,
        CASE status WHEN 'refused' THEN 'The model "sora-2-pro" is not allowed in this environment.'
                    WHEN 'failed' THEN 'The provider reported a failure.' ELSE '' END,
        CASE WHEN status = 'refused' THEN 'model' ELSE '' END,
        CASE WHEN status = 'refused' THEN '' ELSE 'video_up_' || md5((i * 7)::text) END,
        CASE WHEN status = 'refused' THEN 0 ELSE 1 END,
        CASE WHEN status = 'refused' THEN 0 ELSE 0.1 * (4 + 4 * (i % 3)) END,
        created,
        CASE WHEN status IN ('completed', 'failed', 'in_progress') THEN created + interval '150 ms' END,
        CASE WHEN status IN ('completed', 'failed') THEN created + (40 + i % 60) * interval '1 second' END,
        {pick(keys)}, {pick([e.pk for e in environments])}, {pick([r.pk for r in revisions])}, {project},
        {revisions[0].provider_id},
        CASE WHEN remix THEN i - 1000 END,
        '', '', true, '', '', '', 0, ''
    FROM (
        SELECT i,
               i % 20 = 0 AND i > 1000 AS remix,
               CASE WHEN i % 20 IN (3, 13) THEN 'refused' WHEN i % 50 = 7 THEN 'failed'
                    WHEN i > {count} - 50 THEN 'queued' ELSE 'completed' END AS status,
               'A calico cat surfing a slow wave at sunset, wide shot, take ' || i || '. '
                   || repeat(md5(i::text), 1 + i % 3) AS prompt,
               timestamptz '2026-01-01 00:00:00+00' + i * interval '15 seconds' AS created
        FROM generate_series(1, {count}) AS i
    ) AS g
    """
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # skip the per-row foreign key checks
        cursor.execute(sql)
        cursor.execute("SET session_replication_role = DEFAULT")


def seed_events(count: int, batch: int = 50_000) -> None:
    """Events after the demo's, hashed and signed with the application's own code so verify_audit accepts them."""
    from django.db import connection

    from governance.audit import keys, proofs
    from governance.audit.models import AuditChainHead
    from governance.audit.services import event_hash
    from governance.projects.models import Environment

    environments = list(Environment.objects.order_by("pk"))
    head = AuditChainHead.objects.get(pk=1)
    sequence, previous_hash = head.sequence, head.hash
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    actions = ["policy.revised", "api_key.created", "member.changed", "alias.repointed", "login.failed"]
    columns = (
        "sequence, occurred_at, actor_type, actor_label, actor_user_id, action, project_id, environment_id, "
        "object_type, object_id, payload, previous_hash, hash, signature"
    )
    key = keys.signing_key()
    with connection.cursor() as cursor:
        while sequence < head.sequence + count:
            last = min(sequence + batch, head.sequence + count)
            with cursor.copy(f"COPY audit_auditevent ({columns}) FROM STDIN") as copy:
                for number in range(sequence + 1, last + 1):
                    environment = environments[number % len(environments)]
                    event = SimpleNamespace(
                        sequence=number,
                        occurred_at=start + dt.timedelta(milliseconds=20 * number),
                        actor_type="system",
                        actor_label="bench",
                        actor_user_id=None,
                        action=actions[number % len(actions)],
                        project_id=environment.project_id,
                        environment_id=environment.pk,
                        object_type="policies.policyrevision",
                        object_id=str(number),
                        payload={"reason": f"bench change {number}", "revision": number % 1000, "allowed": ["a", "b"]},
                        previous_hash=previous_hash,
                    )
                    event.hash = event_hash(event)
                    copy.write_row(
                        (
                            event.sequence, event.occurred_at, event.actor_type, event.actor_label, None,
                            event.action, event.project_id, event.environment_id, event.object_type,
                            event.object_id, json.dumps(event.payload), event.previous_hash, event.hash,
                            proofs.sign_event_hash(key, event.hash),
                        )
                    )  # fmt: skip
                    previous_hash = event.hash
            sequence = last
        # The head's guard lets it advance one appended event at a time; a bulk load moves it in one step.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "UPDATE audit_auditchainhead SET sequence = %s, hash = %s WHERE id = 1", [sequence, previous_hash]
        )
        cursor.execute("SET session_replication_role = DEFAULT")


# Measuring


def drain(statement: str, params: tuple = ()) -> tuple[int, float]:
    """Rows and seconds for a COPY ... TO STDOUT read through psycopg and thrown away."""
    import psycopg
    from django.conf import settings

    with psycopg.connect(**PG, dbname=settings.DATABASES["default"]["NAME"]) as conn, conn.cursor() as cursor:
        started = time.perf_counter()
        with cursor.copy(statement, params) as copy:
            for _ in copy:
                pass
        return cursor.rowcount, time.perf_counter() - started


def make_export(kind: str, format: str = "csv"):
    from governance.audit.services import Actor
    from governance.exports import exports

    return exports.Export(kind=kind, format=format, filters=exports.ExportFilters(), actor=Actor.system("bench"))


def copy_rows(export):
    """The export's rows as its COPY path selects them (through its own private steps: a bench may look inside)."""
    from governance.exports.exports import chain_head

    rows, _ = export._rows(export._key_range(chain_head()), for_copy=True)
    return rows


def postgres_select(export) -> tuple[str, tuple]:
    """The SELECT under the export's COPY path, with its parameters: the bench times PostgreSQL's plain COPY of it."""
    return copy_rows(export).query.sql_with_params()


def postgres_copy(export) -> tuple[str, tuple]:
    """The COPY statement the export runs on PostgreSQL, with its parameters."""
    return export._copy_statement(copy_rows(export))


def reference_copy(kind: str) -> dict:
    """PostgreSQL's own COPY of the export's SELECT (plain text format): through psycopg, and through psql."""
    import psycopg
    from django.conf import settings

    select, params = postgres_select(make_export(kind))
    rows, psycopg_seconds = drain(f"COPY ({select}) TO STDOUT", params)
    database = settings.DATABASES["default"]["NAME"]
    with psycopg.connect(**PG, dbname=database) as conn:
        statement = psycopg.ClientCursor(conn).mogrify(f"COPY ({select}) TO STDOUT", params)
    started = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        subprocess.run(
            ["psql", "-h", PG["host"], "-U", PG["user"], "-d", database, "-qc", statement], stdout=devnull, check=True
        )
    return {"rows": rows, "psycopg_seconds": psycopg_seconds, "psql_seconds": time.perf_counter() - started}


def child(argv: list[str]) -> None:
    """In a fresh process: one export to /dev/null, or one verification; prints one JSON line."""
    setup_django()
    if argv[0] == "setup":  # the floor every child's peak stands on: Django and the apps imported, nothing done
        print(json.dumps({"peak_mb": peak_rss_mb()}))
        return
    if argv[0] == "verify":
        from django.core.management import call_command

        started, cpu = time.perf_counter(), time.process_time()
        call_command("verify_audit", *argv[1:], stdout=open(os.devnull, "w"))
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
        print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_mb": peak_rss_mb()}))
        return
    if argv[0] in ("audit-export", "audit-proof"):
        if argv[1] == "in-memory":
            use_the_in_memory_proof()
        print(json.dumps(audit_export() if argv[0] == "audit-export" else audit_proof()))
        return
    from governance.audit.services import Actor
    from governance.exports import exports

    kind, format, path = argv
    export = exports.Export(
        kind=kind,
        format=format,
        filters=exports.ExportFilters(),
        actor=Actor.system("bench"),
        through_copy=path == "copy",
    )
    skip = 1 if format == "csv" else 0  # the CSV header comes before any row is read
    started, first_rows = time.perf_counter(), None
    with open(os.devnull, "wb") as out:
        for number, chunk in enumerate(export.stream()):
            if first_rows is None and number >= skip:
                first_rows = time.perf_counter() - started
            out.write(chunk)
            out.flush()
    seconds = time.perf_counter() - started
    manifest = export.manifest
    print(
        json.dumps(
            {
                "rows": manifest["rows"],
                "bytes": manifest["bytes"],
                "seconds": seconds,
                "first_rows": first_rows,
                "peak_mb": peak_rss_mb(),
            }
        )
    )


def use_the_in_memory_proof() -> None:
    """The baseline: the proof as exports made it before it streamed, every hash in a list, every index in a set."""
    from governance.audit import proofs

    proofs.range_proof_streamed = lambda size, leaves, included: proofs.range_proof(list(leaves), set(included))


def audit_export() -> dict:
    """The whole audit export in JSON Lines to /dev/null: time to its first rows, to its proof line, peak RSS."""
    export = make_export("audit", "jsonl")
    started, cpu = time.perf_counter(), time.process_time()
    moments = []
    with open(os.devnull, "wb") as out:
        for chunk in export.stream():
            moments.append(time.perf_counter() - started)
            out.write(chunk)
    return {
        "rows": export.manifest["rows"],
        "seconds": moments[-1],
        "cpu_seconds": time.process_time() - cpu,
        "first_rows": moments[0],
        "proof_seconds": moments[-1] - moments[-2],  # the last chunk is the proof line
        "peak_mb": peak_rss_mb(),
    }


def audit_proof() -> dict:
    """The proof line alone, over the newest checkpoint, with Python's allocations traced: its own peak memory."""
    import tracemalloc

    from django.db import transaction

    from governance.audit.checkpoints import newest_checkpoint
    from governance.audit.models import AuditChainHead

    export = make_export("audit", "jsonl")
    export.checkpoint = newest_checkpoint()
    head = AuditChainHead(sequence=export.checkpoint.tree_size, hash=export.checkpoint.head_hash)
    with transaction.atomic():
        tracemalloc.start()
        started = time.perf_counter()
        line = export._proof_line(head, lines_sha256="0" * 64)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return {"seconds": seconds, "traced_peak_mb": peak / 1e6, "sha256": hashlib.sha256(line).hexdigest()}


def measure_audit_at_scale(repeat: int) -> None:
    """verify_audit by default against --full, and the audit export's proof streamed against held in memory.

    Each pair runs alternately (A B A B ...) in fresh processes, and each figure is the median of
    `repeat` runs: on a shared machine the load moves between two runs more than the code does.
    CPU time is the child's own (user + system), steadier than wall time under load.
    """
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("audit_checkpoint", stdout=open(os.devnull, "w"))  # the one verify_audit starts from
    print(
        f"\nAudit at scale, fresh processes run alternately, medians of {repeat} "
        f"(a checkpoint first: {time.perf_counter() - started:.2f} s)"
    )
    floor = run_child("setup")["peak_mb"]
    print(f"  a child after django.setup() alone: peak {floor:.0f} MB ('above setup' below is over that)")
    quick, full = alternately(repeat, ("verify",), ("verify", "--full"))
    for name, result in (("verify_audit", quick), ("verify_audit --full", full)):
        print(
            f"  {name:<22}{result['seconds']:>8.2f} s wall {result['cpu_seconds']:>8.2f} s CPU  "
            f"peak {result['peak_mb']:>5.0f} MB ({result['peak_mb'] - floor:.0f} MB above setup)"
        )
    print(
        f"  default / --full: wall time {quick['seconds'] / full['seconds']:.2f}, CPU time "
        f"{quick['cpu_seconds'] / full['cpu_seconds']:.2f}, peak memory {quick['peak_mb'] / full['peak_mb']:.2f} "
        f"(above setup {above(quick, floor, full):.2f})"
    )
    headings = ("rows", "s", "CPU s", "1st rows", "proof", "peak MB", "above")
    print(f"  {'audit JSONL export':<22}" + "".join(f"{heading:>10}" for heading in headings))
    in_memory, streamed = alternately(repeat, ("audit-export", "in-memory"), ("audit-export", "streamed"))
    for proof, result in (("in-memory", in_memory), ("streamed", streamed)):
        print(
            f"  {'proof ' + proof:<22}{result['rows']:>10,}{result['seconds']:>10.2f}{result['cpu_seconds']:>10.2f}"
            f"{result['first_rows'] * 1000:>8.0f}ms{result['proof_seconds'] * 1000:>8.0f}ms"
            f"{result['peak_mb']:>10.0f}{result['peak_mb'] - floor:>10.0f}"
        )
    pair = alternately(1, ("audit-proof", "in-memory"), ("audit-proof", "streamed"))  # once: tracemalloc is slow
    alone = {"in-memory": pair[0], "streamed": pair[1]}
    for proof, result in alone.items():
        print(
            f"  proof line alone, {proof:<10} {result['seconds'] * 1000:>7.0f} ms, "
            f"Python allocations peak {result['traced_peak_mb']:>7.2f} MB (tracemalloc)"
        )
    print(
        f"  streamed / in-memory: export peak RSS {streamed['peak_mb'] / in_memory['peak_mb']:.2f} "
        f"(above setup {above(streamed, floor, in_memory):.2f}), first rows "
        f"{streamed['first_rows'] / in_memory['first_rows']:.2f}, proof line time "
        f"{streamed['proof_seconds'] / in_memory['proof_seconds']:.2f}, proof line allocations "
        f"{alone['streamed']['traced_peak_mb'] / alone['in-memory']['traced_peak_mb']:.3f}; same bytes: "
        f"{'yes' if alone['streamed']['sha256'] == alone['in-memory']['sha256'] else 'NO'}"
    )


def alternately(repeat: int, first: tuple[str, ...], second: tuple[str, ...]) -> tuple[dict, dict]:
    """Run two children A B A B ..., `repeat` times each; each figure is its median over the runs."""
    runs: tuple[list[dict], list[dict]] = ([], [])
    for _ in range(repeat):
        runs[0].append(run_child(*first))
        runs[1].append(run_child(*second))
    return tuple({key: statistics.median(run[key] for run in results) for key in results[0]} for results in runs)


def above(result: dict, floor: float, baseline: dict) -> float:
    """The ratio of two peaks over the floor every process starts from."""
    return (result["peak_mb"] - floor) / max(baseline["peak_mb"] - floor, 0.1)


def run_child(*argv: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *argv], cwd=ROOT, env=os.environ, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise BenchError(f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(args: argparse.Namespace) -> bool:
    paths = ["copy", "portable"] if args.portable else ["copy"]
    print("\nReference: PostgreSQL's COPY (SELECT <the export's columns>) TO STDOUT")
    references = {}
    for kind in ("generations", "audit"):
        reference = references[kind] = reference_copy(kind)
        rows, through_psycopg, through_psql = reference["rows"], reference["psycopg_seconds"], reference["psql_seconds"]
        print(
            f"  {kind:<12}{rows:>10,} rows   psycopg drain {rows / through_psycopg:>10,.0f} rows/s "
            f"({through_psycopg:.2f} s)   psql > /dev/null {rows / through_psql:>10,.0f} rows/s ({through_psql:.2f} s)",
            flush=True,
        )
    print(
        "\nExports, each in a fresh process writing to /dev/null. 'of COPY': rows/s against the reference above;"
        "\n'of server': against PostgreSQL producing the same bytes alone (the export's own COPY statement, drained)."
    )
    headings = ("rows", "MB", "s", "rows/s", "of COPY", "of server", "1st rows", "peak MB")
    print(f"  {'export':<19}{'path':<10}" + "".join(f"{heading:>10}" for heading in headings))
    ok = True
    for kind, format in EXPORTS:
        server_rows, server_seconds = drain(*postgres_copy(make_export(kind, format)))
        for path in paths:
            result = run_child(kind, format, path)
            rate = result["rows"] / result["seconds"]
            share = rate / (references[kind]["rows"] / references[kind]["psycopg_seconds"])
            of_server = rate / (server_rows / server_seconds)
            if path == "copy":
                ok &= share >= 0.5 and result["peak_mb"] < AIM_MEMORY_MB
            print(
                f"  {kind + ' ' + format:<19}{path:<10}{result['rows']:>10,}{result['bytes'] / 1e6:>10.0f}"
                f"{result['seconds']:>10.2f}{rate:>10,.0f}{share:>10.0%}{of_server:>10.0%}"
                f"{result['first_rows'] * 1000:>8.0f}ms{result['peak_mb']:>10.0f}",
                flush=True,
            )
    verification = run_child("verify", "--full")
    ok &= verification["seconds"] < AIM_VERIFY_SECONDS
    print(
        f"\nverify_audit --full over the whole chain: {verification['seconds']:.1f} s, "
        f"peak {verification['peak_mb']:.0f} MB (aim: under {AIM_VERIFY_SECONDS} s)"
    )
    measure_audit_at_scale(args.repeat)
    print(
        f"\nAims: exports (COPY path) at least 50% of COPY's rows/s and under {AIM_MEMORY_MB} MB peak; "
        f"verification under {AIM_VERIFY_SECONDS} s: {'all met' if ok else 'NOT all met'}."
    )
    return ok


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generations", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--portable", action="store_true", help="Also time the portable (ORM) path.")
    parser.add_argument("--database", default="governance_bench_exports")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument("--repeat", type=int, default=3, help="Runs of each audit-at-scale child (default 3).")
    parser.add_argument(
        "--audit-at-scale",
        action="store_true",
        help="Only step 6: verify_audit default against --full, the audit export's proof streamed against in memory.",
    )
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="governance-bench-exports-")
    os.environ.update(django_env(args.database, data_dir))
    created = False
    try:
        import psycopg

        try:
            admin_sql(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        except psycopg.OperationalError as error:
            raise BenchError(f"PostgreSQL is not reachable at {PG['host']}:{PG['port']}: {error}") from None
        admin_sql(f'CREATE DATABASE "{args.database}"')
        created = True
        setup_django()
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
        print(
            f"Python {platform.python_version()}, PostgreSQL {version}, {os.cpu_count()} CPUs; database {args.database}"
        )
        print("Seeding")
        seed(args.generations, args.events)
        connection.close()
        if args.audit_at_scale:
            measure_audit_at_scale(args.repeat)
            return 0
        return 0 if measure(args) else 1
    except BenchError as error:
        print(f"\nbench: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nInterrupted; cleaning up.", file=sys.stderr)
        return 130
    finally:
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        if created and not args.keep:
            admin_sql(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        elif created:
            print(f"Kept database '{args.database}'.")
        subprocess.run(["rm", "-rf", data_dir], check=False)


if __name__ == "__main__":
    sys.exit(main())
