"""BytePlus' official SDK (byteplus-python-sdk-v2's `Ark`) against the simulator's ModelArk dialect.

The SDK is the spec: it builds the requests and parses the answers, in-process over httpx's WSGI transport.
"""

import datetime as dt

import httpx
import pytest
import time_machine
from byteplussdkarkruntime import Ark
from byteplussdkarkruntime._exceptions import (
    ArkAuthenticationError,
    ArkBadRequestError,
    ArkNotFoundError,
    ArkRateLimitError,
)

from governance.simulator.models import SimulatorProfile
from tests.upstream_transport import simulator_transport

pytestmark = pytest.mark.django_db

BASE_URL = "http://testserver/simulator/byteplus/api/v3"
MODEL = "seedance-1-0-pro-fast-251015"
START = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)


def ark(api_key: str = "ark-test-key") -> Ark:
    http = httpx.Client(transport=simulator_transport())
    return Ark(base_url=BASE_URL, api_key=api_key, max_retries=0, http_client=http)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def ten_second_jobs():
    SimulatorProfile.objects.create(snapshot=MODEL, latency_seconds=10, failure_rate=0)


def create(client: Ark, prompt: str = "A lighthouse at dawn", duration: int = 5, **fields):
    return client.content_generation.tasks.create(
        model=MODEL,
        content=[{"type": "text", "text": prompt}],
        duration=duration,
        ratio="16:9",
        resolution="720p",
        **fields,
    )


def test_a_task_is_created_polled_to_success_and_its_video_downloaded(clock):
    client = ark()
    created = create(client, seed=11)
    assert created.id
    queued = client.content_generation.tasks.get(task_id=created.id)
    assert (queued.status, queued.model) == ("queued", MODEL)

    clock.shift(11)
    done = client.content_generation.tasks.get(task_id=created.id)
    assert done.status == "succeeded"
    assert (done.duration, done.ratio, done.resolution, done.seed) == (5, "16:9", "720p", 11)
    assert done.usage.completion_tokens == 1248 * 704 * 24 * 5 // 1024
    video = httpx.Client(transport=simulator_transport()).get(done.content.video_url)
    assert video.status_code == 200
    assert video.content[4:8] == b"ftyp"


def test_the_result_link_stops_working_once_it_has_expired(clock, settings):
    client = ark()
    created = create(client)
    clock.shift(11)
    link = client.content_generation.tasks.get(task_id=created.id).content.video_url
    clock.shift(settings.SIMULATOR_LINK_SECONDS + 1)
    storage = httpx.Client(transport=simulator_transport())
    assert storage.get(link).status_code == 403


def test_an_unsafe_prompt_is_accepted_then_fails_with_the_output_video_safety_code(clock):
    client = ark()
    created = create(client, prompt="A street fight [unsafe]")
    clock.shift(11)
    task = client.content_generation.tasks.get(task_id=created.id)
    assert task.status == "failed"
    assert task.error.code == "OutputVideoSensitiveContentDetected"
    assert "sensitive information" in task.error.message


def test_a_duration_the_model_does_not_offer_is_refused_naming_the_parameter():
    with pytest.raises(ArkBadRequestError) as refused:
        create(ark(), duration=30)
    assert refused.value.status_code == 400
    assert (refused.value.code, refused.value.param) == ("InvalidParameter", "duration")


def test_an_unknown_task_is_not_found():
    with pytest.raises(ArkNotFoundError) as missing:
        ark().content_generation.tasks.get(task_id="cgt-unknown")
    assert missing.value.code == "ResourceNotFound"


def test_a_model_the_account_cannot_use_is_not_found():
    with pytest.raises(ArkNotFoundError) as missing:
        ark().content_generation.tasks.create(model="seedance-9-9", content=[{"type": "text", "text": "A lighthouse"}])
    assert (missing.value.code, missing.value.param) == ("InvalidEndpointOrModel.NotFound", "model")


def test_a_size_the_model_does_not_offer_is_refused_naming_the_parameter():
    with pytest.raises(ArkBadRequestError) as refused:
        ark().content_generation.tasks.create(
            model="dreamina-seedance-2-0-fast-260128",
            content=[{"type": "text", "text": "A lighthouse"}],
            resolution="1080p",
        )
    assert refused.value.param == "resolution"


