"""The BytePlus ModelArk adapter: the documented requests it sends and how it reads every answer.

A stand-in provider (httpx.MockTransport) checks each request; one run goes end to end through the
worker against the simulator's ModelArk dialect.
"""

import datetime as dt
import json

import httpx
import pytest
import time_machine

from governance.catalog.models import Provider
from governance.catalog.services import load_pack, read_pack
from governance.generations import worker
from governance.generations.models import Generation
from governance.generations.providers import adapter_for
from governance.generations.providers.byteplus import generation_seed
from governance.generations.upstream import UpstreamError
from governance.policies.services import revise_policy
from governance.projects.models import Environment
from governance.simulator.models import SimulatorProfile
from tests.factories import SYSTEM, make_api_key, make_project
from tests.generations.conftest import Api
from tests.simulator.helpers import created_job_count
from tests.upstream_transport import simulator_transport, use_transport

pytestmark = pytest.mark.django_db

FAST = "seedance-1-0-pro-fast-251015"
PRO_15 = "seedance-1-5-pro-251215"
KEY = "ark-live-key-0123456789"
ORIGIN = "https://ark.ap-southeast.bytepluses.com"
TASKS = f"{ORIGIN}/api/v3/contents/generations/tasks"
START = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def byteplus(db) -> Provider:
    load_pack(read_pack("byteplus"), actor=SYSTEM)
    return Provider.objects.get(slug="byteplus")


@pytest.fixture
def studio(byteplus) -> Api:
    environment = Environment.objects.create(project=make_project("studio"), name="staging")
    revise_policy(
        environment=environment,
        provider=byteplus,
        actor=SYSTEM,
        reason="test setup",
        default_model=FAST,
        allowed_snapshots=[FAST, PRO_15],
    )
    return Api(make_api_key(environment))


@pytest.fixture
def live(monkeypatch):
    monkeypatch.setenv("ARK_API_KEY", KEY)
    monkeypatch.delenv("BYTEPLUS_BASE_URL", raising=False)


def accepted(api: Api, **fields) -> Generation:
    body = {"prompt": "A lighthouse at dawn", "model": FAST, "seconds": "5", "size": "1280x720", **fields}
    response = api.post("videos", body)
    assert response.status_code == 200, response.content
    return Generation.objects.get(video_id=response.json()["id"])


class StandIn:
    """ModelArk as its documentation describes it; records every request it is sent."""

    def __init__(self, *answers: httpx.Response):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.pop(0)


def task(status: str, **fields) -> httpx.Response:
    return httpx.Response(200, json={"id": "cgt-20261206-abc", "model": FAST, "status": status, **fields})


def error(status: int, code: str, message: str, headers=None) -> httpx.Response:
    body = {"error": {"code": code, "message": message, "param": "", "type": "BadRequest"}}
    return httpx.Response(status, json=body, headers=headers or {})


def run(stand_in: StandIn, call):
    with use_transport(httpx.MockTransport(stand_in)):
        return call()


def test_start_sends_the_documented_create_request(studio, live):
    generation = accepted(studio)
    stand_in = StandIn(httpx.Response(200, json={"id": "cgt-20261206-abc"}))
    job = run(stand_in, lambda: adapter_for(generation.provider).start(generation))

    (create,) = stand_in.requests
    assert (create.method, str(create.url)) == ("POST", TASKS)
    assert create.headers["Authorization"] == f"Bearer {KEY}"
    assert json.loads(create.content) == {
        "model": FAST,
        "content": [{"type": "text", "text": "A lighthouse at dawn"}],
        "duration": 5,
        "ratio": "16:9",
        "resolution": "720p",
        "seed": generation_seed(generation),
    }
    assert (job.id, job.status) == ("cgt-20261206-abc", "queued")


