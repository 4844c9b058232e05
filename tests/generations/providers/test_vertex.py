"""The Vertex AI adapter: the documented requests it sends, how it reads Vertex's answers, and a whole
generation through the worker against the simulator's Vertex dialect.

The stand-in provider is an httpx.MockTransport behind `use_transport`, answering as Google's token
endpoint and Vertex AI do; google-genai and google-auth really run in front of it.
"""

import base64
import datetime as dt
import hashlib
import json

import httpx
import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from governance.catalog.models import Provider
from governance.catalog.services import load_pack, read_pack
from governance.generations import worker
from governance.generations.models import ArchivedFile, Generation
from governance.generations.providers import adapter_for
from governance.generations.upstream import UpstreamError
from governance.policies.services import revise_policy
from governance.projects.models import Environment
from governance.simulator import services as simulator
from governance.simulator.models import SimulatorProfile
from tests.factories import SYSTEM, make_api_key, make_project
from tests.generations.conftest import Api
from tests.generations.providers.conftest import api_on
from tests.upstream_transport import simulator_transport, use_transport

pytestmark = pytest.mark.django_db

MODEL = "veo-3.1-generate-001"
TOKEN = "ya29.stand-in-token"
MODEL_RESOURCE = f"projects/studio-prod/locations/us-central1/publishers/google/models/{MODEL}"
OPERATION = f"{MODEL_RESOURCE}/operations/4d1e8a52-6a0c-4a55-9c61-5d2d51c1b9a0"
UPSTREAM_ID = f"{MODEL}/operations/4d1e8a52-6a0c-4a55-9c61-5d2d51c1b9a0"  # what the generation keeps
ORIGIN = "https://us-central1-aiplatform.googleapis.com"
MP4 = b"\x00\x00\x00\x18ftypmp42stand-in video"


class StandInVertex:
    """Google's token endpoint and Vertex AI, recording every request; `answers` queues Vertex's replies."""

    def __init__(self):
        self.requests: list[httpx.Request] = []
        self.answers: list[httpx.Response] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/token":
            return httpx.Response(200, json={"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"})
        if self.answers:
            return self.answers.pop(0)
        if request.url.path.endswith(":predictLongRunning"):
            return httpx.Response(200, json={"name": OPERATION})
        return httpx.Response(200, json={"name": OPERATION})

    def vertex_calls(self) -> list[httpx.Request]:
        return [request for request in self.requests if request.url.path != "/token"]

    def token_calls(self) -> list[httpx.Request]:
        return [request for request in self.requests if request.url.path == "/token"]


@pytest.fixture
def vertex_provider(db) -> Provider:
    load_pack(read_pack("vertex"), actor=SYSTEM)
    return Provider.objects.get(slug="vertex")


@pytest.fixture
def studio(vertex_provider) -> Environment:
    environment = Environment.objects.create(project=make_project("studio"), name="production")
    revise_policy(
        environment=environment,
        provider=vertex_provider,
        actor=SYSTEM,
        reason="pinned on Veo 3.1",
        default_model=MODEL,
        allowed_snapshots=[MODEL, "veo-3.1-fast-generate-001"],
    )
    return environment


