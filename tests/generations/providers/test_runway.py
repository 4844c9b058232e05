"""The Runway adapter: the documented requests it sends, and Runway's answers in our terms.

A stand-in Runway (httpx.MockTransport) answers the way Runway documents; the last test runs
the worker against the simulator's Runway dialect, in-process.
"""

import datetime as dt
import json

import httpx
import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from governance.catalog.models import Provider
from governance.catalog.services import load_pack, read_pack
from governance.generations import worker
from governance.generations.models import Generation
from governance.generations.providers import adapter_for
from governance.generations.providers.base import MediaLink
from governance.generations.providers.runway import RunwayAdapter
from governance.policies.services import revise_policy
from governance.projects.models import Environment
from governance.simulator.models import SimulatorProfile
from tests.factories import SYSTEM, make_api_key, make_project, png_image
from tests.generations.conftest import Api
from tests.simulator.helpers import created_job_count
from tests.upstream_transport import simulator_transport, use_transport

pytestmark = pytest.mark.django_db

KEY = "rw-secret-4b9d2e7f1a3c5e8b"
ORIGIN = "https://api.dev.runwayml.com"
TASK = "17f20503-6c24-4c16-946b-35dbbce2af2f"
OUTPUT = "https://dnznrvs05pmza.cloudfront.net/17f20503/output.mp4?_jwt=signed"
START = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def runway(db) -> Provider:
    load_pack(read_pack("runway"), actor=SYSTEM)
    return Provider.objects.get(slug="runway")


@pytest.fixture
def api(runway) -> Api:
    environment = Environment.objects.create(project=make_project("studio"), name="testing")
    revise_policy(
        environment=environment,
        provider=runway,
        actor=SYSTEM,
        reason="testing on Runway",
        default_model="gen4.5",
        allowed_snapshots=["gen4.5", "gen4_turbo"],
    )
    return Api(make_api_key(environment))


@pytest.fixture
def live(monkeypatch):
    monkeypatch.setenv("RUNWAYML_API_SECRET", KEY)
    monkeypatch.delenv("RUNWAYML_BASE_URL", raising=False)


def submit(api: Api, **fields) -> Generation:
    body = {"prompt": "A lighthouse at dawn", "seconds": "5", "size": "1280x720", **fields}
    response = api.post("videos", body)
    assert response.status_code == 200, response.content
    return Generation.objects.get(video_id=response.json()["id"])


def reload(generation: Generation) -> Generation:
    return Generation.objects.get(pk=generation.pk)


class StandIn:
    """A stand-in Runway: records each request and answers from a queue (the last answer repeats)."""

    def __init__(self, *answers: httpx.Response | Exception):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def run(self, generation: Generation) -> float | None:
        with use_transport(httpx.MockTransport(self)):
            return worker.advance(generation.pk).countdown


def created(task_id: str = TASK) -> httpx.Response:
    return httpx.Response(200, json={"id": task_id, "estimatedCost": {"credits": 60}})


def task(status: str, **fields) -> httpx.Response:
    return httpx.Response(200, json={"id": TASK, "status": status, "createdAt": "2026-12-06T09:00:00.000Z", **fields})


def test_a_text_to_video_create_is_the_documented_request(api, live):
    generation = submit(api, model="gen4.5")
    Generation.objects.filter(pk=generation.pk).update(parameters={**generation.parameters, "seed": 42})
    runway = StandIn(created())

    runway.run(generation)

    request = runway.requests[0]
    assert (request.method, str(request.url)) == ("POST", f"{ORIGIN}/v1/text_to_video")
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["X-Runway-Version"] == "2024-11-06"
    assert "Idempotency-Key" not in request.headers
    assert json.loads(request.content) == {
        "model": "gen4.5",
        "promptText": "A lighthouse at dawn",
        "ratio": "1280:720",
        "duration": 5,
        "seed": 42,
    }
    assert (reload(generation).upstream_id, reload(generation).status) == (TASK, "queued")


def test_the_api_version_sent_is_the_one_the_catalog_pins(api, live, runway):
    generation = submit(api)
    Provider.objects.filter(pk=runway.pk).update(api_version="2026-09-01")
    runway_stand_in = StandIn(created())

    runway_stand_in.run(generation)

    assert runway_stand_in.requests[0].headers["X-Runway-Version"] == "2026-09-01"


def test_without_a_pinned_api_version_nothing_is_sent(api, live, runway):
    generation = submit(api)
    Provider.objects.filter(pk=runway.pk).update(api_version="")
    runway_stand_in = StandIn(created())

    assert runway_stand_in.run(generation) is None

    assert reload(generation).error_code == "provider_not_configured"
    assert runway_stand_in.requests == []


