"""The Azure OpenAI adapter against a stand-in Azure resource (httpx.MockTransport)."""

import datetime as dt
import json

import httpx
import pytest
import time_machine

from governance.catalog.connections import Connection, ConnectionState
from governance.catalog.models import Provider, ProviderKind
from governance.generations import worker
from governance.generations.models import Generation
from governance.generations.providers.azure_openai import AzureOpenAIAdapter
from governance.generations.upstream import CONTENT_FILTERED, QUOTA_EXCEEDED, UpstreamError
from governance.policies.engine import Operation
from governance.simulator.models import SimulatedVideo, SimulatorProfile
from tests.generations.providers.conftest import api_on
from tests.upstream_transport import use_transport

KEY = "0123456789abcdef0123456789abcdef"
ORIGIN = "https://contoso.openai.azure.com"
VIDEO = {
    "id": "video_68f1",
    "object": "video",
    "model": "sora-2-2025-12-08",
    "status": "queued",
    "progress": 0,
    "seconds": "8",
    "size": "1280x720",
    "error": None,
    "expires_at": None,
}


def adapter() -> AzureOpenAIAdapter:
    provider = Provider(slug="azure-openai", name="Azure OpenAI", kind=ProviderKind.AZURE_OPENAI, base_url=ORIGIN)
    return AzureOpenAIAdapter(provider, Connection(ConnectionState.LIVE, ORIGIN, KEY))


def generation(**fields) -> Generation:
    values = {"resolved_snapshot": "sora-2-2025-12-08", "prompt": "A lighthouse", "seconds": 8, "size": "1280x720"}
    return Generation(**{**values, **fields})


def answering(*responses: httpx.Response) -> tuple[list[httpx.Request], object]:
    sent, queue = [], list(responses)

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return queue.pop(0)

    return sent, use_transport(httpx.MockTransport(handle))


def test_start_creates_the_video_on_the_v1_path_with_the_api_key_header():
    sent, transport = answering(httpx.Response(200, json=VIDEO))
    with transport:
        job = adapter().start(generation(video_id="video_ours"))

    request = sent[0]
    assert (request.method, str(request.url)) == ("POST", f"{ORIGIN}/openai/v1/videos")
    assert request.headers["api-key"] == KEY and "Authorization" not in request.headers
    assert request.headers["Idempotency-Key"] == "generation-video_ours"
    assert json.loads(request.content) == {
        "model": "sora-2-2025-12-08",
        "prompt": "A lighthouse",
        "seconds": "8",
        "size": "1280x720",
    }
    assert (job.id, job.status) == ("video_68f1", "queued")


def test_a_remix_posts_to_the_source_videos_remix_path():
    source = generation(upstream_id="video_source")
    sent, transport = answering(httpx.Response(200, json=VIDEO))
    with transport:
        adapter().start(generation(operation=Operation.REMIX, remixed_from=source, prompt="Teal"))

    assert str(sent[0].url) == f"{ORIGIN}/openai/v1/videos/video_source/remix"
    assert json.loads(sent[0].content) == {"prompt": "Teal"}


@pytest.mark.parametrize(
    ("answer", "status", "progress"),
    [
        ({"status": "in_progress", "progress": 30}, "in_progress", 30),
        ({"status": "completed", "progress": 100}, "completed", 100),
    ],
)
def test_retrieve_reads_openais_video_object(answer, status, progress):
    sent, transport = answering(httpx.Response(200, json={**VIDEO, **answer}))
    with transport:
        job = adapter().retrieve(generation(upstream_id="video_68f1"))

    assert (sent[0].method, str(sent[0].url)) == ("GET", f"{ORIGIN}/openai/v1/videos/video_68f1")
    assert (job.status, job.progress) == (status, progress)


def test_the_video_is_read_from_its_content_path():
    sent, transport = answering(
        httpx.Response(200, content=b"\x00\x00\x00\x18ftypmp42", headers={"Content-Type": "video/mp4"})
    )
    with transport, adapter().open_media(generation(upstream_id="video_68f1"), "video") as (chunks, content_type):
        body = b"".join(chunks)

    assert str(sent[0].url) == f"{ORIGIN}/openai/v1/videos/video_68f1/content?variant=video"
    assert sent[0].headers["api-key"] == KEY
    assert (body[4:8], content_type) == (b"ftyp", "video/mp4")


def test_a_job_failed_by_the_content_filter_is_content_filtered():
    failed = {**VIDEO, "status": "failed", "error": {"code": "moderation_blocked", "message": "Blocked by moderation."}}
    _, transport = answering(httpx.Response(200, json=failed))
    with transport:
        job = adapter().retrieve(generation(upstream_id="video_68f1"))

    assert (job.status, job.error_code, job.error_message) == ("failed", CONTENT_FILTERED, "Blocked by moderation.")


