"""The xAI adapter against a stand-in xAI (httpx.MockTransport): the documented requests, every mapping."""

import datetime as dt
import json

import httpx
import pytest
import time_machine

from governance.catalog.connections import Connection, ConnectionState
from governance.catalog.models import Provider, ProviderKind
from governance.generations import worker
from governance.generations.models import Generation
from governance.generations.providers.xai import XAIVideosAdapter
from governance.generations.upstream import CONTENT_FILTERED, QUOTA_EXCEEDED, UpstreamError, pooled_client
from governance.simulator.models import SimulatedVideo, SimulatorProfile
from tests.generations.providers.conftest import api_on
from tests.upstream_transport import use_transport

KEY = "xai-abcdefghijklmnop1234"
ORIGIN = "https://api.x.ai"


def adapter() -> XAIVideosAdapter:
    provider = Provider(slug="xai", name="xAI", kind=ProviderKind.XAI, base_url=ORIGIN, api_key_env_var="XAI_API_KEY")
    return XAIVideosAdapter(provider, Connection(ConnectionState.LIVE, ORIGIN, KEY))


def generation(**fields) -> Generation:
    values = {
        "resolved_snapshot": "grok-imagine-video",
        "prompt": "A glowing rocket",
        "seconds": 10,
        "size": "1280x720",
        "upstream_id": "req-1",
    }
    return Generation(**{**values, **fields})


class StandIn:
    """Answers each request with the next of `answers` and keeps what it was sent."""

    def __init__(self, *answers: httpx.Response):
        self.answers, self.requests = list(answers), []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.pop(0)


def through(*answers: httpx.Response) -> tuple[StandIn, object]:
    stand_in = StandIn(*answers)
    return stand_in, use_transport(httpx.MockTransport(stand_in))


def test_start_posts_the_documented_create_and_reads_the_request_id():
    stand_in, transport = through(httpx.Response(200, json={"request_id": "d1e2"}))
    with transport:
        job = adapter().start(generation())

    sent = stand_in.requests[0]
    assert (sent.method, str(sent.url)) == ("POST", f"{ORIGIN}/v1/videos/generations")
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert json.loads(sent.content) == {
        "model": "grok-imagine-video",
        "prompt": "A glowing rocket",
        "duration": 10,
        "aspect_ratio": "16:9",
        "resolution": "720p",
    }
    assert (job.id, job.status) == ("d1e2", "queued")


@pytest.mark.parametrize(
    ("size", "aspect_ratio", "resolution"),
    [("480x848", "9:16", "480p"), ("720x720", "1:1", "720p"), ("640x480", "4:3", "480p"), ("720x1080", "2:3", "720p")],
)
def test_each_size_is_an_aspect_ratio_and_a_resolution(size, aspect_ratio, resolution):
    stand_in, transport = through(httpx.Response(200, json={"request_id": "r"}))
    with transport:
        adapter().start(generation(size=size))

    body = json.loads(stand_in.requests[0].content)
    assert (body["aspect_ratio"], body["resolution"]) == (aspect_ratio, resolution)


def test_options_travel_as_xais_fields():
    parameters = {
        "input_reference": {"image_url": "https://example.com/first.png"},
        "reference_images": [{"image_url": "https://example.com/a.png"}, {"image_url": "data:image/png;base64,AA=="}],
        "generate_audio": False,
    }
    stand_in, transport = through(httpx.Response(200, json={"request_id": "r"}))
    with transport:
        adapter().start(generation(parameters=parameters))

    body = json.loads(stand_in.requests[0].content)
    assert body["image"] == {"url": "https://example.com/first.png"}
    assert body["reference_images"] == [{"url": "https://example.com/a.png"}, {"url": "data:image/png;base64,AA=="}]
    assert body["generate_audio"] is False


