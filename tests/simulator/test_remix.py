import pytest

from tests.simulator.helpers import API, OLD, assert_openai_error, create, created_job_count

pytestmark = pytest.mark.django_db


def remix(client, video_id, prompt="Now at dusk", headers=None):
    return client.post(
        f"{API}/videos/{video_id}/remix", {"prompt": prompt}, content_type="application/json", headers=headers or {}
    )


def test_a_remix_is_a_new_job_on_the_same_snapshot(client, clock, reliable):
    source = create(client, model=OLD, seconds="8", size="1280x720").json()
    clock.shift(10)

    response = remix(client, source["id"])

    assert response.status_code == 200
    video = response.json()
    assert video["id"] != source["id"]
    assert (video["model"], video["seconds"], video["size"]) == (OLD, "8", "1280x720")
    assert (video["prompt"], video["status"]) == ("Now at dusk", "queued")
    assert video["remixed_from_video_id"] == source["id"]
    assert created_job_count() == 2


def test_a_remix_honours_the_idempotency_key(client, clock, reliable):
    source_id = create(client).json()["id"]
    clock.shift(10)
    key = {"Idempotency-Key": "remix-1"}

    assert remix(client, source_id, headers=key).json()["id"] == remix(client, source_id, headers=key).json()["id"]
    assert created_job_count() == 2


def test_only_a_completed_video_can_be_remixed(client, clock, reliable):
    source_id = create(client).json()["id"]

    assert_openai_error(remix(client, source_id), 400, "video_not_ready")
    assert created_job_count() == 1


def test_a_remix_needs_a_prompt(client, clock, reliable):
    source_id = create(client).json()["id"]
    clock.shift(10)

    assert_openai_error(remix(client, source_id, prompt=""), 400, "missing_required_parameter", "prompt")


def test_remixing_an_unknown_video_is_not_found(client):
    assert_openai_error(remix(client, "video_missing"), 404, "video_not_found")
