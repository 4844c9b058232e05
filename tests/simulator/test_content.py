import pytest

from governance.simulator.models import SimulatorProfile
from tests.simulator.helpers import API, NEW, assert_openai_error, create

pytestmark = pytest.mark.django_db


@pytest.fixture
def completed_video(client, clock, reliable):
    video_id = create(client).json()["id"]
    clock.shift(10)
    return video_id


def content(client, video_id, **params):
    return client.get(f"{API}/videos/{video_id}/content", params)


def test_the_video_variant_is_a_real_mp4(client, completed_video):
    response = content(client, completed_video)

    assert response.status_code == 200
    assert response["Content-Type"] == "video/mp4"
    assert response.content[4:8] == b"ftyp"
    assert 1_000 < len(response.content) < 200_000


@pytest.mark.parametrize("variant", ["thumbnail", "spritesheet"])
def test_thumbnail_and_spritesheet_are_jpegs(client, completed_video, variant):
    response = content(client, completed_video, variant=variant)

    assert response["Content-Type"] == "image/jpeg"
    assert response.content[:3] == b"\xff\xd8\xff"


def test_content_is_refused_before_the_video_completes(client, clock, reliable):
    video_id = create(client).json()["id"]
    clock.shift(5)

    assert_openai_error(content(client, video_id), 400, "video_not_ready")


def test_a_failed_video_has_no_content(client, clock):
    SimulatorProfile.objects.create(snapshot=NEW, latency_seconds=0, failure_rate=1)
    video_id = create(client).json()["id"]

    assert_openai_error(content(client, video_id), 400, "video_not_ready")


def test_an_unknown_variant_is_refused(client, completed_video):
    assert_openai_error(content(client, completed_video, variant="poster"), 400, "invalid_value", "variant")


def test_content_of_an_unknown_video_is_not_found(client):
    assert_openai_error(content(client, "video_missing"), 404, "video_not_found")
