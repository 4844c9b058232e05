"""The Gemini adapter against a stand-in Gemini API (the documented requests and answers), then end to end.

The stand-in is an httpx.MockTransport behind `use_transport`: it records what the gateway sends
and answers in the shapes of Google's Interactions API and its error bodies.
"""

import base64
import datetime as dt
import json

import httpx
import pytest
import time_machine
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from governance.catalog.connections import Connection, ConnectionState
from governance.catalog.models import Provider
from governance.catalog.services import load_pack, read_pack
from governance.generations import worker
from governance.generations.models import ArchivedFile, Generation
from governance.generations.providers.gemini import GeminiAdapter
from governance.generations.upstream import UpstreamError
from governance.policies.services import revise_policy
from governance.projects.models import ApiKey, Environment
from governance.simulator.models import SimulatorProfile
from tests.factories import SYSTEM, make_api_key, make_project, png_image
from tests.generations.conftest import Api
from tests.upstream_transport import simulator_transport, use_transport

pytestmark = pytest.mark.django_db

ORIGIN = "https://generativelanguage.googleapis.com"
KEY = "AIzaSyD-test-key-0123456789abcdefghij"
MODEL = "gemini-omni-1.1-flash"


class StandIn:
    """A stand-in Gemini API: answers queued in order, every request kept."""

    def __init__(self, *answers: httpx.Response):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.pop(0)

    @property
    def body(self) -> dict:
        return json.loads(self.requests[-1].content)


def interaction(status: str = "in_progress", **fields) -> httpx.Response:
    return httpx.Response(200, json={"id": "int-abc123", "status": status, "model": MODEL, **fields})


def finished(uri: str = f"{ORIGIN}/v1beta/files/abc123:download?alt=media") -> httpx.Response:
    video = {"type": "video", "uri": uri, "mime_type": "video/mp4"}
    return interaction("completed", steps=[{"type": "model_output", "content": [video]}])


def google_error(status: int, name: str, message: str, *details: dict) -> httpx.Response:
    body = {"error": {"code": status, "message": message, "status": name, "details": list(details)}}
    return httpx.Response(status, json=body)


@pytest.fixture
def provider(db) -> Provider:
    load_pack(read_pack("gemini"), actor=SYSTEM)
    provider = Provider.objects.get(slug="gemini")
    Provider.objects.filter(pk=provider.pk).update(kind="gemini", api_version="v1beta")
    provider.refresh_from_db()
    return provider


@pytest.fixture
def adapter(provider) -> GeminiAdapter:
    return GeminiAdapter(provider, Connection(ConnectionState.LIVE, ORIGIN, KEY))


@pytest.fixture
def make_generation(provider):
    environment = Environment.objects.create(project=make_project(), name="development")
    make_api_key(environment)
    api_key = ApiKey.objects.get(environment=environment)

    def make(**fields) -> Generation:
        values = {"resolved_snapshot": MODEL, "prompt": "A lighthouse at dawn", "seconds": 8, "size": "720x1280"}
        values.update({"status": "queued", **fields})
        return Generation.objects.create(
            project=environment.project, environment=environment, api_key=api_key, provider=provider, **values
        )

    return make


def run(stand_in: StandIn, step):
    with use_transport(httpx.MockTransport(stand_in)):
        return step()


def test_a_create_sends_the_documented_request(adapter, make_generation):
    stand_in = StandIn(interaction("in_progress"))

    job = run(stand_in, lambda: adapter.start(make_generation()))

    request = stand_in.requests[0]
    assert (request.method, str(request.url)) == ("POST", f"{ORIGIN}/v1beta/interactions")
    assert request.headers["x-goog-api-key"] == KEY
    body = stand_in.body
    assert (body["model"], body["input"], body["background"], body["store"]) == (
        MODEL,
        "A lighthouse at dawn",
        True,
        True,
    )
    assert body["response_format"] == {
        "type": "video",
        "delivery": "uri",
        "duration": "8s",
        "aspect_ratio": "9:16",
        "resolution": "720p",
    }
    assert "generation_config" not in body and "previous_interaction_id" not in body
    assert (job.id, job.status) == ("int-abc123", "in_progress")


@pytest.mark.parametrize(
    ("size", "aspect_ratio", "resolution"),
    [
        ("640x360", "16:9", "360p"),
        ("1280x720", "16:9", "720p"),
        ("1080x1920", "9:16", "1080p"),
        ("3840x2160", "16:9", "4k"),
    ],
)
def test_each_size_is_an_aspect_ratio_and_a_resolution(adapter, make_generation, size, aspect_ratio, resolution):
    response_format = adapter.create_body(make_generation(size=size, seconds=3))["response_format"]

    assert (response_format["aspect_ratio"], response_format["resolution"]) == (aspect_ratio, resolution)
    assert response_format["duration"] == "3s"