@pytest.mark.parametrize(
    ("answer", "status", "progress"),
    [({"status": "pending"}, "queued", 0), ({"status": "pending", "progress": 40}, "in_progress", 40)],
)
def test_a_pending_request_is_queued_or_in_progress(answer, status, progress):
    stand_in, transport = through(httpx.Response(200, json=answer))
    with transport:
        job = adapter().retrieve(generation())

    assert (stand_in.requests[0].method, str(stand_in.requests[0].url)) == ("GET", f"{ORIGIN}/v1/videos/req-1")
    assert (job.status, job.progress) == (status, progress)


def test_a_done_request_is_completed_with_its_video_link():
    video = {"url": "https://vidgen.x.ai/xai-vidgen-bucket/v.mp4", "duration": 10, "respect_moderation": True}
    _, transport = through(httpx.Response(200, json={"status": "done", "video": video, "model": "grok-imagine-video"}))
    with transport:
        job = adapter().retrieve(generation())

    assert (job.status, job.progress, job.model) == ("completed", 100, "grok-imagine-video")
    assert job.video.url == video["url"] and job.thumbnail is None


def test_a_video_that_broke_moderation_is_content_filtered():
    video = {"url": "", "duration": 10, "respect_moderation": False}
    _, transport = through(httpx.Response(200, json={"status": "done", "video": video}))
    with transport:
        job = adapter().retrieve(generation())

    assert (job.status, job.error_code) == ("failed", CONTENT_FILTERED)
    assert "moderation" in job.error_message


def test_a_moderation_failure_is_content_filtered_with_xais_reason():
    error = {"code": "moderation_failed", "message": "The prompt was rejected by moderation."}
    _, transport = through(httpx.Response(200, json={"status": "failed", "error": error}))
    with transport:
        job = adapter().retrieve(generation())

    assert (job.status, job.error_code, job.error_message) == ("failed", CONTENT_FILTERED, error["message"])


def test_a_failed_request_keeps_xais_code_and_message():
    error = {"code": "internal_error", "message": "Generation failed."}
    _, transport = through(httpx.Response(200, json={"status": "failed", "error": error}))
    with transport:
        job = adapter().retrieve(generation())

    assert (job.status, job.error_code, job.error_message) == ("failed", "internal_error", "Generation failed.")


def test_an_expired_request_fails():
    _, transport = through(httpx.Response(200, json={"status": "expired"}))
    with transport:
        job = adapter().retrieve(generation())

    assert (job.status, job.error_code) == ("failed", "expired")


def test_a_rate_limit_is_retried_after_xais_delay():
    limited = httpx.Response(
        429, headers={"Retry-After": "7"}, json={"code": "Some resource has been exhausted", "error": "Too many"}
    )
    _, transport = through(limited)
    with transport, pytest.raises(UpstreamError) as raised:
        adapter().start(generation())

    assert raised.value.retryable and raised.value.retry_after == 7.0


def test_exhausted_credits_are_a_final_quota_error():
    message = (
        "Your team 16f2 has either used all available credits or reached its monthly spending limit. "
        "To continue making API requests, please purchase more credits or raise your spending limit."
    )
    _, transport = through(httpx.Response(429, json={"code": "Some resource has been exhausted", "error": message}))
    with transport, pytest.raises(UpstreamError) as raised:
        adapter().start(generation())

    assert (raised.value.code, raised.value.retryable) == (QUOTA_EXCEEDED, False)


def test_a_bad_request_fails_with_xais_message_and_no_key():
    message = f"Incorrect API key provided: {KEY}. You can obtain an API key from https://console.x.ai."
    _, transport = through(httpx.Response(400, json={"code": "Client specified an invalid argument", "error": message}))
    with transport, pytest.raises(UpstreamError) as raised:
        adapter().start(generation())

    assert (raised.value.status, raised.value.retryable) == (400, False)
    assert "Incorrect API key provided" in raised.value.message and KEY not in raised.value.message


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_and_timeouts_are_retried(status):
    _, transport = through(httpx.Response(status, json={"code": "Internal error", "error": "Try again"}))
    with transport, pytest.raises(UpstreamError) as raised:
        adapter().retrieve(generation())

    assert raised.value.retryable


