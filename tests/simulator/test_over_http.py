"""The simulator over real HTTP, as the official SDK and our httpx worker see it."""

import httpx
import openai
import pytest

from governance.simulator.models import SimulatorProfile
from tests.simulator.helpers import NEW, OLD, created_job_count

pytestmark = pytest.mark.django_db(transaction=True)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def test_the_openai_sdk_works_unchanged(live_server):
    for snapshot in (OLD, NEW):
        SimulatorProfile.objects.create(snapshot=snapshot, latency_seconds=0, failure_rate=0)
    client = openai.OpenAI(base_url=live_server.url + "/simulator/v1", api_key="x", max_retries=0)

    created = client.videos.create(model="sora-2", prompt="A lighthouse at dawn", seconds="8", size="1280x720")
    with_reference = client.videos.create(model=OLD, prompt="A cat", input_reference=("ref.png", PNG, "image/png"))
    video = client.videos.retrieve(created.id)
    listed = [item.id for item in client.videos.list(limit=1)]
    content = client.videos.download_content(created.id).read()
    thumbnail = client.videos.download_content(created.id, variant="thumbnail").read()

    assert (created.model, created.seconds, created.size) == (NEW, "8", "1280x720")
    assert with_reference.model == OLD
    assert (video.status, video.progress) == ("completed", 100)
    assert listed == [with_reference.id, created.id]
    assert content[4:8] == b"ftyp"
    assert thumbnail[:3] == b"\xff\xd8\xff"


def test_the_sdk_sees_simulator_errors_as_openai_errors(live_server):
    client = openai.OpenAI(base_url=live_server.url + "/simulator/v1", api_key="x", max_retries=0)

    with pytest.raises(openai.BadRequestError) as raised:
        client.videos.create(model="sora-3", prompt="A cat")

    assert raised.value.code == "model_not_found"


def test_a_client_that_times_out_after_acceptance_finds_its_job_on_retry(live_server):
    SimulatorProfile.objects.create(snapshot=NEW, accept_then_timeout=True, read_timeout_seconds=0.5)
    url = live_server.url + "/simulator/v1/videos"
    request = {"json": {"prompt": "A cat"}, "headers": {"Idempotency-Key": "late-timeout"}}

    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url, timeout=0.1, **request)
    assert created_job_count() == 1

    retry = httpx.post(url, timeout=5, **request)
    assert retry.status_code == 200
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert created_job_count() == 1
