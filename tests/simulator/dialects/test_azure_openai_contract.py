"""The official `openai` SDK, configured as Microsoft documents for Azure OpenAI's v1 API, against our Azure dialect.

Microsoft's Sora 2 quickstart builds `OpenAI(base_url="https://{resource}.openai.azure.com/openai/v1/",
api_key=AZURE_OPENAI_API_KEY)`; the REST samples send the key in `api-key`. Azure gives no result
links (the video is read from `/videos/{id}/content`), so there is no link to expire here.
"""

import openai
import pytest

from governance.simulator.models import SimulatorProfile
from tests.simulator.helpers import created_job_count

pytestmark = pytest.mark.django_db(transaction=True)

DEPLOYMENT = "sora-2-2025-12-08"  # a deployment named after the snapshot it runs
KEY = "azure-test-key"


def azure_client(live_server, **options) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{live_server.url}/simulator/azure-openai/openai/v1/",
        max_retries=0,
        timeout=openai.Timeout(10.0),
        **{"api_key": KEY, **options},
    )


@pytest.fixture
def instant():
    SimulatorProfile.objects.create(snapshot=DEPLOYMENT, latency_seconds=0, failure_rate=0)


def test_the_sdk_creates_polls_and_downloads_a_video(live_server, instant):
    client = azure_client(live_server)

    video = client.videos.create_and_poll(model=DEPLOYMENT, prompt="A lighthouse at dawn", seconds="8", size="1280x720")
    content = client.videos.download_content(video.id, variant="video").read()

    assert (video.status, video.progress, video.model) == ("completed", 100, DEPLOYMENT)
    assert (video.seconds, video.size) == ("8", "1280x720")
    assert content[4:8] == b"ftyp"


def test_the_api_key_header_alone_is_accepted(live_server, instant):
    client = azure_client(live_server, default_headers={"api-key": KEY})
    only_api_key = {"Authorization": openai.Omit()}

    video = client.videos.create(model="sora-2", prompt="A cat", extra_headers=only_api_key)

    assert client.videos.retrieve(video.id, extra_headers=only_api_key).status == "completed"


def test_a_request_without_a_key_gets_azures_401(live_server):
    with pytest.raises(openai.AuthenticationError) as raised:
        azure_client(live_server).videos.create(
            model=DEPLOYMENT, prompt="A cat", extra_headers={"Authorization": openai.Omit()}
        )

    assert raised.value.code == "401"
    assert "Access denied" in raised.value.message
    assert created_job_count() == 0


def test_a_length_the_deployment_does_not_offer_is_a_bad_request_naming_seconds(live_server):
    with pytest.raises(openai.BadRequestError) as raised:
        azure_client(live_server).videos.create(model="sora-2-2025-10-06", prompt="A cat", seconds="16")

    assert raised.value.param == "seconds"
    assert created_job_count() == 0


def test_an_unknown_video_is_not_found(live_server):
    with pytest.raises(openai.NotFoundError):
        azure_client(live_server).videos.retrieve("video_0123456789abcdef0123456789abcdef")


def test_the_prompt_filter_refuses_before_any_job_exists(live_server):
    with pytest.raises(openai.BadRequestError) as raised:
        azure_client(live_server).videos.create(model=DEPLOYMENT, prompt="A fight [unsafe]")

    assert raised.value.code == "content_filter"
    assert raised.value.body["innererror"]["code"] == "ResponsibleAIPolicyViolation"
    assert created_job_count() == 0
