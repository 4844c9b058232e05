import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from governance.simulator.models import SimulatedVideo
from tests.simulator.helpers import API, NEW, OLD, START, assert_openai_error, create

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def test_it_creates_a_queued_video_from_json(client, clock):
    response = create(client, model=OLD, seconds="8", size="1280x720")

    assert response.status_code == 200
    video = response.json()
    assert re.fullmatch(r"video_[0-9a-f]{32}", video["id"])
    assert video == {
        "id": video["id"],
        "object": "video",
        "model": OLD,
        "status": "queued",
        "progress": 0,
        "created_at": int(START.timestamp()),
        "completed_at": None,
        "expires_at": None,
        "prompt": "A lighthouse at dawn",
        "seconds": "8",
        "size": "1280x720",
        "remixed_from_video_id": None,
        "error": None,
    }


def test_it_creates_a_video_from_multipart_with_an_uploaded_reference(client):
    upload = SimpleUploadedFile("ref.png", PNG, content_type="image/png")
    response = client.post(
        f"{API}/videos", {"prompt": "A cat", "model": NEW, "seconds": "12", "input_reference": upload}
    )

    assert response.status_code == 200
    assert response.json()["seconds"] == "12"
    row = SimulatedVideo.objects.get(video_id=response.json()["id"])
    assert row.input_reference["content_type"] == "image/png"
    assert row.input_reference["bytes"] == len(PNG)


def test_it_reads_nested_multipart_fields_as_the_sdk_sends_them(client):
    response = client.post(
        f"{API}/videos",
        {"prompt": "A cat", "input_reference[image_url]": "https://example.com/cat.png", "style": '{"name": "noir"}'},
    )

    row = SimulatedVideo.objects.get(video_id=response.json()["id"])
    assert row.input_reference == {"image_url": "https://example.com/cat.png"}
    assert row.style == {"name": "noir"}


def test_it_applies_the_api_defaults(client):
    video = create(client).json()

    assert (video["model"], video["seconds"], video["size"]) == (NEW, "4", "720x1280")


def test_the_alias_resolves_to_its_snapshot(client):
    response = create(client, model="sora-2")

    assert response.json()["model"] == NEW
    assert SimulatedVideo.objects.get().requested_model == "sora-2"


def test_it_accepts_seconds_as_an_integer(client):
    assert create(client, seconds=8).json()["seconds"] == "8"


def test_it_stores_the_extension_fields(client):
    response = create(
        client,
        input_reference={"image_url": "https://example.com/a.png"},
        characters=[{"id": "char_1"}],
        storyboard={"shots": 2},
        style="anime",
    )

    row = SimulatedVideo.objects.get(video_id=response.json()["id"])
    assert (row.characters, row.storyboard, row.style) == ([{"id": "char_1"}], {"shots": 2}, "anime")
    assert row.input_reference == {"image_url": "https://example.com/a.png"}


def test_it_rejects_an_unknown_model(client):
    assert_openai_error(create(client, model="sora-3"), 400, "model_not_found", "model")
    assert not SimulatedVideo.objects.exists()


def test_it_rejects_seconds_the_snapshot_does_not_offer(client):
    assert_openai_error(create(client, model=OLD, seconds="25"), 400, "invalid_value", "seconds")
    assert create(client, model=NEW, seconds="25").status_code == 200


def test_it_rejects_non_numeric_seconds(client):
    assert_openai_error(create(client, seconds="four"), 400, "invalid_value", "seconds")
    assert_openai_error(create(client, seconds=True), 400, "invalid_type", "seconds")


def test_it_rejects_an_unsupported_size(client):
    assert_openai_error(create(client, size="1024x1792"), 400, "invalid_value", "size")


def test_it_requires_a_prompt(client):
    response = client.post(f"{API}/videos", {"model": NEW}, content_type="application/json")

    assert_openai_error(response, 400, "missing_required_parameter", "prompt")


def test_it_rejects_a_reference_that_is_not_an_image(client):
    upload = SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain")
    response = client.post(f"{API}/videos", {"prompt": "A cat", "input_reference": upload})

    assert_openai_error(response, 400, "invalid_value", "input_reference")


def test_it_rejects_a_malformed_reference_object(client):
    assert_openai_error(create(client, input_reference={"url": 1}), 400, "invalid_type", "input_reference")


def test_it_answers_broken_json_with_a_400(client):
    response = client.post(f"{API}/videos", "{not json", content_type="application/json")

    assert_openai_error(response, 400, "invalid_json")


def test_it_accepts_any_bearer_token_or_none(client):
    assert create(client, headers={"Authorization": "Bearer anything"}).status_code == 200
    assert create(client).status_code == 200


def test_it_refuses_a_non_bearer_authorization(client):
    assert_openai_error(create(client, headers={"Authorization": "Basic abc"}), 401, "invalid_api_key")


def test_unknown_routes_and_methods_answer_in_openai_shape(client):
    assert client.get(f"{API}/nowhere").json()["error"]["type"] == "invalid_request_error"
    assert client.put(f"{API}/videos").status_code == 405


def test_null_optional_fields_take_the_defaults(client):
    video = create(client, model=None, seconds=None, size=None, input_reference=None).json()

    assert (video["model"], video["seconds"], video["size"]) == (NEW, "4", "720x1280")