def test_a_task_an_interrupted_create_made_is_found_by_its_seed(studio, live):
    generation = accepted(studio)
    after_acceptance = int(generation.created_at.timestamp()) + 1
    ours = {"seed": generation_seed(generation), "duration": 5, "ratio": "16:9", "resolution": "720p"}
    items = [
        {**ours, "id": "cgt-another-seed", "status": "queued", "created_at": after_acceptance, "seed": 7},
        {**ours, "id": "cgt-made-before", "status": "queued", "created_at": after_acceptance - 3600},
        {**ours, "id": "cgt-lost-answer", "status": "running", "created_at": after_acceptance},
    ]
    stand_in = StandIn(httpx.Response(200, json={"items": items, "total": 3}))
    job = run(stand_in, lambda: adapter_for(generation.provider).find_created(generation))
    assert (job.id, job.status) == ("cgt-lost-answer", "in_progress")
    (listing,) = stand_in.requests
    assert (listing.method, str(listing.url)) == ("GET", f"{TASKS}?page_size=100&filter.model={FAST}")
    assert listing.headers["Authorization"] == f"Bearer {KEY}"


def test_a_client_seed_is_sent_as_it_is_and_cannot_find_an_interrupted_create(studio, live):
    generation = accepted(studio)
    Generation.objects.filter(pk=generation.pk).update(parameters={"seed": 42})
    generation.refresh_from_db()
    stand_in = StandIn(httpx.Response(200, json={"id": "cgt-1"}))
    run(stand_in, lambda: adapter_for(generation.provider).start(generation))
    assert [request.method for request in stand_in.requests] == ["POST"]
    assert json.loads(stand_in.requests[0].content)["seed"] == 42
    assert run(StandIn(), lambda: adapter_for(generation.provider).find_created(generation)) is None


def test_the_base_url_variable_moves_every_call_to_another_origin(studio, live, monkeypatch):
    monkeypatch.setenv("BYTEPLUS_BASE_URL", "https://ark.eu-west.bytepluses.com")
    generation = accepted(studio)
    stand_in = StandIn(httpx.Response(200, json={"id": "cgt-1"}))
    run(stand_in, lambda: adapter_for(generation.provider).start(generation))
    assert str(stand_in.requests[0].url) == "https://ark.eu-west.bytepluses.com/api/v3/contents/generations/tasks"


@pytest.mark.parametrize(
    ("size", "ratio", "resolution"),
    [("720x1280", "9:16", "720p"), ("854x480", "16:9", "480p"), ("480x480", "1:1", "480p")],
)
def test_each_size_becomes_a_ratio_and_a_resolution(studio, live, size, ratio, resolution):
    generation = accepted(studio, size=size, seconds="8")
    stand_in = StandIn(httpx.Response(200, json={"id": "cgt-1"}))
    run(stand_in, lambda: adapter_for(generation.provider).start(generation))
    body = json.loads(stand_in.requests[0].content)
    assert (body["ratio"], body["resolution"], body["duration"]) == (ratio, resolution, 8)


def test_seed_audio_and_an_image_reference_travel_as_their_native_fields(studio, live):
    generation = accepted(studio, model=PRO_15)
    reference = "https://example.com/first.png"
    Generation.objects.filter(pk=generation.pk).update(
        parameters={"seed": 11, "generate_audio": False, "input_reference": {"image_url": reference}}
    )
    generation.refresh_from_db()
    stand_in = StandIn(httpx.Response(200, json={"id": "cgt-1"}))
    run(stand_in, lambda: adapter_for(generation.provider).start(generation))
    body = json.loads(stand_in.requests[0].content)
    assert (body["model"], body["seed"], body["generate_audio"]) == (PRO_15, 11, False)
    assert body["content"][1] == {"type": "image_url", "image_url": {"url": reference}, "role": "first_frame"}