def test_options_travel_as_native_fields(adapter, make_generation):
    image = png_image()
    generation = make_generation(
        input_reference=SimpleUploadedFile("ref.png", image, content_type="image/png"),
        parameters={
            "input_reference": {"content_type": "image/png", "filename": "ref.png"},
            "seed": 42,
            "reference_images": [
                {"image_url": "https://example.com/hat.png"},
                {"image_url": "data:image/jpeg;base64,/9j/AAAA"},
            ],
        },
    )

    body = adapter.create_body(generation)

    assert body["generation_config"] == {"seed": 42}
    assert body["input"] == [
        {"type": "text", "text": "A lighthouse at dawn"},
        {"type": "image", "data": base64.b64encode(image).decode(), "mime_type": "image/png"},
        {"type": "image", "uri": "https://example.com/hat.png"},
        {"type": "image", "data": "/9j/AAAA", "mime_type": "image/jpeg"},
    ]


@pytest.mark.parametrize("operation", ["edit", "remix"])
def test_an_edit_continues_the_source_interaction(adapter, make_generation, operation):
    source = make_generation(status="completed", upstream_id="int-source")
    edit = make_generation(operation=operation, remixed_from=source, prompt="Make it night", seconds=None, size="")
    stand_in = StandIn(interaction("queued"))

    job = run(stand_in, lambda: adapter.start(edit))

    assert stand_in.body["previous_interaction_id"] == "int-source"
    assert stand_in.body["response_format"] == {"type": "video", "delivery": "uri"}
    assert job.status == "queued"


@pytest.mark.parametrize(
    ("answer", "status"),
    [("queued", "queued"), ("in_progress", "in_progress"), ("cancelled", "failed"), ("incomplete", "failed")],
)
def test_interaction_statuses_map_to_ours(adapter, make_generation, answer, status):
    stand_in = StandIn(interaction(answer))

    job = run(stand_in, lambda: adapter.retrieve(make_generation(upstream_id="int-abc123")))

    assert (stand_in.requests[0].method, stand_in.requests[0].url.path) == ("GET", "/v1beta/interactions/int-abc123")
    assert job.status == status


def test_a_finished_interaction_links_its_file_with_the_key(adapter, make_generation):
    stand_in = StandIn(
        finished(), httpx.Response(200, content=b"\x00\x00\x00\x18ftypmp42", headers={"Content-Type": "video/mp4"})
    )
    generation = make_generation(upstream_id="int-abc123")

    def retrieve_and_download():
        job = adapter.retrieve(generation)
        with adapter.open_media(generation, "video", job) as (chunks, content_type):
            return job, b"".join(chunks), content_type

    job, content, content_type = run(stand_in, retrieve_and_download)

    assert (job.status, job.progress, job.thumbnail) == ("completed", 100, None)
    download = stand_in.requests[1]
    assert str(download.url) == f"{ORIGIN}/v1beta/files/abc123:download?alt=media"
    assert download.headers["x-goog-api-key"] == KEY
    assert (content[4:8], content_type) == (b"ftyp", "video/mp4")


def test_the_key_never_goes_to_a_link_on_another_host(adapter, make_generation):
    job = run(StandIn(finished("https://storage.example.com/v.mp4?sig=1")), lambda: adapter.retrieve(make_generation()))

    assert job.video.url == "https://storage.example.com/v.mp4?sig=1"
    assert dict(job.video.headers) == {}


def test_a_safety_refusal_is_content_filtered_with_googles_reason(adapter, make_generation):
    reason = "The prompt was blocked by safety filters: it may depict a real person."
    answer = interaction("failed", errors=[{"code": "SAFETY", "message": reason}])

    job = run(StandIn(answer), lambda: adapter.retrieve(make_generation()))

    assert (job.status, job.error_code, job.error_message) == ("failed", "content_filtered", reason)


def test_a_rate_limit_is_retried_after_googles_retry_delay(adapter, make_generation):
    answer = google_error(
        429,
        "RESOURCE_EXHAUSTED",
        "Resource has been exhausted (e.g. check quota).",
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3s"},
    )
    stand_in = StandIn(answer)

    with pytest.raises(UpstreamError) as raised:
        run(stand_in, lambda: adapter.start(make_generation()))

    assert (raised.value.status, raised.value.code, raised.value.retry_after) == (429, "RESOURCE_EXHAUSTED", 3.0)
    assert raised.value.retryable
    assert len(stand_in.requests) == 1  # the SDK's own retries are off: the worker decides


def test_a_spent_daily_quota_is_quota_exceeded_and_final(adapter, make_generation):
    answer = google_error(
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota, please check your plan and billing details.",
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{"quotaId": "GenerateVideoRequestsPerDayPerProjectPerModel"}],
        },
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3600s"},
    )

    with pytest.raises(UpstreamError) as raised:
        run(StandIn(answer), lambda: adapter.start(make_generation()))

    assert (raised.value.code, raised.value.retryable) == ("quota_exceeded", False)


