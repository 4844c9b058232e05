import pytest

from governance.simulator.models import SimulatedVideo, SimulatorProfile
from governance.simulator.services import destined_to_fail
from tests.simulator.helpers import NEW, OLD, START, create, retrieve

pytestmark = pytest.mark.django_db


def test_status_moves_from_queued_through_in_progress_to_completed(client, clock, reliable):
    video_id = create(client).json()["id"]

    assert retrieve(client, video_id).json()["status"] == "queued"
    clock.shift(5.5)
    halfway = retrieve(client, video_id).json()
    assert (halfway["status"], halfway["progress"]) == ("in_progress", 50)
    clock.shift(4.4)
    assert retrieve(client, video_id).json()["progress"] == 98
    clock.shift(0.1)
    done = retrieve(client, video_id).json()
    assert (done["status"], done["progress"]) == ("completed", 100)
    assert done["completed_at"] == int(START.timestamp()) + 10
    assert done["error"] is None


def test_the_terminal_state_is_saved_when_first_observed(client, clock, reliable):
    video_id = create(client).json()["id"]
    assert SimulatedVideo.objects.get().status == "queued"

    clock.shift(11)
    retrieve(client, video_id)

    row = SimulatedVideo.objects.get()
    assert (row.status, row.progress, row.completed_at is not None) == ("completed", 100, True)


def test_without_a_profile_latency_follows_the_snapshot_pace(client):
    create(client, model=OLD, seconds="10")
    create(client, model=NEW, seconds="10")

    latencies = dict(SimulatedVideo.objects.values_list("model", "latency_seconds"))
    assert latencies == {OLD: pytest.approx(6.0), NEW: pytest.approx(5.0)}


def test_a_failing_profile_ends_jobs_failed_with_an_error(client, clock):
    SimulatorProfile.objects.create(snapshot=NEW, latency_seconds=2, failure_rate=1.0)
    video_id = create(client).json()["id"]

    clock.shift(2)
    video = retrieve(client, video_id).json()

    assert video["status"] == "failed"
    assert video["completed_at"] is None
    assert video["error"]["code"] == "generation_failed"
    assert video["error"]["message"]


def test_a_jobs_fate_is_decided_by_its_id():
    ids = [f"video_{n:032x}" for n in range(2000)]

    failed = [video_id for video_id in ids if destined_to_fail(video_id, 0.05)]

    assert failed == [video_id for video_id in ids if destined_to_fail(video_id, 0.05)]
    assert 50 < len(failed) < 150
    assert not any(destined_to_fail(video_id, 0.0) for video_id in ids)
    assert all(destined_to_fail(video_id, 1.0) for video_id in ids)


def test_a_zero_latency_job_is_completed_at_once(client):
    SimulatorProfile.objects.create(snapshot=NEW, latency_seconds=0, failure_rate=0)

    assert create(client).json()["status"] == "completed"
