"""Where a governed submission's time goes: per-request queries and the cost of each piece.

`.venv/bin/python bench/components.py [--iterations N] [--environment development]`

Sets up the same throw-away stack as bench/submit.py (PostgreSQL database
`governance_bench_components`, Redis db 14, temp data dir; all removed afterwards),
then, in this one process (no gunicorn, no load generator, so nothing competes):

1. captures the SQL of one `POST /v1/videos` through Django's test client with
   `CaptureQueriesContext`, plus the statements Django sends around its cursor
   wrappers (the connection health check), counted with a psycopg-level hook, and
   the Redis commands it sends (server `commandstats` delta);
2. times each piece of the hot path many times over, wall and CPU, so they can be
   ranked: the whole request through the handler and middleware, `submit()`, the
   Celery publish, the state-token read, the INSERT transaction, the health check.

The figures are per call on an idle loopback; under 16 concurrent clients every
round trip also waits for a CPU, so wall times grow, CPU times do not.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

# This checkout's code, not the one an editable install points at (a second worktree shares the first's venv).
sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
sys.dont_write_bytecode = True  # no bench/__pycache__ from importing submit.py

import submit as bench  # noqa: E402  (bench/submit.py: the shared stack set-up and clean-up)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--environment", default="development")
    parser.add_argument("--db-name", default="governance_bench_components")
    parser.add_argument("--redis-db", type=int, default=14)
    parser.add_argument(
        "--profile", action="store_true", help="Also cProfile the whole POST, submit() and the publish."
    )
    cli = parser.parse_args()
    args = argparse.Namespace(keep=False, redis_db=cli.redis_db)
    tmp = Path(tempfile.mkdtemp(prefix="governance-bench-components-"))
    stack = bench.Stack(args=args, tmp=tmp, db_name=cli.db_name, redis_db=cli.redis_db)
    try:
        bench.check_services(args)
        stack.api_key = bench.prepare(stack, [(cli.environment, "")])[cli.environment]
        stack.environment = cli.environment
        os.environ.update(stack.env)
        measure(stack, cli.iterations, cli.profile)
        return 0
    except bench.BenchError as error:
        print(f"\nbench: {error}", file=sys.stderr)
        return 2
    finally:
        bench.cleanup(args, [stack], tmp)


def measure(stack: bench.Stack, iterations: int, profile: bool = False) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    django.setup()
    from django.core.cache import cache
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from governance.generations.models import Generation
    from governance.generations.parsing import VideoRequest
    from governance.generations.services import submit
    from governance.generations.submissions import Submission
    from governance.generations.tasks import enqueue_first_steps
    from governance.infra.caching import one_state_read
    from governance.policies.engine import Operation
    from governance.projects.selectors import key_holder

    model = bench.MODEL_BY_ENVIRONMENT.get(stack.environment, bench.DEFAULT_MODEL)
    body = json.dumps({"prompt": bench.PROMPT, "model": model, "seconds": "4"})
    client = Client(HTTP_AUTHORIZATION=f"Bearer {stack.api_key}", HTTP_HOST="127.0.0.1")
    redis = bench.redis_client(stack.redis_db)

    def post() -> None:
        response = client.post("/v1/videos", body, content_type="application/json")
        assert response.status_code == 200, response.content

    for _ in range(20):  # warm every cache, the connection and Celery's producer pool
        post()

    # ---- 1. what one request sends
    raw_statements: list[str] = []
    _hook_raw_psycopg(connection, raw_statements)
    commands_before = bench.redis_counters(stack)
    # Under gunicorn, request_started runs close_old_connections(), which arms the health check
    # for the request's first query; the test client skips that, so do it here.
    connection.close_if_unusable_or_obsolete()
    with CaptureQueriesContext(connection) as captured:
        post()
    commands = bench.delta(bench.redis_counters(stack), commands_before)
    commands.pop("info", None)  # our own commandstats reads (one client, one connection: no handshake counted)
    print("\nOne POST /v1/videos (warm caches):")
    print(f"  SQL through Django's cursor ({len(captured.captured_queries)}):")
    for query in captured.captured_queries:
        print(f"    {query['time']}s  {query['sql'][:150]}")
    print(f"  statements on the raw psycopg connection ({len(raw_statements)}), incl. BEGIN/COMMIT and health check:")
    for statement in raw_statements:
        print(f"    {statement[:150]}")
    print(f"  Redis commands: {dict(commands)}")
    raw_statements.clear()
    _unhook_raw_psycopg(connection)

    # ---- 2. cost of each piece
    holder = key_holder(stack.api_key)
    video = VideoRequest(prompt=bench.PROMPT, model=model, seconds=4)

    def submit_only() -> None:
        with one_state_read():
            submit(holder=holder, submission=Submission(operation=Operation.CREATE, prompt=video.prompt, request=video))

    last = Generation.objects.order_by("-pk").values_list("pk", flat=True).first()

    def insert_only() -> None:
        with transaction.atomic():
            Generation.objects.create(
                project_id=holder.project_id, environment_id=holder.environment_id, api_key_id=holder.api_key_id,
                operation="create", prompt="bench", parameters={}, status="refused",
            )  # fmt: skip

    def insert_autocommit() -> None:
        Generation.objects.create(
            project_id=holder.project_id, environment_id=holder.environment_id, api_key_id=holder.api_key_id,
            operation="create", prompt="bench", parameters={}, status="refused",
        )  # fmt: skip

    import redis as redis_module

    pool = redis.connection_pool

    def redis_client_object() -> None:
        redis_module.Redis(connection_pool=pool)

    def health_check() -> None:
        connection.health_check_done = False
        connection.close_if_health_check_failed()

    def select_one_raw() -> None:
        with connection.connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    def publish_only() -> None:
        enqueue_first_steps([(last, "bench", "")])

    def publish_ten() -> None:
        enqueue_first_steps([(last, "bench", "")] * 10)

    def lpush_only() -> None:
        redis.lpush("bench-scratch", b"x" * 1100)

    def token_only() -> None:
        with one_state_read():
            pass

    def cache_get() -> None:
        cache.get("governance:state-token")

    def lookups_only() -> None:
        with one_state_read():
            key_holder(stack.api_key)

    import logging

    logging.getLogger("django.request").setLevel(logging.ERROR)  # the 404s below are on purpose

    def request_handler_only() -> None:
        client.get("/v1/no-such-path")  # URL resolution, middleware, 404: the framework's floor

    pieces = [
        ("whole POST /v1/videos via test client (middleware, view, submit, response)", post),
        ("submit() alone (token read, policy, the INSERT; the row and its outbox entry)", submit_only),
        ("Celery publish of one first step: start_generations.apply_async (kombu -> Redis LPUSH)", publish_only),
        ("Celery publish of ten first steps in one message (the dispatcher's most)", publish_ten),
        ("bare redis-py LPUSH of a similar-size message", lpush_only),
        ("atomic() + Generation INSERT (BEGIN, INSERT, COMMIT)", insert_only),
        ("Generation INSERT in autocommit (one round trip, no BEGIN/COMMIT)", insert_autocommit),
        ("redis.Redis(connection_pool=...) object, made per call by Django's cache and by kombu", redis_client_object),
        ("connection health check (SELECT 1 at each request's first query)", health_check),
        ("raw SELECT 1 round trip", select_one_raw),
        ("one_state_read(): the state token, as pushed (a GET from Redis while not subscribed)", token_only),
        ("django cache.get alone", cache_get),
        ("key lookup from process memory (+ token read)", lookups_only),
        ("framework floor: test client GET to a 404 (middleware, resolver)", request_handler_only),
    ]
    print(f"\nCost per call, {iterations} calls each (idle machine, loopback):")
    print(f"  {'wall ms':>8} {'CPU ms':>8}  piece")
    for name, call in pieces:
        wall, cpu = _time(call, iterations)
        print(f"  {wall:8.3f} {cpu:8.3f}  {name}")
    redis.delete("bench-scratch")
    if profile:
        wanted = os.environ.get("BENCH_PROFILE_PIECES", "0,1,2")
        for name, call in [pieces[int(i)] for i in wanted.split(",")]:
            _profile(name, call, min(iterations, 500))


def _profile(name: str, call, iterations: int, top: int = 35) -> None:
    """cProfile one piece on the process's CPU clock, not the wall clock, so waits on sockets do not count.

    cProfile inflates small calls; compare shares, not absolute figures.
    """
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for _ in range(iterations):
        call()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats(os.environ.get("BENCH_PROFILE_SORT", "cumulative")).print_stats(top)
    print(f"\ncProfile (CPU time) of {name}, {iterations} calls (cumulative):")
    lines = out.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    print("\n".join(lines[start:]))


def _time(call, iterations: int) -> tuple[float, float]:
    for _ in range(min(50, iterations)):
        call()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(iterations):
        call()
    return 1000 * (time.perf_counter() - wall0) / iterations, 1000 * (time.process_time() - cpu0) / iterations


_original_execute = {}


def _hook_raw_psycopg(connection, sink: list[str]) -> None:
    """Record every statement psycopg sends, including those Django sends past its cursor wrappers."""
    import psycopg

    if "cursor" in _original_execute:
        return
    original = psycopg.Cursor.execute
    _original_execute["cursor"] = original

    def execute(self, query, params=None, **kwargs):
        connection_ = self.connection
        if not connection_.autocommit and connection_.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            sink.append("BEGIN (implicit: psycopg sends it before the transaction's first statement)")
        sink.append(query if isinstance(query, str) else str(query))
        return original(self, query, params, **kwargs)

    psycopg.Cursor.execute = execute
    conn_class = type(connection.connection)
    for method in ("commit", "rollback"):
        original_method = getattr(conn_class, method)
        _original_execute[method] = original_method

        def wrapped(self, _original=original_method, _name=method):
            sink.append(_name.upper())
            return _original(self)

        setattr(conn_class, method, wrapped)


def _unhook_raw_psycopg(connection) -> None:
    import psycopg

    psycopg.Cursor.execute = _original_execute.pop("cursor")
    conn_class = type(connection.connection)
    for method in ("commit", "rollback"):
        if method in _original_execute:
            setattr(conn_class, method, _original_execute.pop(method))


if __name__ == "__main__":
    sys.exit(main())