def test_the_base_url_variable_moves_every_call(api, live, monkeypatch):
    monkeypatch.setenv("RUNWAYML_BASE_URL", "https://runway-proxy.example.com")
    runway = StandIn(created())

    runway.run(submit(api))

    assert str(runway.requests[0].url) == "https://runway-proxy.example.com/v1/text_to_video"


def test_an_image_reference_by_url_makes_an_image_to_video_task(api, live):
    generation = submit(
        api, model="gen4_turbo", size="960x960", input_reference={"image_url": "https://example.com/frame.png"}
    )
    runway = StandIn(created())

    runway.run(generation)

    request = runway.requests[0]
    assert str(request.url) == f"{ORIGIN}/v1/image_to_video"
    assert json.loads(request.content) == {
        "model": "gen4_turbo",
        "promptText": "A lighthouse at dawn",
        "ratio": "960:960",
        "duration": 5,
        "promptImage": "https://example.com/frame.png",
    }


def test_an_uploaded_image_travels_as_a_data_uri(api, live):
    image = SimpleUploadedFile("frame.png", png_image(1280, 720), content_type="image/png")
    response = api.post(
        "videos", {"prompt": "It moves", "seconds": "5", "size": "1280x720", "input_reference": image}, json=False
    )
    runway = StandIn(created())

    runway.run(Generation.objects.get(video_id=response.json()["id"]))

    assert json.loads(runway.requests[0].content)["promptImage"].startswith("data:image/png;base64,iVBORw0KGgo")


def test_an_image_only_model_without_an_image_is_refused_by_the_gateway(api, live):
    response = api.post("videos", {"prompt": "A cat", "model": "gen4_turbo", "seconds": "5", "size": "1280x720"})

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "input_reference"
    assert not Generation.objects.filter(upstream_id__gt="").exists()


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"status": "PENDING"}, ("queued", 0, "", "")),
        ({"status": "THROTTLED"}, ("queued", 0, "", "")),
        ({"status": "RUNNING", "progress": 0.42}, ("in_progress", 42, "", "")),
        ({"status": "SUCCEEDED", "output": [OUTPUT]}, ("completed", 0, "", "")),
        (
            {"status": "FAILED", "failure": "Output was flagged.", "failureCode": "SAFETY.OUTPUT.VIDEO"},
            ("failed", 0, "content_filtered", "Output was flagged. (SAFETY.OUTPUT.VIDEO)"),
        ),
        (
            {"status": "FAILED", "failure": "Input was flagged.", "failureCode": "SAFETY.INPUT.TEXT"},
            ("failed", 0, "content_filtered", "Input was flagged. (SAFETY.INPUT.TEXT)"),
        ),
        (
            {"status": "FAILED", "failure": "Bad output.", "failureCode": "INTERNAL.BAD_OUTPUT.CODE01"},
            ("failed", 0, "INTERNAL.BAD_OUTPUT.CODE01", "Bad output."),
        ),
        ({"status": "CANCELLED"}, ("failed", 0, "cancelled", "The task was cancelled or deleted at Runway.")),
    ],
)
def test_each_task_status_in_our_terms(runway, answer, expected):
    adapter = RunwayAdapter(runway, connection=None)

    job = adapter.job({"id": TASK, **answer})

    assert (job.status, job.progress, job.error_code, job.error_message) == expected
    assert job.video == (MediaLink(url=OUTPUT, content_type="video/mp4") if answer["status"] == "SUCCEEDED" else None)
    assert job.thumbnail is None  # Runway gives none: the archive makes one


def test_polling_reads_the_task_and_a_safety_refusal_fails_as_content_filtered(api, live):
    generation = submit(api)
    refused = {"failure": "Your prompt was rejected.", "failureCode": "SAFETY.INPUT.TEXT", "cost": {"credits": 0}}
    runway = StandIn(created(), task("FAILED", **refused))

    runway.run(generation)
    runway.run(generation)

    poll = runway.requests[1]
    assert (poll.method, str(poll.url)) == ("GET", f"{ORIGIN}/v1/tasks/{TASK}")
    assert poll.headers["X-Runway-Version"] == "2024-11-06"
    failed = reload(generation)
    assert (failed.status, failed.error_code) == ("failed", "content_filtered")
    assert failed.error_message == "Your prompt was rejected. (SAFETY.INPUT.TEXT)"


