"""Benchmark the dashboard's generation log (`GET /generations/`) over 1,000,000 rows in PostgreSQL.

`.venv/bin/python bench/generation_log.py [--rows N] [--requests N] [--keep] [--reuse]`

1. checks PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth) and exits 2 with a clear
   message when it is absent;
2. creates its own database (`governance_bench_log`), migrates it and builds 30 projects x 3
   environments on the simulator catalog, each with a policy revision and an API key;
3. seeds the rows in one `INSERT ... SELECT ... FROM generate_series` (about a minute): 92 days
   of traffic, projects skewed from large to small, 72% completed, 8% failed, 20% refused,
   three snapshots, created_at jittered so it is not in id order, prompts from a few phrases
   plus a rare one; then ANALYZE;
4. measures the view's server time through Django's test Client (middleware, session,
   selectors, template, all of it; no network): for each case a few warm-up requests, then
   `--requests` timed ones, as a member of three projects (one large, one medium, one small)
   and as a site-wide auditor;
5. prints median and p95 per case and whether every median is under 100 ms (exit 1 if not),
   then drops the database unless `--keep`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "governance_bench_log"
SERVER = "postgres://postgres@127.0.0.1:5432"
AIM_MS = 100.0
PROJECTS = 30
PHRASES = [
    "a lighthouse at dusk, slow pan",
    "product shot of a sneaker on white",
    "a cat asleep on a sunny windowsill",
    "drone flight over a pine forest",
    "city street in the rain at night",
    "close-up of coffee being poured",
    "a paper boat on a stream",
    "timelapse of clouds over mountains",
]


def main() -> int:
    options = parse_arguments()
    try:
        import psycopg
    except ImportError:
        print("psycopg is missing: run `make test` once to create .venv", file=sys.stderr)
        return 2
    try:
        admin = psycopg.connect(f"{SERVER}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        print(f"PostgreSQL is not reachable at {SERVER} ({error}); start it, then run again.", file=sys.stderr)
        return 2
    exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone()
    if exists and not options.reuse:
        admin.execute(f'DROP DATABASE "{DATABASE}" WITH (FORCE)')
    if not exists or not options.reuse:
        admin.execute(f'CREATE DATABASE "{DATABASE}"')
    try:
        return run(options, reuse=bool(exists and options.reuse))
    finally:
        if not options.keep:
            from django.db import connections

            connections.close_all()
            admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
            print(f"dropped {DATABASE}")
        admin.close()


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=50, help="timed requests per case")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept database instead of seeding again")
    return parser.parse_args()


def run(options: argparse.Namespace, *, reuse: bool) -> int:
    os.environ.update(
        DATABASE_URL=f"{SERVER}/{DATABASE}",
        DEBUG="0",
        SECRET_KEY="bench-only-secret-key-not-the-development-default-0123456789",
        GOVERNANCE_DATA_DIR=tempfile.mkdtemp(prefix="bench-log-"),
        DJANGO_SETTINGS_MODULE="governance.settings",
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    if not reuse:
        call_command("migrate", verbosity=0)
        world = build_world()
        started = time.perf_counter()
        seed_rows(world, options.rows)
        print(f"seeded {options.rows:,} generations in {time.perf_counter() - started:.0f} s")
    world = load_world()
    results = measure(world, options.requests)
    return report(results)


def build_world() -> dict:
    from governance.audit.services import Actor
    from governance.catalog.models import Provider
    from governance.catalog.services import load_pack, read_pack
    from governance.policies.services import revise_policy
    from governance.projects.models import Environment, Project, Role
    from governance.projects.services import create_api_key, set_membership

    system = Actor.system("bench")
    load_pack(read_pack("simulator"), actor=system)
    provider = Provider.objects.get(slug="simulator")
    snapshots = list(provider.snapshots.values_list("name", flat=True))
    for number in range(PROJECTS):
        project = Project.objects.create(slug=f"project-{number:02d}", name=f"Project {number:02d}")
        for name in ("development", "staging", "production"):
            environment = Environment.objects.create(project=project, name=name)
            revise_policy(
                environment=environment,
                provider=provider,
                actor=system,
                reason="bench",
                default_model=snapshots[0],
                allowed_snapshots=snapshots,
                alias_requests="follow",
            )
            create_api_key(environment=environment, name="bench", actor=system)
    member, _ = make_users()
    for slug in ("project-00", "project-10", "project-29"):  # a large, a medium and a small project
        set_membership(project=Project.objects.get(slug=slug), user=member, role=Role.VIEWER, actor=system)
    return load_world()


def make_users():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from governance.projects.models import AUDITOR_GROUP

    users = get_user_model().objects
    member = users.create_user("bench-member", password="unused-bench-password")
    auditor = users.create_user("bench-auditor", password="unused-bench-password")
    auditor.groups.add(Group.objects.get_or_create(name=AUDITOR_GROUP)[0])
    return member, auditor


def load_world() -> dict:
    from django.contrib.auth import get_user_model

    from governance.catalog.models import Snapshot
    from governance.policies.models import PolicyRevision
    from governance.projects.models import Environment, Project

    projects = list(Project.objects.order_by("slug"))
    environments = list(Environment.objects.order_by("project__slug", "name"))
    revisions = {revision.environment_id: revision for revision in PolicyRevision.objects.all()}
    return {
        "project_ids": [project.pk for project in projects],
        "environment_ids": [environment.pk for environment in environments],
        "key_ids": [environment.api_keys.get().pk for environment in environments],
        "revision_ids": [revisions[environment.pk].pk for environment in environments],
        "provider_id": revisions[environments[0].pk].provider_id,
        "snapshots": sorted(Snapshot.objects.values_list("name", flat=True)),
        "member": get_user_model().objects.get(username="bench-member"),
        "auditor": get_user_model().objects.get(username="bench-auditor"),
    }


SEED_SQL = """
INSERT INTO generations_generation (
    video_id, project_id, environment_id, api_key_id, operation, requested_model, resolved_snapshot,
    provider_id, policy_revision_id, canary_arm, prompt, prompt_sha256, seconds, size, parameters,
    input_reference, input_reference_sha256, status, progress, timeline, error_code, error_message,
    error_param, upstream_id, upstream_attempts, step_token, request_id, estimated_cost, created_at,
    completed_at
)
SELECT
    'video_' || md5(i::text),
    (%(projects)s::int[])[p + 1],
    (%(environments)s::int[])[p * 3 + e + 1],
    (%(keys)s::int[])[p * 3 + e + 1],
    'create', 'sora-2',
    CASE WHEN status = 'refused' THEN '' ELSE (%(snapshots)s::text[])[1 + i %% 3] END,
    %(provider)s, (%(revisions)s::int[])[p * 3 + e + 1], '',
    CASE WHEN i %% 50000 = 7 THEN 'a zeppelin over the harbour' ELSE (%(phrases)s::text[])[1 + i %% 8] END
        || ' #' || i,
    '', 8, '1280x720', '{"model": "sora-2", "seconds": 8}'::jsonb, '', '', status,
    CASE WHEN status = 'completed' THEN 100 WHEN status = 'in_progress' THEN 40 ELSE 0 END,
    '[]'::jsonb,
    CASE WHEN status = 'refused' THEN 'model_not_allowed' WHEN status = 'failed' THEN 'upstream_failed' ELSE '' END,
    '', '', CASE WHEN status = 'refused' THEN '' ELSE 'sim_' || i END, 0, '', '', 0.8000, created_at,
    CASE WHEN status IN ('completed', 'failed', 'refused') THEN created_at + interval '40 seconds' END