def test_a_request_without_a_valid_key_is_refused():
    client = ark()
    with pytest.raises(ArkAuthenticationError) as refused:
        client.content_generation.tasks.get(task_id="cgt-any", extra_headers={"Authorization": "Basic abc"})
    assert refused.value.code == "AuthenticationError"


def test_tasks_are_listed_and_a_task_is_deleted(clock):
    client = ark()
    created = create(client)
    listed = client.content_generation.tasks.list(page_size=10, status="queued")
    assert [item.id for item in listed.items] == [created.id] and listed.total == 1
    client.content_generation.tasks.delete(created.id)
    with pytest.raises(ArkNotFoundError):
        client.content_generation.tasks.get(task_id=created.id)


def test_a_rate_limited_request_answers_429_with_a_retry_delay():
    SimulatorProfile.objects.filter(snapshot=MODEL).update(rate_limit_rate=1.0)
    with pytest.raises(ArkRateLimitError) as limited:
        create(ark())
    assert limited.value.code == "RateLimitExceeded.EndpointRPMExceeded"
    assert limited.value.response.headers["Retry-After"] == "1"


def test_the_older_text_commands_after_the_prompt_still_set_the_parameters(clock):
    prompt = "A lighthouse at dawn --resolution 480p --ratio 9:16 --duration 8 --camerafixed false"
    created = ark().content_generation.tasks.create(model=MODEL, content=[{"type": "text", "text": prompt}])
    task = ark().content_generation.tasks.get(task_id=created.id)
    assert (task.resolution, task.ratio, task.duration) == ("480p", "9:16", 8)


def test_tasks_are_listed_by_their_ids(clock):
    client = ark()
    wanted = [create(client).id, create(client).id]
    create(client)
    http = httpx.Client(transport=simulator_transport(), headers={"Authorization": "Bearer ark-test-key"})
    page = http.get(
        f"{BASE_URL}/contents/generations/tasks",
        params=[("page_num", 1), ("page_size", 2), *[("filter.task_ids", task) for task in wanted]],
    ).json()
    assert sorted(task["id"] for task in page["items"]) == sorted(wanted) and page["total"] == 2


def test_a_task_created_with_a_callback_url_is_posted_there_once_it_ends(clock, settings):
    from governance.simulator import callbacks

    settings.SIMULATOR_CALLBACKS = False  # no thread: the test delivers
    callbacks._pending.clear()  # what other tests' jobs left
    posted = []

    def receiver(request: httpx.Request) -> httpx.Response:
        posted.append((str(request.url), request.read()))
        return httpx.Response(200)

    created = create(ark(), callback_url="https://gateway.example.com/callbacks/byteplus/abc")
    receiving = httpx.Client(transport=httpx.MockTransport(receiver))
    assert callbacks.deliver_due(client=receiving) == 0  # still running: nothing posted
    clock.shift(11)
    assert callbacks.deliver_due(client=receiving) == 1
    assert callbacks.deliver_due(client=receiving) == 0  # once
    ((url, body),) = posted
    assert url == "https://gateway.example.com/callbacks/byteplus/abc"
    task = httpx.Response(200, content=body).json()
    assert (task["id"], task["status"]) == (created.id, "succeeded")
    assert task["content"]["video_url"].startswith("http://testserver/simulator/files/")


def test_a_callback_follows_its_job_when_the_job_is_made_to_end_sooner(clock, settings):
    """bench/inflight.py holds its jobs upstream, then releases them: each callback comes at the job's new end."""
    from governance.simulator import callbacks
    from governance.simulator.models import SimulatedVideo

    settings.SIMULATOR_CALLBACKS = False
    callbacks._pending.clear()
    posted = []

    def receiver(request: httpx.Request) -> httpx.Response:
        posted.append(request)
        return httpx.Response(200)

    receiving = httpx.Client(transport=httpx.MockTransport(receiver))
    SimulatorProfile.objects.filter(snapshot=MODEL).update(latency_seconds=86400)
    created = create(ark(), callback_url="https://gateway.example.com/callbacks/byteplus/abc")
    clock.shift(11)
    assert callbacks.deliver_due(client=receiving) == 0  # held
    SimulatedVideo.objects.filter(video_id=created.id).update(latency_seconds=20)
    assert callbacks.recheck_ends() == 1
    assert callbacks.deliver_due(client=receiving) == 0  # ends at 20 s
    clock.shift(10)
    assert callbacks.deliver_due(client=receiving) == 1 and len(posted) == 1
