"""Uploads are checked before anything is stored or forwarded; a bad one is a clear 400 that leaves nothing behind."""

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from governance.generations.models import Character, Generation
from governance.simulator.models import SimulatedVideo
from tests.factories import NEW, SAMPLE_MP4, make_api_key, make_environment, make_project, png_image
from tests.generations.conftest import Api


@pytest.fixture
def staging(db):
    """Pinned to the snapshot that makes characters; every operation allowed."""
    return make_environment(make_project("studio"), "staging", default_model=NEW, allowed_snapshots=[NEW])


@pytest.fixture
def staging_api(staging) -> Api:
    return Api(make_api_key(staging))


def mp4(name="clip.mp4", content=SAMPLE_MP4, content_type="video/mp4"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def stored_files() -> list:
    media = settings.MEDIA_ROOT
    return [path for path in media.rglob("*") if path.is_file()] if media.exists() else []


def assert_refused(response, code: str, param: str) -> None:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["param"]) == (code, param)
    assert error["message"]


@pytest.fixture
def nothing_left_behind(db):
    before = set(stored_files())
    yield
    assert set(stored_files()) == before
    assert not SimulatedVideo.objects.exists()
    assert not Character.objects.exists()


@pytest.mark.parametrize("path", ["videos/edits", "videos/characters"])
def test_a_video_over_the_size_limit_is_refused(staging_api, settings, nothing_left_behind, path):
    settings.UPLOAD_MAX_BYTES = 1_000
    settings.INPUT_REFERENCE_MAX_BYTES = 1_000
    response = staging_api.post(path, {"prompt": "x", "name": "Mona", "video": mp4()}, json=False)
    assert_refused(response, "file_too_large", "video")
    assert "1000 bytes" in response.json()["error"]["message"]


def test_a_reference_image_over_its_limit_is_refused(staging_api, settings, nothing_left_behind):
    settings.INPUT_REFERENCE_MAX_BYTES = 500
    image = SimpleUploadedFile("ref.png", png_image(), content_type="image/png")
    response = staging_api.post("videos", {"prompt": "x", "input_reference": image}, json=False)
    assert_refused(response, "file_too_large", "input_reference")


FIELDS = {
    "videos/edits": {"prompt": "x"},
    "videos/extensions": {"prompt": "x", "seconds": "4"},
    "videos/characters": {"name": "Mona"},
}


@pytest.mark.parametrize("path", FIELDS)
def test_an_image_sent_as_a_video_is_refused_whatever_its_declared_type(staging_api, nothing_left_behind, path):
    fake = mp4(content=png_image())
    response = staging_api.post(path, {**FIELDS[path], "video": fake}, json=False)
    assert_refused(response, "unsupported_file_type", "video")
    assert "MP4" in response.json()["error"]["message"]


def test_text_sent_as_a_png_reference_is_refused(staging_api, nothing_left_behind):
    fake = SimpleUploadedFile("ref.png", b"not an image at all", content_type="image/png")
    response = staging_api.post("videos", {"prompt": "x", "input_reference": fake}, json=False)
    assert_refused(response, "unsupported_file_type", "input_reference")


@pytest.mark.parametrize("field", ["video", "input_reference"])
def test_an_empty_file_is_refused(staging_api, nothing_left_behind, field):
    path = "videos/edits" if field == "video" else "videos"
    empty = SimpleUploadedFile("empty", b"", content_type="video/mp4")
    response = staging_api.post(path, {"prompt": "x", field: empty}, json=False)
    assert_refused(response, "empty_file", field)


def test_a_multipart_body_cut_off_inside_a_file_is_refused(staging_api, nothing_left_behind):
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nhello\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="video"; filename="a.mp4"\r\n'
        b"Content-Type: video/mp4\r\n\r\n" + SAMPLE_MP4[:3000]
    )
    response = staging_api.client.generic(
        "POST",
        "/v1/videos/edits",
        body,
        content_type="multipart/form-data; boundary=XyZ",
        HTTP_AUTHORIZATION=f"Bearer {staging_api.key}",
    )
    assert_refused(response, "truncated_upload", "video")


def test_a_multipart_body_without_a_boundary_is_refused(staging_api, nothing_left_behind):
    response = staging_api.client.generic(
        "POST",
        "/v1/videos/characters",
        b"garbage",
        content_type="multipart/form-data",
        HTTP_AUTHORIZATION=f"Bearer {staging_api.key}",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_a_refused_upload_is_logged_with_its_refusal(staging_api, nothing_left_behind):
    staging_api.post("videos/edits", {"prompt": "x", "video": mp4(content=b"plain text")}, json=False)
    generation = Generation.objects.get()
    assert (generation.operation, generation.status, generation.error_code) == (
        "edit",
        "refused",
        "unsupported_file_type",
    )


def test_an_accepted_upload_is_stored_once_under_its_hash(staging_api):
    first = staging_api.post("videos/edits", {"prompt": "x", "video": mp4()}, json=False)
    second = staging_api.post("videos/edits", {"prompt": "y", "video": mp4(name="other.mp4")}, json=False)
    assert first.status_code == second.status_code == 200
    rows = Generation.objects.order_by("pk")
    assert rows[0].source_video.name == rows[1].source_video.name
    assert rows[0].source_video.name.endswith(rows[0].source_video_sha256 + ".mp4")
    assert rows[0].parameters["video"]["sha256"] == rows[0].source_video_sha256
    assert rows[0].parameters["video"]["duration_seconds"] == 2.0
    assert rows[0].seconds == 2  # an edit keeps its source's length, read from the MP4
