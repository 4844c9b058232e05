"""The official openai SDK, unchanged, against a live gateway and a real Celery worker."""

import time

import openai
import pytest

from governance.generations.models import Generation
from governance.simulator.models import SimulatorProfile
from tests.factories import NEW, OLD, make_api_key, make_environment, make_project

pytestmark = [pytest.mark.live]


@pytest.fixture
def sdk(live_stack):
    SimulatorProfile.objects.create(snapshot=OLD, latency_seconds=1.0, failure_rate=0)
    SimulatorProfile.objects.create(snapshot=NEW, latency_seconds=1.0, failure_rate=0)
    project = make_project("demo")
    production = make_environment(
        project, "production", default_model=OLD, allowed_snapshots=[OLD], alias_requests="refuse"
    )
    development = make_environment(
        project, "development", default_model="sora-2", allowed_snapshots=[OLD, NEW], alias_requests="follow"
    )

    def client(environment):
        return openai.OpenAI(base_url=f"{live_stack.url}/v1", api_key=make_api_key(environment), max_retries=0)

    return client(production), client(development)


def wait_until_finished(client, video_id, timeout=45):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        video = client.videos.retrieve(video_id)
        if video.status in ("completed", "failed"):
            return video
        time.sleep(0.3)
    raise AssertionError(f"{video_id} still {video.status} after {timeout}s")


def test_a_production_generation_runs_end_to_end_through_the_worker(sdk):
    production, _ = sdk
    video = production.videos.create(model=OLD, prompt="a lighthouse at dusk", seconds="4")
    assert video.model == OLD and video.status == "queued"

    finished = wait_until_finished(production, video.id)
    assert finished.status == "completed" and finished.progress == 100

    content = production.videos.download_content(video.id)
    assert content.content[4:8] == b"ftyp"
    thumbnail = production.videos.download_content(video.id, variant="thumbnail")
    assert thumbnail.content[:2] == b"\xff\xd8"

    generation = Generation.objects.get(video_id=video.id)
    assert generation.upstream_id and generation.resolved_snapshot == OLD
    assert [entry["status"] for entry in generation.timeline][0] == "queued"

    assert [v.id for v in production.videos.list()] == [video.id]
    assert production.videos.delete(video.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        production.videos.retrieve(video.id)


def test_the_sdk_sees_every_refusal_the_policy_makes(sdk):
    production, _ = sdk
    with pytest.raises(openai.PermissionDeniedError) as alias:
        production.videos.create(model="sora-2", prompt="a cat")
    assert alias.value.code == "alias_not_allowed"
    with pytest.raises(openai.PermissionDeniedError) as disallowed:
        production.videos.create(model=NEW, prompt="a cat")
    assert disallowed.value.code == "model_not_allowed"
    with pytest.raises(openai.BadRequestError) as seconds:
        production.videos.create(model=OLD, prompt="a cat", seconds="25")
    assert seconds.value.code == "unsupported_parameter" and seconds.value.param == "seconds"
    assert Generation.objects.filter(status="refused").count() == 3


def test_development_follows_the_alias_and_lists_its_models(sdk):
    _, development = sdk
    video = development.videos.create(model="sora-2", prompt="a cat", seconds="4")
    assert video.model == NEW
    assert wait_until_finished(development, video.id).status == "completed"
    assert {model.id for model in development.models.list()} == {OLD, NEW, "sora-2"}


def test_a_bad_key_is_an_authentication_error(live_stack):
    client = openai.OpenAI(base_url=f"{live_stack.url}/v1", api_key="sgk_wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.videos.list()