FROM (
    SELECT i, p, e, created_at,
        CASE WHEN i > %(rows)s - 20 THEN 'in_progress'
             WHEN r < 0.72 THEN 'completed' WHEN r < 0.80 THEN 'failed' ELSE 'refused' END AS status
    FROM (
        SELECT i, floor(power(random(), 2) * %(project_count)s)::int AS p, i %% 3 AS e, random() AS r,
            now() - (%(rows)s - i) * interval '8 seconds' + random() * interval '6 seconds' AS created_at
        FROM generate_series(1, %(rows)s) AS i
    ) AS drawn
) AS seeded
"""


def seed_rows(world: dict, rows: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            SEED_SQL,
            {
                "projects": world["project_ids"],
                "environments": world["environment_ids"],
                "keys": world["key_ids"],
                "revisions": world["revision_ids"],
                "provider": world["provider_id"],
                "snapshots": world["snapshots"],
                "phrases": PHRASES,
                "rows": rows,
                "project_count": PROJECTS,
            },
        )
        cursor.execute("ANALYZE generations_generation")


def cases(world: dict) -> list[tuple[str, object, dict]]:
    from django.db import connection

    member, auditor = world["member"], world["auditor"]
    mine = list(member.memberships.values_list("project_id", flat=True))
    month_ago = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 30 * 86400))
    combined = {"project": "project-10", "status": "failed", "snapshot": world["snapshots"][1]}
    return [
        ("member: no filter", member, {}),
        ("member: project (large)", member, {"project": "project-00"}),
        ("member: project (small)", member, {"project": "project-29"}),
        ("member: environment", member, {"environment": "production"}),
        ("member: snapshot", member, {"snapshot": world["snapshots"][0]}),
        ("member: status refused", member, {"status": "refused"}),
        ("member: status in progress (rare)", member, {"status": "in_progress"}),
        ("member: operation character (none seeded)", member, {"operation": "character"}),
        ("member: one day, 30 days ago", member, {"created_from": month_ago, "created_to": month_ago}),
        ("member: prompt, common word", member, {"q": "lighthouse"}),
        ("member: prompt, rare word", member, {"q": "zeppelin"}),
        ("member: project + status + snapshot", member, combined),
        ("member: deep page (cursor)", member, {"before": _middle_id(connection, mine)}),
        ("auditor: no filter", auditor, {}),
        ("auditor: status failed", auditor, {"status": "failed"}),
        ("auditor: deep page (cursor)", auditor, {"before": _middle_id(connection, None)}),
        ("auditor: htmx rows only, status completed", auditor, {"status": "completed", "htmx": True}),
    ]


def _middle_id(connection, project_ids: list[int] | None) -> int:
    """The id of the row halfway down the log (found once with OFFSET, outside the measurement)."""
    where = "WHERE project_id = ANY(%s)" if project_ids is not None else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM generations_generation {where}", [project_ids] if where else [])
        half = cursor.fetchone()[0] // 2
        cursor.execute(
            f"SELECT id FROM generations_generation {where} ORDER BY created_at DESC, id DESC OFFSET %s LIMIT 1",
            [project_ids, half] if where else [half],
        )
        return cursor.fetchone()[0]


@dataclass
class Timing:
    """One request: wall time as the client saw it, this process's CPU time, and time inside database calls."""

    wall_ms: float
    cpu_ms: float
    db_ms: float