@pytest.mark.parametrize(
    ("native", "ours"),
    [("queued", "queued"), ("running", "in_progress"), ("succeeded", "completed"), ("failed", "failed")],
)
def test_statuses_map_to_ours(studio, live, native, ours):
    generation = accepted(studio)
    generation.upstream_id = "cgt-20261206-abc"
    content = {"content": {"video_url": "https://tos.example.com/v.mp4?X-Tos-Signature=s"}}
    stand_in = StandIn(task(native, **content))
    job = run(stand_in, lambda: adapter_for(generation.provider).retrieve(generation))

    request = stand_in.requests[0]
    assert (request.method, str(request.url)) == ("GET", f"{TASKS}/cgt-20261206-abc")
    assert job.status == ours
    assert (job.video is not None) == (ours == "completed")


def test_a_cancelled_or_expired_task_is_a_failed_generation(studio, live):
    generation = accepted(studio)
    generation.upstream_id = "cgt-20261206-abc"
    adapter = adapter_for(generation.provider)
    cancelled = run(StandIn(task("cancelled")), lambda: adapter.retrieve(generation))
    expired = run(StandIn(task("expired")), lambda: adapter.retrieve(generation))
    assert (cancelled.status, cancelled.error_code) == ("failed", "cancelled")
    assert (expired.status, expired.error_code) == ("failed", "expired")


def test_an_output_safety_refusal_is_content_filtered_with_the_providers_reason(studio, live):
    generation = accepted(studio)
    generation.upstream_id = "cgt-20261206-abc"
    reason = "The request failed because the output video may contain sensitive information."
    answer = task("failed", error={"code": "OutputVideoSensitiveContentDetected", "message": reason})
    job = run(StandIn(answer), lambda: adapter_for(generation.provider).retrieve(generation))
    assert (job.status, job.error_code) == ("failed", "content_filtered")
    assert reason in job.error_message


def test_an_input_safety_refusal_at_create_fails_the_generation_as_content_filtered(studio, live, clock):
    generation = accepted(studio)
    refusal = error(400, "InputTextSensitiveContentDetected", "The input text may contain sensitive information.")
    with use_transport(httpx.MockTransport(StandIn(refusal))):
        assert worker.advance(generation.pk).countdown is None
    failed = Generation.objects.get(pk=generation.pk)
    assert (failed.status, failed.error_code) == ("failed", "content_filtered")
    assert "sensitive information" in failed.error_message


def test_a_rate_limit_is_retried_after_the_providers_delay(studio, live, clock):
    generation = accepted(studio)
    limited = error(429, "RateLimitExceeded.EndpointRPMExceeded", "Too many requests.", headers={"Retry-After": "7"})
    with use_transport(httpx.MockTransport(StandIn(limited))):
        assert worker.advance(generation.pk).countdown == 7.0
    retrying = Generation.objects.get(pk=generation.pk)
    assert (retrying.status, retrying.upstream_attempts) == ("queued", 1)


def test_a_server_error_and_a_timeout_are_retried(studio, live):
    generation = accepted(studio)
    adapter = adapter_for(generation.provider)
    with pytest.raises(UpstreamError) as server_error:
        run(
            StandIn(error(500, "InternalServiceError", "Internal error.")),
            lambda: adapter.start(generation),
        )
    assert server_error.value.retryable

    def time_out(request):
        raise httpx.ReadTimeout("slow", request=request)

    with use_transport(httpx.MockTransport(time_out)), pytest.raises(UpstreamError) as timeout:
        adapter.start(generation)
    assert timeout.value.retryable and timeout.value.status is None


def test_a_bad_request_fails_with_the_providers_message_and_no_key(studio, live, clock):
    generation = accepted(studio)
    message = f"The parameter duration specified in the request is not valid for key {KEY}. Request id: 1"
    bad = error(400, "InvalidParameter", message)
    with use_transport(httpx.MockTransport(StandIn(bad))):
        assert worker.advance(generation.pk).countdown is None
    failed = Generation.objects.get(pk=generation.pk)
    assert (failed.status, failed.error_code) == ("failed", "InvalidParameter")
    assert "parameter duration" in failed.error_message and KEY not in failed.error_message