def test_a_success_without_output_is_polled_again_not_completed(api, live):
    generation = submit(api)
    runway = StandIn(created(), task("SUCCEEDED", output=[]), task("SUCCEEDED", output=[OUTPUT]))

    runway.run(generation)
    assert runway.run(generation) is not None

    assert reload(generation).status == "queued"


def test_a_rate_limited_create_is_retried_when_runway_says(api, live):
    generation = submit(api)
    runway = StandIn(httpx.Response(429, json={"error": "Too many requests."}, headers={"Retry-After": "7"}), created())

    assert runway.run(generation) == 7
    assert reload(generation).status == "queued" and not reload(generation).upstream_id

    runway.run(generation)
    assert reload(generation).upstream_id == TASK


def test_a_server_error_while_polling_is_retried(api, live):
    generation = submit(api)
    runway = StandIn(created(), httpx.Response(503, json={"error": "Shedding load."}), task("RUNNING", progress=0.5))

    runway.run(generation)
    assert runway.run(generation) >= 0.5
    runway.run(generation)

    assert (reload(generation).status, reload(generation).progress) == ("in_progress", 50)


def test_a_bad_request_fails_with_runways_message_and_no_key(api, live):
    message = f"Invalid ratio for gen4.5 (request signed with {KEY})."
    runway = StandIn(httpx.Response(400, json={"error": message}))
    generation = submit(api)

    assert runway.run(generation) is None

    failed = reload(generation)
    assert (failed.status, failed.error_code) == ("failed", "invalid_request")
    assert "Invalid ratio for gen4.5" in failed.error_message
    assert KEY not in failed.error_message and "[key redacted]" in failed.error_message
    assert len(runway.requests) == 1


def test_running_out_of_credits_is_a_quota_error_not_retried(api, live):
    runway = StandIn(httpx.Response(400, json={"error": "You do not have enough credits to run this task."}))
    generation = submit(api)

    assert runway.run(generation) is None

    failed = reload(generation)
    assert (failed.status, failed.error_code) == ("failed", "quota_exceeded")
    assert len(runway.requests) == 1


def test_a_create_whose_answer_was_lost_is_not_sent_again(api, live):
    runway = StandIn(httpx.ReadTimeout("timed out"))
    generation = submit(api)

    assert runway.run(generation) is None

    failed = reload(generation)
    assert (failed.status, failed.error_code) == ("failed", "upstream_outcome_unknown")
    assert len(runway.requests) == 1


def test_a_create_that_never_reached_runway_is_retried(api, live):
    runway = StandIn(httpx.ConnectError("refused"), created())
    generation = submit(api)

    assert runway.run(generation) is not None
    runway.run(generation)

    assert reload(generation).upstream_id == TASK


def test_the_output_is_downloaded_without_our_key(api, live):
    generation = submit(api)
    video = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64
    runway = StandIn(created())
    runway.run(generation)
    Generation.objects.filter(pk=generation.pk).update(upstream_id=TASK)
    adapter = adapter_for(generation.provider)
    download = StandIn(task("SUCCEEDED", output=[OUTPUT]), httpx.Response(200, content=video))

    with use_transport(httpx.MockTransport(download)), adapter.open_media(reload(generation), "video") as media:
        chunks, content_type = media
        assert b"".join(chunks) == video

    fetch = download.requests[1]
    assert str(fetch.url) == OUTPUT
    assert "Authorization" not in fetch.headers


def test_a_deleted_video_cancels_the_runway_task(api, live):
    generation = submit(api)
    StandIn(created()).run(generation)
    runway = StandIn(httpx.Response(204))

    with use_transport(httpx.MockTransport(runway)):
        adapter_for(generation.provider).delete(reload(generation))

    assert (runway.requests[0].method, str(runway.requests[0].url)) == ("DELETE", f"{ORIGIN}/v1/tasks/{TASK}")


def test_the_worker_completes_against_the_simulated_runway_and_keeps_the_video_after_its_link_expired(
    api, clock, settings
):
    SimulatorProfile.objects.create(snapshot="gen4.5", latency_seconds=10, failure_rate=0)
    generation = submit(api, model="gen4.5")

    with use_transport(simulator_transport()):
        while (countdown := worker.advance(generation.pk).countdown) is not None:
            clock.shift(countdown)

    done = reload(generation)
    assert (done.status, done.progress, done.simulated, done.api_version) == ("completed", 100, True, "2024-11-06")
    assert created_job_count(snapshot="gen4.5") == 1
    clock.shift(settings.SIMULATOR_LINK_SECONDS + 60)
    content = api.get(f"videos/{generation.video_id}/content")
    assert content.status_code == 200
    assert b"".join(content.streaming_content)[4:8] == b"ftyp"