def test_a_timeout_is_retried():
    def time_out(request):
        raise httpx.ReadTimeout("slow", request=request)

    with use_transport(httpx.MockTransport(time_out)), pytest.raises(UpstreamError) as raised:
        adapter().retrieve(generation())

    assert raised.value.retryable and raised.value.status is None


@pytest.mark.django_db
def test_a_generation_runs_through_the_worker_on_the_simulated_dialect_and_outlives_its_link(
    simulated_dialects, settings
):
    with time_machine.travel(dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC), tick=False) as clock:
        api = api_on("xai", "grok-imagine-video")
        SimulatorProfile.objects.create(snapshot="grok-imagine-video", latency_seconds=10, failure_rate=0)
        created = api.post("videos", {"prompt": "A glowing rocket", "seconds": "6", "size": "848x480"})
        accepted = Generation.objects.get(video_id=created.json()["id"])

        worker.advance(accepted.pk)
        clock.shift(11)
        assert worker.advance(accepted.pk).countdown is None
        clock.shift(settings.SIMULATOR_LINK_SECONDS + 1)
        content = api.get(f"videos/{accepted.video_id}/content")

    done = Generation.objects.get(pk=accepted.pk)
    job = SimulatedVideo.objects.get(video_id=done.upstream_id)
    assert (done.status, done.simulated) == ("completed", True)
    assert (job.dialect, job.seconds, job.size) == ("xai", 6, "848x480")
    assert job.native == {"aspect_ratio": "16:9", "resolution": "480p"}
    assert content.status_code == 200 and b"".join(content.streaming_content)[4:8] == b"ftyp"


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "value"), [("seconds", "20"), ("size", "1920x1080")])
def test_a_length_or_size_grok_does_not_offer_never_reaches_xai(simulated_dialects, field, value):
    api = api_on("xai", "grok-imagine-video")
    refused = api.post("videos", {"prompt": "A cat", "seconds": "6", "size": "848x480", field: value})

    assert refused.status_code == 400 and refused.json()["error"]["param"] == field
    assert not SimulatedVideo.objects.exists()


@pytest.mark.django_db
def test_a_video_the_simulated_moderation_withholds_fails_as_content_filtered(simulated_dialects):
    with time_machine.travel(dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC), tick=False) as clock:
        api = api_on("xai", "grok-imagine-video")
        SimulatorProfile.objects.create(snapshot="grok-imagine-video", latency_seconds=1, failure_rate=0)
        created = api.post("videos", {"prompt": "A fight [unsafe]", "seconds": "6", "size": "848x480"})
        accepted = Generation.objects.get(video_id=created.json()["id"])
        worker.advance(accepted.pk)
        clock.shift(2)
        worker.advance(accepted.pk)

    refused = Generation.objects.get(pk=accepted.pk)
    assert (refused.status, refused.error_code) == ("failed", CONTENT_FILTERED)
    assert "moderation" in refused.error_message


def test_a_result_link_at_another_origin_never_gets_the_providers_key():
    """The video is fetched from xAI's storage host: the key goes to the API only."""
    seen = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.host, request.headers.get("Authorization")))
        return httpx.Response(200, content=b"video")

    with use_transport(httpx.MockTransport(answer)):
        client = pooled_client(
            base_url="https://api.x.ai",
            headers={"Authorization": "Bearer xai-secret-key-123456"},
            secrets=("xai-secret-key-123456",),
            timeout=httpx.Timeout(5.0),
        )
        with client.stream("GET", "https://vidgen.x.ai/video.mp4") as response:
            response.read()
        with client.stream("GET", "v1/videos/abc/content") as response:
            response.read()

    assert seen == [("vidgen.x.ai", None), ("api.x.ai", "Bearer xai-secret-key-123456")]
