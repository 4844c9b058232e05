"""The tracker's poll of a job on every provider's simulated dialect reads the job's row once: each adapter's poll
uses only the columns the tracker's batch loads (tracking.BATCH_FIELDS), never one more, row by row."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance.generations import tasks, tracking, worker
from governance.generations.models import Generation
from governance.simulator.models import SimulatorProfile
from tests.generations.providers.conftest import api_on
from tests.generations.providers.test_sdk_every_provider import PINNED, Pinned

pytestmark = pytest.mark.django_db


def tracked(pinned: Pinned) -> Generation:
    """A generation sent upstream by its first step, its job handed to the tracker."""
    SimulatorProfile.objects.create(snapshot=pinned.snapshot, latency_seconds=100, failure_rate=0)
    answer = api_on(pinned.pack, pinned.snapshot).post("videos", {"prompt": "a lighthouse at dusk"}).json()
    generation = Generation.objects.get(video_id=answer["id"])
    tasks.dispatch_outbox()
    running = worker.claim_step(generation.pk, Generation.objects.get(pk=generation.pk).step_token)
    assert worker.advance(generation.pk).track
    assert worker.hand_to_tracker(generation.pk, running)
    return generation


@pytest.mark.parametrize("pinned", PINNED, ids=str)
def test_a_tracked_jobs_poll_reads_its_row_once_on_every_provider(pinned, simulated_dialects):
    generation = tracked(pinned)

    with CaptureQueriesContext(connection) as queries:
        outcome = tracking.poll_batch(generation.provider_id, [generation.pk])

    assert outcome.polled == 1
    reads = [query["sql"] for query in queries.captured_queries if 'FROM "generations_generation"' in query["sql"]]
    assert len(reads) == 1
