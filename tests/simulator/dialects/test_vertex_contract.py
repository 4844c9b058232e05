"""The Vertex AI dialect, as Google's own SDK sees it: google-genai over real HTTP, with google-auth
minting service-account tokens at the dialect's token endpoint from a generated key file.

Vertex hands out no result links: the video comes back inline (base64) or as a gs:// URI in the
caller's own bucket, so there is no expiring link to test here (the gateway's archive test covers
a download after the simulator's links have expired).
"""

import json

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google import genai
from google.genai import errors, types
from google.oauth2 import service_account

from governance.simulator import services
from governance.simulator.models import SimulatorProfile

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "veo-3.1-generate-001"
PROJECT = "contract-project"


@pytest.fixture
def key_file(tmp_path, live_server):
    """A service-account key file as Google issues them, whose token_uri is the dialect's token endpoint."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path = tmp_path / "service-account.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": PROJECT,
                "private_key_id": "0123456789abcdef",
                "private_key": pem.decode(),
                "client_email": f"veo@{PROJECT}.iam.gserviceaccount.com",
                "client_id": "1234567890",
                "token_uri": f"{live_server.url}/simulator/vertex/token",
            }
        )
    )
    return path


@pytest.fixture
def credentials(key_file):
    return service_account.Credentials.from_service_account_file(
        str(key_file), scopes=["https://www.googleapis.com/auth/cloud-platform"]
    )


@pytest.fixture
def client(live_server, credentials):
    SimulatorProfile.objects.create(snapshot=MODEL, latency_seconds=0, failure_rate=0)
    return genai.Client(
        vertexai=True,
        project=PROJECT,
        location="us-central1",
        credentials=credentials,
        http_options=types.HttpOptions(base_url=f"{live_server.url}/simulator/vertex/", api_version="v1"),
    )


def generate(client, prompt="A lighthouse at dawn", **config):
    settings = {"duration_seconds": 4, "aspect_ratio": "9:16", "resolution": "720p", **config}
    return client.models.generate_videos(
        model=MODEL, source=types.GenerateVideosSource(prompt=prompt), config=types.GenerateVideosConfig(**settings)
    )


def test_the_sdk_creates_polls_and_reads_the_inline_video(client, credentials):
    operation = generate(client, negative_prompt="fog", generate_audio=True, seed=7)
    token = credentials.token
    done = client.operations.get(operation)

    assert operation.name.startswith(f"projects/{PROJECT}/locations/us-central1/publishers/google/models/{MODEL}/")
    assert token.startswith("ya29.simulated-")
    assert done.done is True
    video = done.result.generated_videos[0].video
    video_id = operation.name.rpartition("/operations/")[2]
    assert video.mime_type == "video/mp4"
    assert video.video_bytes == services.video_content(video_id)[0]
    assert credentials.token == token  # minted once, kept until it expires


def test_a_storage_uri_answers_a_cloud_storage_uri(client):
    done = client.operations.get(generate(client, output_gcs_uri="gs://studio-renders/veo"))

    video = done.result.generated_videos[0].video
    assert video.uri.startswith("gs://studio-renders/veo/") and video.uri.endswith("/sample_0.mp4")
    assert video.video_bytes is None


def test_the_sdk_reads_a_safety_refusal(client):
    done = client.operations.get(generate(client, prompt="A lighthouse [unsafe]"))

    assert done.done is True
    assert done.result.generated_videos is None
    assert done.result.rai_media_filtered_count == 1
    assert "Support codes" in done.result.rai_media_filtered_reasons[0]


def test_an_unsupported_duration_is_a_google_invalid_argument(client):
    with pytest.raises(errors.ClientError) as raised:
        generate(client, duration_seconds=5)

    assert (raised.value.code, raised.value.status) == (400, "INVALID_ARGUMENT")
    assert "supported durations are 4, 6, 8" in raised.value.message
    violation = raised.value.details["error"]["details"][0]["fieldViolations"][0]
    assert violation["field"] == "parameters.durationSeconds"


def test_an_unknown_model_and_an_unknown_operation_are_not_found(client):
    with pytest.raises(errors.ClientError) as model:
        client.models.generate_videos(model="veo-9.0-generate-001", source=types.GenerateVideosSource(prompt="A cat"))
    unknown = types.GenerateVideosOperation(
        name=f"projects/{PROJECT}/locations/us-central1/publishers/google/models/{MODEL}/operations/video_missing"
    )
    with pytest.raises(errors.ClientError) as operation:
        client.operations.get(unknown)

    assert (model.value.code, model.value.status) == (404, "NOT_FOUND")
    assert "was not found or your project does not have access to it" in model.value.message
    assert (operation.value.code, operation.value.status) == (404, "NOT_FOUND")


def test_a_retired_model_is_not_found(client):
    with pytest.raises(errors.ClientError) as raised:
        client.models.generate_videos(model="veo-3.0-generate-001", source=types.GenerateVideosSource(prompt="A cat"))

    assert raised.value.code == 404


def test_rate_limits_answer_resource_exhausted_with_a_retry_delay(client):
    SimulatorProfile.objects.filter(snapshot=MODEL).update(rate_limit_rate=1.0)

    with pytest.raises(errors.ClientError) as raised:
        generate(client)

    assert (raised.value.code, raised.value.status) == (429, "RESOURCE_EXHAUSTED")
    assert raised.value.details["error"]["details"][0]["retryDelay"] == "1s"


def test_a_call_without_a_valid_token_is_unauthenticated(live_server):
    url = f"{live_server.url}/simulator/vertex/v1/projects/p/locations/us-central1/publishers/google/models/{MODEL}"
    body = {"instances": [{"prompt": "A cat"}]}

    missing = httpx.post(f"{url}:predictLongRunning", json=body)
    foreign = httpx.post(f"{url}:predictLongRunning", json=body, headers={"Authorization": "Bearer not-minted-here"})

    assert missing.status_code == foreign.status_code == 401
    assert missing.json()["error"]["status"] == "UNAUTHENTICATED"


def test_the_token_endpoint_refuses_another_grant(live_server):
    answer = httpx.post(f"{live_server.url}/simulator/vertex/token", data={"grant_type": "client_credentials"})

    assert answer.status_code == 400
    assert answer.json()["error"] == "unsupported_grant_type"
