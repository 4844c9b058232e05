"""Our xAI dialect against xAI's documented REST shapes.

xAI's official Python SDK (xai-sdk) speaks gRPC, not the REST API the gateway calls, so no
official SDK can talk to this dialect: these tests send the documented requests with httpx and
assert the documented answers (docs.x.ai, Video Generation and the REST API reference).
"""

import datetime as dt

import httpx
import pytest
import time_machine

from governance.simulator.models import SimulatorProfile
from tests.simulator.helpers import created_job_count

pytestmark = pytest.mark.django_db(transaction=True)

KEY = {"Authorization": "Bearer xai-test-key"}
START = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def xai(live_server) -> httpx.Client:
    with httpx.Client(base_url=f"{live_server.url}/simulator/xai", headers=KEY, timeout=10) as client:
        yield client


@pytest.fixture
def instant():
    SimulatorProfile.objects.create(snapshot="grok-imagine-video", latency_seconds=0, failure_rate=0)


def test_a_video_is_created_polled_and_downloaded(xai, instant):
    body = {"model": "grok-imagine-video", "prompt": "A glowing rocket", "duration": 10, "aspect_ratio": "16:9"}
    created = xai.post("/v1/videos/generations", json={**body, "resolution": "720p"})
    polled = xai.get(f"/v1/videos/{created.json()['request_id']}")
    video = polled.json()["video"]
    download = httpx.get(video["url"])

    assert created.status_code == 200 and set(created.json()) == {"request_id"}
    assert polled.status_code == 200
    assert polled.json()["status"] == "done" and polled.json()["model"] == "grok-imagine-video"
    assert (video["duration"], video["respect_moderation"]) == (10, True)
    assert download.status_code == 200 and download.content[4:8] == b"ftyp"


def test_a_job_still_running_is_pending(xai):
    SimulatorProfile.objects.create(snapshot="grok-imagine-video", latency_seconds=60, failure_rate=0)
    created = xai.post("/v1/videos/generations", json={"prompt": "A cat"})

    assert xai.get(f"/v1/videos/{created.json()['request_id']}").json()["status"] == "pending"


def test_the_result_link_expires(xai, instant, settings):
    with time_machine.travel(START, tick=False) as clock:
        created = xai.post("/v1/videos/generations", json={"prompt": "A cat"})
        url = xai.get(f"/v1/videos/{created.json()['request_id']}").json()["video"]["url"]
        clock.shift(settings.SIMULATOR_LINK_SECONDS + 1)
        expired = httpx.get(url)

    assert expired.status_code == 403


def test_a_refused_prompt_finishes_without_a_usable_video(xai, instant):
    created = xai.post("/v1/videos/generations", json={"prompt": "A fight [unsafe]"})
    polled = xai.get(f"/v1/videos/{created.json()['request_id']}").json()

    assert polled["status"] == "done"
    assert polled["video"]["respect_moderation"] is False and not polled["video"]["url"]


def test_a_failed_job_answers_200_with_xais_error_object(xai):
    SimulatorProfile.objects.create(snapshot="grok-imagine-video", latency_seconds=0, failure_rate=1.0)
    created = xai.post("/v1/videos/generations", json={"prompt": "A cat"})
    polled = xai.get(f"/v1/videos/{created.json()['request_id']}")

    assert polled.status_code == 200 and polled.json()["status"] == "failed"
    assert polled.json()["error"]["code"] == "internal_error" and polled.json()["error"]["message"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("duration", 20), ("aspect_ratio", "21:9"), ("resolution", "4k"), ("model", "grok-imagine-video-9")],
)
def test_an_unsupported_value_is_a_400_naming_its_field(xai, field, value):
    refused = xai.post("/v1/videos/generations", json={"prompt": "A cat", field: value})

    assert refused.status_code == 400
    assert refused.json()["code"] == "Client specified an invalid argument"
    assert field in refused.json()["error"]
    assert created_job_count() == 0


def test_a_missing_prompt_is_unprocessable(xai):
    assert xai.post("/v1/videos/generations", json={"duration": 5}).status_code == 422


def test_an_unknown_request_is_not_found(xai):
    missing = xai.get("/v1/videos/video_0123456789abcdef0123456789abcdef")

    assert missing.status_code == 404 and set(missing.json()) == {"code", "error"}


def test_a_request_without_a_bearer_key_is_refused(live_server):
    url = f"{live_server.url}/simulator/xai/v1/videos/generations"

    assert httpx.post(url, json={"prompt": "A cat"}).status_code == 401
    assert httpx.post(url, json={"prompt": "A cat"}, headers={"Authorization": "Basic abc"}).status_code == 400
    assert created_job_count() == 0


def test_a_rate_limit_answers_429_with_a_retry_delay(xai):
    SimulatorProfile.objects.create(snapshot="grok-imagine-video", rate_limit_rate=1.0)
    limited = xai.post("/v1/videos/generations", json={"prompt": "A cat"})

    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    assert limited.json()["code"] == "Some resource has been exhausted"