@pytest.mark.parametrize(
    ("status", "code"), [(429, "QuotaExceeded"), (429, "SetLimitExceeded"), (403, "AccountOverdueError")]
)
def test_an_exhausted_quota_or_account_is_quota_exceeded_and_not_retried(studio, live, clock, status, code):
    generation = accepted(studio)
    exhausted = error(status, code, "Your account has reached its limit.")
    with use_transport(httpx.MockTransport(StandIn(exhausted))):
        assert worker.advance(generation.pk).countdown is None
    failed = Generation.objects.get(pk=generation.pk)
    assert (failed.status, failed.error_code) == ("failed", "quota_exceeded")


def test_the_video_is_fetched_from_its_signed_link_without_our_key(studio, live):
    generation = accepted(studio)
    generation.upstream_id = "cgt-20261206-abc"
    link = "https://ark-content-generation-ap-southeast-1.tos.example.com/v.mp4?X-Tos-Signature=s"
    stand_in = StandIn(task("succeeded", content={"video_url": link}), httpx.Response(200, content=b"mp4 bytes"))
    adapter = adapter_for(generation.provider)

    def download():
        with adapter.open_media(generation, "video") as (chunks, content_type):
            return b"".join(chunks), content_type

    data, _ = run(stand_in, download)
    assert data == b"mp4 bytes"
    assert str(stand_in.requests[1].url) == link
    assert "Authorization" not in stand_in.requests[1].headers


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def test_a_repeated_submit_after_a_crash_reuses_the_simulated_task(studio, clock, monkeypatch):
    monkeypatch.delenv("ARK_API_KEY", raising=False)
    generation = accepted(studio)
    with use_transport(simulator_transport()):
        worker.advance(generation.pk)
        first_task = Generation.objects.get(pk=generation.pk).upstream_id
        Generation.objects.filter(pk=generation.pk).update(upstream_id="")  # the worker died before saving the id
        worker.advance(generation.pk)
    assert Generation.objects.get(pk=generation.pk).upstream_id == first_task
    assert created_job_count() == 1


def test_end_to_end_through_the_worker_against_the_simulated_dialect(studio, clock, settings, monkeypatch):
    monkeypatch.delenv("ARK_API_KEY", raising=False)
    SimulatorProfile.objects.create(snapshot=FAST, latency_seconds=10, failure_rate=0)
    generation = accepted(studio)
    simulator = simulator_transport()
    with use_transport(simulator):
        worker.advance(generation.pk)
        submitted = Generation.objects.get(pk=generation.pk)
        assert (submitted.status, submitted.simulated) == ("queued", True)
        clock.shift(11)
        assert worker.advance(generation.pk).countdown is None
        done = Generation.objects.get(pk=generation.pk)
        link = adapter_for(done.provider).retrieve(done).video.url

    assert done.status == "completed"
    assert "archived" in [entry["status"] for entry in done.timeline]
    clock.shift(settings.SIMULATOR_LINK_SECONDS + 1)
    assert httpx.Client(transport=simulator).get(link).status_code == 403  # BytePlus' link has expired
    content = studio.get(f"videos/{done.video_id}/content")
    assert content.status_code == 200
    assert b"".join(content.streaming_content)[4:8] == b"ftyp"


def test_a_length_or_size_the_snapshot_does_not_offer_is_refused_before_byteplus_is_called(studio, live):
    stand_in = StandIn()
    with use_transport(httpx.MockTransport(stand_in)):
        too_long = studio.post("videos", {"prompt": "A lighthouse", "model": FAST, "seconds": "15"})
        too_large = studio.post("videos", {"prompt": "A lighthouse", "model": PRO_15, "size": "3840x2160"})
    assert too_long.status_code == too_large.status_code == 400
    assert (too_long.json()["error"]["param"], too_large.json()["error"]["param"]) == ("seconds", "size")
    assert stand_in.requests == []