@pytest.fixture
def key_file(tmp_path, monkeypatch):
    """A live connection: a service-account key file (token_uri at Google), project and no location."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path = tmp_path / "key.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "key-file-project",
                "private_key_id": "abc",
                "private_key": pem.decode(),
                "client_email": "veo@studio-prod.iam.gserviceaccount.com",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "studio-prod")
    monkeypatch.delenv("GOOGLE_CLOUD_LOCATION", raising=False)
    return path


@pytest.fixture
def vertex(key_file):
    stand_in = StandInVertex()
    with use_transport(httpx.MockTransport(stand_in)):
        yield stand_in


def accepted(studio, size="720x1280", seconds="4", **parameters) -> Generation:
    response = Api(make_api_key(studio)).post("videos", {"prompt": "a lighthouse", "seconds": seconds, "size": size})
    assert response.status_code == 200, response.content
    generation = Generation.objects.get(video_id=response.json()["id"])
    if parameters:
        generation.parameters = {**generation.parameters, **parameters}
        generation.save(update_fields=["parameters"])
    return generation


def sent_json(request: httpx.Request) -> dict:
    return json.loads(request.content)


def operation_answer(**fields) -> httpx.Response:
    return httpx.Response(200, json={"name": OPERATION, **fields})


def google_error(status: int, code: str, message: str, *details: dict) -> httpx.Response:
    body = {"code": status, "message": message, "status": code, "details": list(details)}
    return httpx.Response(status, json={"error": body})


# What the gateway sends.


def test_start_sends_the_documented_create_with_a_minted_token(vertex, studio):
    generation = accepted(studio, negative_prompt="fog", seed=42, person_generation="allow_adult")

    job = adapter_for(generation.provider).start(generation)

    [create] = vertex.vertex_calls()
    assert create.method == "POST"
    assert str(create.url) == f"{ORIGIN}/v1/{MODEL_RESOURCE}:predictLongRunning"
    assert create.headers["Authorization"] == f"Bearer {TOKEN}"
    body = sent_json(create)
    assert body["instances"] == [{"prompt": "a lighthouse"}]
    assert body["parameters"] == {
        "sampleCount": 1,
        "durationSeconds": 4,
        "aspectRatio": "9:16",
        "resolution": "720p",
        "negativePrompt": "fog",
        "seed": 42,
        "personGeneration": "allow_adult",
        "generateAudio": True,
    }
    assert body["labels"] == {"governance_video": generation.video_id}
    assert (job.id, job.status) == (UPSTREAM_ID, "queued")
    assert adapter_for(generation.provider).api_version == "v1"


def test_the_token_comes_from_a_jwt_bearer_grant_and_is_kept_until_it_expires(vertex, studio):
    generation = accepted(studio)
    adapter = adapter_for(generation.provider)

    adapter.start(generation)
    generation.upstream_id = UPSTREAM_ID
    adapter.retrieve(generation)
    adapter_for(generation.provider).retrieve(generation)

    [grant] = vertex.token_calls()
    form = dict(item.split("=", 1) for item in grant.content.decode().split("&"))
    assert form["grant_type"] == "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
    assert form["assertion"].count(".") == 2
    assert len(vertex.vertex_calls()) == 3


def test_each_size_maps_to_an_aspect_ratio_and_a_resolution(vertex, studio):
    for size, expected in {
        "1280x720": ("16:9", "720p"),
        "720x1280": ("9:16", "720p"),
        "1920x1080": ("16:9", "1080p"),
        "1080x1920": ("9:16", "1080p"),
    }.items():
        generation = accepted(studio, size=size, seconds="8")
        adapter_for(generation.provider).start(generation)
        parameters = sent_json(vertex.vertex_calls()[-1])["parameters"]
        assert (parameters["aspectRatio"], parameters["resolution"], parameters["durationSeconds"]) == (*expected, 8)


def test_audio_can_be_turned_off_and_reference_images_travel_inline(vertex, studio):
    png = b"\x89PNG\r\n\x1a\nstand-in"
    data_uri = "data:image/png;base64," + base64.b64encode(png).decode()
    generation = accepted(studio, generate_audio=False, reference_images=[{"image_url": data_uri}])

    adapter_for(generation.provider).start(generation)

    body = sent_json(vertex.vertex_calls()[-1])
    assert body["parameters"]["generateAudio"] is False
    assert body["instances"][0]["referenceImages"] == [
        {
            "image": {"bytesBase64Encoded": base64.b64encode(png).decode(), "mimeType": "image/png"},
            "referenceType": "ASSET",
        }
    ]


def test_a_reference_image_veo_cannot_fetch_is_refused_before_anything_is_sent(vertex, studio):
    generation = accepted(studio, reference_images=[{"image_url": "https://example.com/cat.png"}])

    with pytest.raises(UpstreamError) as raised:
        adapter_for(generation.provider).start(generation)

    assert (raised.value.status, raised.value.retryable) == (400, False)
    assert "data: URI or a gs:// URI" in raised.value.message
    assert vertex.vertex_calls() == []


def test_the_location_picks_the_regional_origin(vertex, studio, monkeypatch):
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "europe-west4")
    generation = accepted(studio)

    adapter_for(generation.provider).start(generation)

    expected = "https://europe-west4-aiplatform.googleapis.com/v1/projects/studio-prod/locations/europe-west4/"
    assert str(vertex.vertex_calls()[-1].url).startswith(expected)


def test_vertex_base_url_replaces_the_regional_origin(vertex, studio, monkeypatch):
    monkeypatch.setenv("VERTEX_BASE_URL", "https://vertex-proxy.internal.example")
    generation = accepted(studio)

    adapter_for(generation.provider).start(generation)

    expected = f"https://vertex-proxy.internal.example/v1/{MODEL_RESOURCE}:predictLongRunning"
    assert str(vertex.vertex_calls()[-1].url) == expected


def test_without_the_project_variable_the_key_files_project_is_used(vertex, studio, monkeypatch):
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT")
    generation = accepted(studio)

    adapter_for(generation.provider).start(generation)

    assert "/projects/key-file-project/" in vertex.vertex_calls()[-1].url.path


def test_retrieve_polls_with_fetch_predict_operation(vertex, studio):
    generation = accepted(studio)
    generation.upstream_id = UPSTREAM_ID

    job = adapter_for(generation.provider).retrieve(generation)

    [poll] = vertex.vertex_calls()
    assert (poll.method, str(poll.url)) == ("POST", f"{ORIGIN}/v1/{MODEL_RESOURCE}:fetchPredictOperation")
    assert sent_json(poll) == {"operationName": OPERATION}
    assert job.status == "in_progress"


# How the gateway reads Vertex's operations.


def poll(vertex, studio, answer: httpx.Response):
    generation = accepted(studio)
    generation.upstream_id = UPSTREAM_ID
    vertex.answers.append(answer)
    return adapter_for(generation.provider).retrieve(generation)


def test_a_done_operation_with_an_inline_video_is_completed_with_its_bytes(vertex, studio):
    video = {"bytesBase64Encoded": base64.b64encode(MP4).decode(), "mimeType": "video/mp4"}
    job = poll(vertex, studio, operation_answer(done=True, response={"videos": [video]}))

    assert (job.status, job.progress) == ("completed", 100)
    assert (job.video.data, job.video.content_type, job.thumbnail) == (MP4, "video/mp4", None)


def test_a_video_in_cloud_storage_is_downloaded_through_the_storage_api_with_the_token(vertex, studio):
    video = {"gcsUri": "gs://studio-renders/veo/sample 0.mp4", "mimeType": "video/mp4"}
    job = poll(vertex, studio, operation_answer(done=True, response={"videos": [video]}))

    assert (
        job.video.url == "https://storage.googleapis.com/storage/v1/b/studio-renders/o/veo%2Fsample%200.mp4?alt=media"
    )
    assert job.video.headers == {"Authorization": f"Bearer {TOKEN}"}


def test_a_video_removed_by_the_safety_filter_is_content_filtered_with_googles_reason(vertex, studio):
    reason = "The prompt could not be submitted. Support codes: 58061214"
    response = {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": [reason]}
    job = poll(vertex, studio, operation_answer(done=True, response=response))

    assert (job.status, job.error_code, job.error_message) == ("failed", "content_filtered", reason)


def test_a_failed_operation_keeps_the_providers_message(vertex, studio):
    job = poll(vertex, studio, operation_answer(done=True, error={"code": 13, "message": "Internal error."}))

    assert (job.status, job.error_code, job.error_message) == ("failed", "generation_failed", "Internal error.")


# Errors: retried, failed or counted as quota.


def failing_start(vertex, studio, answer: httpx.Response) -> UpstreamError:
    generation = accepted(studio)
    vertex.answers.append(answer)
    with pytest.raises(UpstreamError) as raised:
        adapter_for(generation.provider).start(generation)
    return raised.value


def test_resource_exhausted_is_retried_after_googles_retry_delay(vertex, studio):
    retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}
    error = failing_start(vertex, studio, google_error(429, "RESOURCE_EXHAUSTED", "Too many requests.", retry))

    assert (error.retryable, error.retry_after, error.code) == (True, 7.0, "RESOURCE_EXHAUSTED")


def test_a_per_minute_quota_is_retried_after_googles_retry_delay(vertex, studio):
    quota = {
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        "violations": [{"quotaId": "OnlinePredictionRequestsPerMinutePerProjectPerBaseModel"}],
    }
    retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "20s"}
    message = "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model."
    error = failing_start(vertex, studio, google_error(429, "RESOURCE_EXHAUSTED", message, quota, retry))

    assert (error.code, error.retryable, error.retry_after, error.message) == (
        "RESOURCE_EXHAUSTED",
        True,
        20.0,
        message,
    )


def test_a_spent_daily_quota_is_quota_exceeded_and_final(vertex, studio):
    quota = {
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        "violations": [{"quotaId": "GenerateVideoRequestsPerDayPerProjectPerModel"}],
    }
    error = failing_start(vertex, studio, google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", quota))

    assert (error.code, error.retryable) == ("quota_exceeded", False)


def test_a_safety_refusal_at_create_is_content_filtered_and_final(vertex, studio):
    message = (
        "Veo could not generate videos because the input image violates Vertex AI's usage guidelines. "
        "Support codes: 15236754"
    )
    error = failing_start(vertex, studio, google_error(400, "INVALID_ARGUMENT", message))

    assert (error.status, error.code, error.retryable, error.message) == (400, "content_filtered", False, message)


def test_a_refusal_cited_only_by_its_support_code_is_content_filtered(vertex, studio):
    message = "The prompt could not be submitted. Support codes: 29310472"
    error = failing_start(vertex, studio, google_error(400, "INVALID_ARGUMENT", message))

    assert error.code == "content_filtered"


def test_a_project_without_billing_is_quota_exceeded_and_final(vertex, studio):
    info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "BILLING_DISABLED"}
    error = failing_start(vertex, studio, google_error(403, "PERMISSION_DENIED", "Billing is disabled.", info))

    assert (error.code, error.retryable) == ("quota_exceeded", False)


def test_a_bad_request_fails_with_googles_message_and_no_token_in_it(vertex, studio):
    message = f"Unsupported output video duration 5 seconds (request token {TOKEN})."
    error = failing_start(vertex, studio, google_error(400, "INVALID_ARGUMENT", message))

    assert (error.status, error.code, error.retryable) == (400, "INVALID_ARGUMENT", False)
    assert TOKEN not in error.message and "Unsupported output video duration 5 seconds" in error.message


def test_server_errors_and_timeouts_are_retried(vertex, studio):
    server = failing_start(vertex, studio, google_error(503, "UNAVAILABLE", "The service is currently unavailable."))
    generation = accepted(studio)
    with use_transport(httpx.MockTransport(lambda request: (_ for _ in ()).throw(httpx.ReadTimeout("slow")))):
        with pytest.raises(UpstreamError) as timeout:
            adapter_for(generation.provider).start(generation)

    assert server.retryable and timeout.value.retryable


def test_a_key_file_without_a_project_and_no_project_variable_is_not_configured(vertex, studio, key_file, monkeypatch):
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT")
    key = json.loads(key_file.read_text())
    key.pop("project_id")
    bare = key_file.with_name("bare.json")
    bare.write_text(json.dumps(key))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(bare))
    generation = accepted(studio)

    with pytest.raises(UpstreamError) as raised:
        adapter_for(generation.provider).start(generation)

    assert (raised.value.code, raised.value.retryable) == ("provider_not_configured", False)
    assert "GOOGLE_CLOUD_PROJECT" in raised.value.message
    assert vertex.vertex_calls() == []


# A whole generation, through the worker, against the simulator's Vertex dialect.


def test_a_generation_on_the_simulated_dialect_completes_and_is_archived(studio, monkeypatch, settings):
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    settings.SIMULATOR_LINK_SECONDS = 0
    SimulatorProfile.objects.create(snapshot=MODEL, latency_seconds=10, failure_rate=0)
    start = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
    with (
        time_machine.travel(start, tick=False) as clock,
        use_transport(simulator_transport()),
    ):
        generation = accepted(studio)
        assert worker.advance(generation.pk).countdown is not None
        submitted = Generation.objects.get(pk=generation.pk)
        clock.shift(11)
        assert worker.advance(generation.pk).countdown is None

    done = Generation.objects.get(pk=generation.pk)
    assert submitted.upstream_id.startswith(f"{MODEL}/operations/video_")
    assert (done.status, done.progress) == ("completed", 100)
    video_id = done.upstream_id.rpartition("/operations/")[2]
    archived = ArchivedFile.objects.get(generation=done, variant=ArchivedFile.Variant.VIDEO)
    assert archived.upstream_sha256 == hashlib.sha256(simulator.video_content(video_id)[0]).hexdigest()
    assert ArchivedFile.objects.filter(generation=done, variant=ArchivedFile.Variant.THUMBNAIL).exists()
    content = Api(make_api_key(studio)).get(f"videos/{done.video_id}/content")
    assert content.status_code == 200 and b"".join(content.streaming_content)[4:8] == b"ftyp"


def test_an_image_link_veo_cannot_take_is_refused_by_the_gateway_before_anything_is_sent(db):
    api = api_on("vertex", "veo-3.1-generate-001")

    response = api.post(
        "videos",
        {"prompt": "a lighthouse", "seconds": "8", "input_reference": {"image_url": "https://example.com/a.png"}},
    )

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "input_reference"
    refused = Generation.objects.get()
    assert (refused.status, refused.error_param, refused.upstream_id) == ("refused", "input_reference", "")