def measure(world: dict, requests: int) -> list[tuple[str, list[Timing], int]]:
    from django.db import connection
    from django.test import Client

    database = _DatabaseTimer()
    results = []
    with connection.execute_wrapper(database):
        for name, user, params in cases(world):
            client = Client()
            client.force_login(user)
            params = dict(params)
            headers = {"HX-Request": "true"} if params.pop("htmx", False) else {}
            for _ in range(3):  # warm-up: connection, template and plan caches
                response = client.get("/generations/", params, headers=headers)
                assert response.status_code == 200, (name, response.status_code)
            timings = []
            for _ in range(requests):
                database.elapsed = 0.0
                wall, cpu = time.perf_counter(), time.process_time()
                response = client.get("/generations/", params, headers=headers)
                timings.append(
                    Timing(
                        wall_ms=(time.perf_counter() - wall) * 1000,
                        cpu_ms=(time.process_time() - cpu) * 1000,
                        db_ms=database.elapsed * 1000,
                    )
                )
            rows = response.content.decode().count('<tr id="row-')
            results.append((name, timings, rows))
            print(f"  {name:<45} median {statistics.median(t.wall_ms for t in timings):6.1f} ms", flush=True)
    return results


class _DatabaseTimer:
    def __init__(self) -> None:
        self.elapsed = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.elapsed += time.perf_counter() - started


def report(results: list[tuple[str, list[Timing], int]]) -> int:
    print()
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"load average (1, 5, 15 min): {load} on {os.cpu_count()} CPUs")
    header = f"{'case':<45} {'rows':>5} {'median ms':>10} {'p95 ms':>8} {'cpu ms':>7} {'db ms':>6}"
    print(header)
    slow = []
    for name, timings, rows in results:
        wall = [timing.wall_ms for timing in timings]
        median, p95 = statistics.median(wall), statistics.quantiles(wall, n=20)[-1]
        cpu = statistics.median(timing.cpu_ms for timing in timings)
        db = statistics.median(timing.db_ms for timing in timings)
        print(f"{name:<45} {rows:>5} {median:>10.1f} {p95:>8.1f} {cpu:>7.1f} {db:>6.1f}")
        if median >= AIM_MS:
            slow.append(name)
    print("median/p95: wall time per request; cpu: this process's CPU (view, template); db: time in database calls")
    print()
    if slow:
        print(f"over the {AIM_MS:.0f} ms median aim: {', '.join(slow)}")
        return 1
    print(f"every median is under {AIM_MS:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