def test_a_per_minute_quota_is_retried_not_counted_as_spent(adapter, make_generation):
    answer = google_error(
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota, please check your plan and billing details.",
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{"quotaId": "GenerateVideoRequestsPerMinutePerProjectPerModel"}],
        },
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "42s"},
    )

    with pytest.raises(UpstreamError) as raised:
        run(StandIn(answer), lambda: adapter.start(make_generation()))

    assert (raised.value.code, raised.value.retryable, raised.value.retry_after) == ("RESOURCE_EXHAUSTED", True, 42.0)


def test_a_project_without_billing_is_quota_exceeded_and_final(adapter, make_generation):
    info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "BILLING_DISABLED"}
    answer = google_error(403, "PERMISSION_DENIED", "Billing is disabled for this project.", info)

    with pytest.raises(UpstreamError) as raised:
        run(StandIn(answer), lambda: adapter.start(make_generation()))

    assert (raised.value.code, raised.value.retryable) == ("quota_exceeded", False)


def test_a_safety_refusal_at_create_is_content_filtered_and_final(adapter, make_generation):
    message = "The request was blocked because it violates our Responsible AI practices."
    answer = google_error(400, "INVALID_ARGUMENT", message)

    with pytest.raises(UpstreamError) as raised:
        run(StandIn(answer), lambda: adapter.start(make_generation()))

    assert (raised.value.status, raised.value.code, raised.value.retryable) == (400, "content_filtered", False)
    assert raised.value.message == message


def test_a_refusal_named_by_its_error_reason_is_content_filtered(adapter, make_generation):
    info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "PROHIBITED_CONTENT"}
    answer = google_error(400, "INVALID_ARGUMENT", "The request could not be completed.", info)

    with pytest.raises(UpstreamError) as raised:
        run(StandIn(answer), lambda: adapter.start(make_generation()))

    assert raised.value.code == "content_filtered"


def test_the_sdk_client_is_reused_across_calls(adapter, make_generation):
    stand_in = StandIn(interaction("in_progress"), interaction("in_progress"))
    generation = make_generation(upstream_id="int-abc123")

    def poll_twice():
        adapter.retrieve(generation)
        first = adapter.genai_client()
        adapter.retrieve(generation)
        return first, adapter.genai_client()

    first, second = run(stand_in, poll_twice)

    assert first is second and len(stand_in.requests) == 2


def test_a_bad_request_fails_with_googles_message_and_no_key(adapter, make_generation):
    answer = google_error(400, "INVALID_ARGUMENT", f"Unsupported duration for key {KEY}: 30s.")

    with pytest.raises(UpstreamError) as raised:
        run(StandIn(answer), lambda: adapter.start(make_generation()))

    assert (raised.value.status, raised.value.code, raised.value.retryable) == (400, "INVALID_ARGUMENT", False)
    assert "Unsupported duration" in raised.value.message and KEY not in raised.value.message


def test_server_errors_and_timeouts_are_retried(adapter, make_generation):
    def time_out(request):
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(UpstreamError) as server_error:
        run(
            StandIn(google_error(503, "UNAVAILABLE", "The model is overloaded.")),
            lambda: adapter.start(make_generation()),
        )
    with use_transport(httpx.MockTransport(time_out)), pytest.raises(UpstreamError) as timeout:
        adapter.start(make_generation())

    assert server_error.value.retryable and server_error.value.status == 503
    assert timeout.value.retryable and timeout.value.status is None


def test_a_generation_completes_through_the_worker_against_the_simulated_dialect(provider, monkeypatch):
    """End to end: the gateway's API, the worker, our dialect in-process; the archive outlives the result link."""
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    start = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
    environment = Environment.objects.create(project=make_project(), name="development")
    revise_policy(
        environment=environment,
        provider=provider,
        actor=SYSTEM,
        reason="move off Sora",
        default_model=MODEL,
        allowed_snapshots=[MODEL],
    )
    SimulatorProfile.objects.create(snapshot=MODEL, latency_seconds=10, failure_rate=0)
    api = Api(make_api_key(environment))
    app = simulator_transport()

    with time_machine.travel(start, tick=False) as clock, use_transport(app):
        created = api.post("videos", {"prompt": "A lighthouse", "seconds": "6", "size": "1280x720"})
        generation = Generation.objects.get(video_id=created.json()["id"])
        while worker.advance(generation.pk).countdown is not None:
            clock.shift(5)
        clock.shift(settings.SIMULATOR_LINK_SECONDS + 1)
        content = api.get(f"videos/{generation.video_id}/content")

    done = Generation.objects.get(pk=generation.pk)
    assert (done.status, done.resolved_snapshot) == ("completed", MODEL)
    assert ArchivedFile.objects.filter(generation=done, variant="video").exists()
    assert content.status_code == 200 and b"".join(content.streaming_content)[4:8] == b"ftyp"
