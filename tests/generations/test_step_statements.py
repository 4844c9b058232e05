"""On PostgreSQL a generation's steps prepare their statements once per session: the steps of the generations after
the first plan none of them again, and complete as before."""

import datetime as dt
import time

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection

from governance.generations import tasks, tracking
from governance.generations.models import Generation
from governance.simulator import services as simulator
from governance.simulator.models import SimulatorProfile
from tests.factories import make_api_key, make_environment_on
from tests.generations.conftest import Api
from tests.upstream_transport import simulator_transport, use_transport

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no prepared statements"),
]

SNAPSHOT = "seedance-1-5-pro-251215"
START = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def api(db) -> Api:
    simulator.rolls.seed(7)
    SimulatorProfile.objects.create(snapshot=SNAPSHOT, latency_seconds=30, failure_rate=0)
    return Api(make_api_key(make_environment_on("byteplus", SNAPSHOT)))


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller, use_transport(simulator_transport()):
        yield traveller
        cache.delete(tracking.HEARTBEAT_KEY)


def prepared() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return {statement for (statement,) in cursor.fetchall()}


def run_through_its_steps(api: Api, clock, prompt: str) -> Generation:
    """Accepted, sent upstream by its first step, polled by the tracker once finished, completed by its last step."""
    answer = api.post("videos", {"prompt": prompt, "model": SNAPSHOT, "seconds": "5"}).json()
    generation = Generation.objects.get(video_id=answer["id"])
    tasks.dispatch_outbox()
    cache.set(tracking.HEARTBEAT_KEY, time.time(), timeout=None)  # a tracker runs: the step hands its job over
    tasks.advance_generation(generation.pk, step=Generation.objects.get(pk=generation.pk).step_token)
    clock.shift(31)
    (handed_over,) = tracking.poll_batch(generation.provider_id, [generation.pk]).handed_over
    tasks.advance_generation(handed_over[0], step=handed_over[1])
    return Generation.objects.get(pk=generation.pk)


def test_the_steps_after_the_first_generations_plan_none_of_their_statements_again(api, clock):
    before = prepared()
    first = run_through_its_steps(api, clock, "a lighthouse at dusk")
    after_first = prepared()
    second = run_through_its_steps(api, clock, "a harbour at dawn")

    assert (first.status, second.status) == ("completed", "completed")
    assert second.archived_files.count() == 2
    new = after_first - before
    assert any(statement.startswith('SELECT "generations_generation"."id"') for statement in new)  # the row's read
    assert any(statement.startswith('UPDATE "generations_generation" SET "step_token"') for statement in new)
    assert prepared() == after_first


def test_with_prepared_statements_off_a_step_prepares_nothing(api, clock, settings):
    settings.DATABASE_PREPARED_STATEMENTS = False  # behind a pooler that does not keep them
    before = prepared()

    assert run_through_its_steps(api, clock, "a lighthouse at dusk").status == "completed"
    assert prepared() == before
