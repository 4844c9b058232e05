"""The Gemini dialect as Google's own SDK sees it: google-genai's interactions client over real HTTP.

The SDK is the spec: it sends the request (path, `x-goog-api-key`, body) and parses our answers
into its Interaction model, its error classes and its `output_video`.
"""

import datetime as dt

import httpx
import pytest
import time_machine
from google import genai
from google.genai import _interactions as sdk_errors
from google.genai import types

from governance.simulator.models import SimulatedVideo, SimulatorProfile

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "gemini-omni-1.1-flash"
VIDEO = {"type": "video", "duration": "6s", "aspect_ratio": "9:16", "resolution": "720p", "delivery": "uri"}


@pytest.fixture
def client(live_server):
    SimulatorProfile.objects.create(snapshot=MODEL, latency_seconds=0, failure_rate=0)
    return genai.Client(
        api_key="AIza-simulated-key",
        http_options=types.HttpOptions(
            base_url=live_server.url + "/simulator/gemini",
            api_version="v1beta",
            retry_options=types.HttpRetryOptions(attempts=1),
        ),
    )


def test_the_sdk_creates_polls_and_downloads_a_video(client):
    created = client.interactions.create(model=MODEL, input="A lighthouse", response_format=VIDEO, background=True)
    done = client.interactions.get(id=created.id)
    video = httpx.get(done.output_video.uri, headers={"x-goog-api-key": "AIza-simulated-key"})

    assert created.status in ("queued", "in_progress", "completed")
    assert done.status == "completed" and done.model == MODEL
    assert done.output_video.mime_type == "video/mp4"
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    job = SimulatedVideo.objects.get(video_id=created.id)
    assert (job.seconds, job.size, job.dialect) == (6, "720x1280", "gemini")


def test_an_edit_continues_the_previous_interaction(client):
    source = client.interactions.create(model=MODEL, input="A lighthouse", response_format=VIDEO, background=True)

    edit = client.interactions.create(
        model=MODEL, input="Make it night", previous_interaction_id=source.id, background=True
    )

    assert edit.previous_interaction_id == source.id
    job = SimulatedVideo.objects.get(video_id=edit.id)
    assert (job.operation, job.source_video_id, job.seconds, job.size) == ("edit", source.id, 6, "720x1280")


def test_an_unsupported_duration_is_a_bad_request_naming_the_field(client):
    with pytest.raises(sdk_errors.BadRequestError) as raised:
        client.interactions.create(model=MODEL, input="A cat", response_format={**VIDEO, "duration": "30s"})

    error = raised.value.response.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["details"][0]["fieldViolations"][0]["field"] == "response_format.duration"


def test_an_unknown_interaction_is_not_found(client):
    with pytest.raises(sdk_errors.NotFoundError):
        client.interactions.get(id="no-such-interaction")


def test_a_missing_key_is_refused_as_google_refuses_it(live_server):
    answer = httpx.post(live_server.url + "/simulator/gemini/v1beta/interactions", json={"model": MODEL})

    assert answer.status_code == 403
    assert answer.json()["error"]["status"] == "PERMISSION_DENIED"


def test_a_rate_limit_carries_googles_retry_delay(client):
    SimulatorProfile.objects.filter(snapshot=MODEL).update(rate_limit_rate=1.0)

    with pytest.raises(sdk_errors.RateLimitError) as raised:
        client.interactions.create(model=MODEL, input="A cat", response_format=VIDEO, background=True)

    error = raised.value.response.json()["error"]
    assert error["status"] == "RESOURCE_EXHAUSTED"
    assert error["details"][-1] == {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}


def test_a_safety_refusal_is_a_failed_interaction_with_the_reason(client):
    created = client.interactions.create(model=MODEL, input="A cat [unsafe]", response_format=VIDEO, background=True)
    failed = client.interactions.get(id=created.id)

    assert failed.status == "failed"
    assert failed.errors[0].code == "SAFETY"
    assert "safety filter" in failed.errors[0].message
    assert failed.output_video is None


def test_the_result_link_expires(client, settings):
    created = client.interactions.create(model=MODEL, input="A lighthouse", response_format=VIDEO, background=True)
    uri = client.interactions.get(id=created.id).output_video.uri

    later = dt.datetime.now(tz=dt.UTC) + dt.timedelta(seconds=settings.SIMULATOR_LINK_SECONDS + 1)
    with time_machine.travel(later):
        answer = httpx.get(uri)

    assert answer.status_code == 403
