import pytest

from governance.simulator import services
from governance.simulator.models import SimulatorProfile
from tests.simulator.helpers import NEW, OLD, assert_openai_error, create, created_job_count, retrieve

pytestmark = pytest.mark.django_db


def test_a_rate_limited_request_carries_retry_after(client):
    SimulatorProfile.objects.create(snapshot=NEW, rate_limit_rate=1.0)

    response = create(client)

    error = assert_openai_error(response, 429, "rate_limit_exceeded")
    assert error["type"] == "requests"
    assert response["Retry-After"] == "1"
    assert created_job_count() == 0


def test_an_erroring_profile_answers_500_server_error(client):
    SimulatorProfile.objects.create(snapshot=NEW, error_rate=1.0)

    error = assert_openai_error(create(client), 500, "server_error")
    assert error["type"] == "server_error"
    assert created_job_count() == 0


def test_faults_also_hit_reads_of_that_snapshots_videos(client):
    video_id = create(client).json()["id"]
    SimulatorProfile.objects.create(snapshot=NEW, error_rate=1.0)

    assert retrieve(client, video_id).status_code == 500


def test_faults_are_per_snapshot(client):
    SimulatorProfile.objects.create(snapshot=NEW, error_rate=1.0)

    assert create(client, model=OLD).status_code == 200


def test_the_share_of_faulty_requests_follows_the_rate(client):
    SimulatorProfile.objects.create(snapshot=NEW, error_rate=0.3)

    statuses = [create(client).status_code for _ in range(100)]

    assert 15 < statuses.count(500) < 45
    assert statuses.count(200) == created_job_count()


def test_accept_then_timeout_hangs_after_the_job_was_accepted(client, monkeypatch):
    SimulatorProfile.objects.create(snapshot=NEW, accept_then_timeout=True, read_timeout_seconds=3.0)
    hangs = []
    monkeypatch.setattr(services, "pause", lambda seconds: hangs.append((seconds, created_job_count())))

    response = create(client, headers={"Idempotency-Key": "slow"})
    create(client, headers={"Idempotency-Key": "slow"})

    assert response.status_code == 200
    assert hangs == [(3.0, 1)]
