"""The simulator's Runway dialect, as Runway's official Python SDK (runwayml) sees it: the SDK is the spec."""

import datetime as dt

import httpx
import pytest
import runwayml
import time_machine
from runwayml.lib import polling

from governance.simulator.models import SimulatorProfile
from tests.simulator.helpers import created_job_count
from tests.upstream_transport import simulator_transport

pytestmark = pytest.mark.django_db

ORIGIN = "http://127.0.0.1/simulator/runway"
START = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)
PNG_URL = "https://example.com/first-frame.png"


@pytest.fixture
def http():
    with httpx.Client(transport=simulator_transport()) as client:
        yield client


def sdk(http, **options) -> runwayml.RunwayML:
    options = {"api_key": "key_runway_test", "base_url": ORIGIN, "max_retries": 0, **options}
    return runwayml.RunwayML(http_client=http, **options)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def no_waiting(monkeypatch):
    """wait_for_task_output sleeps about 6 s between polls; the simulator needs none."""
    monkeypatch.setattr(polling, "POLL_TIME", 0)
    monkeypatch.setattr(polling, "POLL_JITTER", 0)


def test_text_to_video_is_created_polled_and_downloaded(http, clock):
    SimulatorProfile.objects.create(snapshot="gen4.5", latency_seconds=10, failure_rate=0)
    client = sdk(http)

    created = client.text_to_video.create(model="gen4.5", prompt_text="A lighthouse", ratio="1280:720", duration=5)
    pending = client.tasks.retrieve(created.id)
    clock.shift(5)
    running = client.tasks.retrieve(created.id)
    clock.shift(6)
    done = client.tasks.retrieve(created.id)
    video = http.get(done.output[0])

    assert isinstance(created, runwayml.types.TextToVideoCreateResponse) and created.estimated_cost.credits == 60
    assert pending.status == "PENDING"
    assert running.status == "RUNNING" and 0 < running.progress < 1
    assert done.status == "SUCCEEDED" and done.cost.credits == 60
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    assert created_job_count(snapshot="gen4.5") == 1


def test_wait_for_task_output_returns_the_finished_image_to_video_task(http, no_waiting):
    SimulatorProfile.objects.create(snapshot="gen4_turbo", latency_seconds=0, failure_rate=0)

    created = sdk(http).image_to_video.create(
        model="gen4_turbo", prompt_image=PNG_URL, prompt_text="It moves", ratio="960:960", duration=5
    )
    task = created.wait_for_task_output(timeout=5)

    assert task.status == "SUCCEEDED" and len(task.output) == 1


def test_a_length_the_model_does_not_offer_is_a_bad_request_naming_the_field(http):
    with pytest.raises(runwayml.BadRequestError) as raised:
        sdk(http).text_to_video.create(model="gen4.5", prompt_text="A cat", ratio="1280:720", duration=12)

    assert raised.value.status_code == 400
    assert "duration" in raised.value.body["error"]
    assert created_job_count() == 0


def test_an_image_only_model_is_refused_on_text_to_video(http):
    with pytest.raises(runwayml.BadRequestError) as raised:
        sdk(http).text_to_video.create(model="gen4_turbo", prompt_text="A cat", ratio="1280:720", duration=5)

    assert "image_to_video" in raised.value.body["error"]


def test_the_pinned_api_version_is_checked(http):
    with pytest.raises(runwayml.BadRequestError) as raised:
        sdk(http, runway_version="2099-01-01").tasks.retrieve("17f20503-6c24-4c16-946b-35dbbce2af2f")

    assert "X-Runway-Version" in raised.value.body["error"]


def test_a_missing_key_is_refused_as_runway_refuses_it(http):
    with pytest.raises(runwayml.AuthenticationError):
        sdk(http, api_key="").tasks.retrieve("17f20503-6c24-4c16-946b-35dbbce2af2f")


def test_an_unknown_task_is_not_found(http):
    with pytest.raises(runwayml.NotFoundError):
        sdk(http).tasks.retrieve("17f20503-6c24-4c16-946b-35dbbce2af2f")


def test_a_rate_limited_request_says_when_to_come_back(http):
    SimulatorProfile.objects.create(snapshot="gen4.5", rate_limit_rate=1.0)

    with pytest.raises(runwayml.RateLimitError) as raised:
        sdk(http).text_to_video.create(model="gen4.5", prompt_text="A cat", ratio="720:1280", duration=4)

    assert raised.value.response.headers["Retry-After"] == "1"
    assert raised.value.body["error"]


def test_a_safety_refusal_is_a_failed_task_with_a_safety_failure_code(http, no_waiting):
    SimulatorProfile.objects.create(snapshot="gen4.5", latency_seconds=0, failure_rate=0)
    created = sdk(http).text_to_video.create(
        model="gen4.5", prompt_text="[unsafe] a scene", ratio="1280:720", duration=5
    )

    with pytest.raises(polling.TaskFailedError) as raised:
        created.wait_for_task_output(timeout=5)

    task = raised.value.task_details
    assert task.status == "FAILED"
    assert task.failure_code.startswith("SAFETY.INPUT.")
    assert task.failure


def test_a_deleted_task_is_gone(http):
    client = sdk(http)
    created = client.text_to_video.create(model="gen4.5", prompt_text="A cat", ratio="1280:720", duration=5)

    client.tasks.delete(created.id)

    with pytest.raises(runwayml.NotFoundError):
        client.tasks.retrieve(created.id)


def test_an_output_link_expires_and_a_fresh_task_gives_a_fresh_one(http, clock, settings):
    SimulatorProfile.objects.create(snapshot="gen4.5", latency_seconds=0, failure_rate=0)
    client = sdk(http)
    created = client.text_to_video.create(model="gen4.5", prompt_text="A cat", ratio="1280:720", duration=5)
    old_link = client.tasks.retrieve(created.id).output[0]

    clock.shift(settings.SIMULATOR_LINK_SECONDS + 1)

    assert http.get(old_link).status_code == 403
    assert http.get(client.tasks.retrieve(created.id).output[0]).status_code == 200