def test_a_prompt_refused_by_the_content_filter_fails_for_good():
    body = {
        "error": {
            "message": "The response was filtered: the prompt triggered Azure OpenAI's content management policy.",
            "param": "prompt",
            "code": "content_filter",
            "innererror": {"code": "ResponsibleAIPolicyViolation"},
        }
    }
    _, transport = answering(httpx.Response(400, json=body))
    with transport, pytest.raises(UpstreamError) as raised:
        adapter().start(generation())

    assert (raised.value.code, raised.value.retryable) == (CONTENT_FILTERED, False)
    assert "content management policy" in raised.value.message


def test_a_rate_limit_is_retried_after_azures_delay():
    body = {"error": {"code": "429", "message": "Requests have exceeded the call rate limit. Retry after 20 seconds."}}
    _, transport = answering(httpx.Response(429, json=body, headers={"Retry-After": "20"}))
    with transport, pytest.raises(UpstreamError) as raised:
        adapter().start(generation())

    assert raised.value.retryable and raised.value.retry_after == 20.0


def test_an_exhausted_quota_is_a_final_quota_error():
    body = {"error": {"code": "insufficient_quota", "message": "You exceeded your current quota."}}
    _, transport = answering(httpx.Response(429, json=body))
    with transport, pytest.raises(UpstreamError) as raised:
        adapter().start(generation())

    assert (raised.value.code, raised.value.retryable) == (QUOTA_EXCEEDED, False)


def test_a_bad_request_fails_with_azures_message_and_no_key():
    body = {
        "error": {"code": "invalid_value", "message": f"Invalid value for seconds (key {KEY}).", "param": "seconds"}
    }
    _, transport = answering(httpx.Response(400, json=body))
    with transport, pytest.raises(UpstreamError) as raised:
        adapter().start(generation())

    assert (raised.value.status, raised.value.retryable) == (400, False)
    assert "Invalid value for seconds" in raised.value.message and KEY not in raised.value.message


def test_a_retired_deployment_fails_for_good():
    body = {"error": {"code": "ModelDeprecated", "message": "The model sora-2 (2025-10-06) has been retired."}}
    _, transport = answering(httpx.Response(410, json=body))
    with transport, pytest.raises(UpstreamError) as raised:
        adapter().start(generation())

    assert not raised.value.retryable and "retired" in raised.value.message


def test_a_server_error_is_retried():
    _, transport = answering(httpx.Response(503, json={"error": {"code": "503", "message": "Service unavailable"}}))
    with transport, pytest.raises(UpstreamError) as raised:
        adapter().retrieve(generation(upstream_id="video_68f1"))

    assert raised.value.retryable


@pytest.mark.django_db
def test_a_generation_runs_through_the_worker_on_the_simulated_dialect(simulated_dialects):
    # Before Microsoft retired the deployment's model (2026-10-15), so the gateway still offers it.
    with time_machine.travel(dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC), tick=False) as clock:
        api = api_on("azure-openai", "sora-2-2025-12-08")
        SimulatorProfile.objects.create(snapshot="sora-2-2025-12-08", latency_seconds=10, failure_rate=0)
        created = api.post("videos", {"prompt": "A lighthouse", "seconds": "8", "size": "1280x720"})
        accepted = Generation.objects.get(video_id=created.json()["id"])

        worker.advance(accepted.pk)
        clock.shift(11)
        assert worker.advance(accepted.pk).countdown is None
        content = api.get(f"videos/{accepted.video_id}/content")

    done = Generation.objects.get(pk=accepted.pk)
    job = SimulatedVideo.objects.get(video_id=done.upstream_id)
    assert (done.status, done.simulated) == ("completed", True)
    assert (job.dialect, job.model, job.seconds, job.size) == ("openai", "sora-2-2025-12-08", 8, "1280x720")
    assert content.status_code == 200 and b"".join(content.streaming_content)[4:8] == b"ftyp"


@pytest.mark.django_db
def test_a_prompt_the_simulated_filter_refuses_fails_as_content_filtered(simulated_dialects):
    with time_machine.travel(dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC), tick=False):
        api = api_on("azure-openai", "sora-2-2025-12-08")
        created = api.post("videos", {"prompt": "A fight [unsafe]", "seconds": "4", "size": "720x1280"})
        worker.advance(Generation.objects.get(video_id=created.json()["id"]).pk)

    refused = Generation.objects.get(video_id=created.json()["id"])
    assert (refused.status, refused.error_code) == ("failed", CONTENT_FILTERED)
    assert "content management policy" in refused.error_message
