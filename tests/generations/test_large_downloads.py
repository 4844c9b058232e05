"""A large archived video downloads byte for byte, from the archive folder and from a bucket (in one request to
the bucket), and a file the archive cannot give says why: missing (500) or not now (503).

S3 itself is outside our system: moto stands in for it behind boto3, as in test_s3_storage.py.
"""

import hashlib
import os

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from django.core.files import File
from moto import mock_aws

from governance.generations.archive import archive_storage
from governance.generations.models import ArchivedFile, Generation
from governance.projects.models import ApiKey
from governance.settings import _s3_storage
from tests.factories import OLD

pytestmark = pytest.mark.django_db

SIZE = 6 * 1024 * 1024 + 12345  # several 1 MiB chunks, and not a whole number of them
BUCKET = "governance-files"


@pytest.fixture(params=["archive", ""], ids=["under-a-prefix", "at-the-top"])
def bucket(request, monkeypatch, settings):
    monkeypatch.setenv("ARCHIVE_S3_PREFIX", request.param)  # where in the bucket the archive's objects go
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("ARCHIVE_S3_BUCKET", BUCKET)
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        settings.STORAGES = {**settings.STORAGES, "archive": _s3_storage("ARCHIVE")}
        yield


def archived_video(tmp_path) -> tuple[Generation, str]:
    """A completed generation whose archived video is SIZE random bytes; returns it and the bytes' SHA-256."""
    key = ApiKey.objects.latest("pk")
    generation = Generation.objects.create(
        project=key.environment.project,
        environment=key.environment,
        api_key=key,
        status=Generation.Status.COMPLETED,
        prompt="a long take",
        requested_model=OLD,
        resolved_snapshot=OLD,
    )
    path = tmp_path / "video.mp4"
    path.write_bytes(os.urandom(SIZE))
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    with path.open("rb") as file:
        name = archive_storage().save(f"{generation.video_id}/video.mp4", File(file))
    ArchivedFile.objects.create(
        generation=generation,
        variant=ArchivedFile.Variant.VIDEO,
        name=name,
        content_type="video/mp4",
        size=SIZE,
        sha256=sha256,
        upstream_sha256=sha256,
        upstream_size=SIZE,
    )
    return generation, sha256


def downloaded(api, generation: Generation, sha256: str) -> None:
    response = api.get(f"videos/{generation.video_id}/content")
    assert response.status_code == 200
    assert response["Content-Length"] == str(SIZE) and response["X-Governance-Content-SHA256"] == sha256
    assert "Content-Disposition" not in response
    digest, received = hashlib.sha256(), 0
    for chunk in response.streaming_content:
        digest.update(chunk)
        received += len(chunk)
    response.close()
    assert received == SIZE and digest.hexdigest() == sha256


def test_a_large_video_downloads_byte_for_byte_from_the_archive_folder(api, tmp_path):
    generation, sha256 = archived_video(tmp_path)
    downloaded(api, generation, sha256)


def test_a_large_video_downloads_byte_for_byte_from_the_bucket(api, bucket, tmp_path):
    generation, sha256 = archived_video(tmp_path)
    downloaded(api, generation, sha256)


def test_a_download_from_the_bucket_asks_it_once_for_the_object(api, bucket, tmp_path):
    generation, sha256 = archived_video(tmp_path)
    operations = []
    s3 = archive_storage().connection.meta.client
    s3.meta.events.register("before-call.s3", lambda model, **kwargs: operations.append(model.name))

    downloaded(api, generation, sha256)

    assert operations == ["GetObject"]  # no HEAD first: the size and type are recorded with the file


def test_a_video_gone_from_the_bucket_is_a_500_that_says_so_and_is_not_retried(api, bucket, tmp_path):
    generation, _ = archived_video(tmp_path)
    archive_storage().delete(generation.archived_files.get().name)

    response = api.get(f"videos/{generation.video_id}/content")

    assert_refused(response, 500, "archive_file_missing", "The archived video is missing from the archive.")
    assert response["x-should-retry"] == "false"


def test_a_video_gone_from_the_archive_folder_is_a_500_that_says_so(api, tmp_path):
    generation, _ = archived_video(tmp_path)
    archive_storage().delete(generation.archived_files.get().name)

    response = api.get(f"videos/{generation.video_id}/content")

    assert_refused(response, 500, "archive_file_missing", "The archived video is missing from the archive.")


def test_a_bucket_that_cannot_be_reached_is_a_503_the_sdk_retries(api, bucket, tmp_path):
    generation, _ = archived_video(tmp_path)
    s3 = archive_storage().connection.meta.client

    def unreachable(request, **kwargs):
        raise EndpointConnectionError(endpoint_url=request.url)

    s3.meta.events.register("before-send.s3.GetObject", unreachable)

    response = api.get(f"videos/{generation.video_id}/content")

    message = "The archived video cannot be read now; try again later."
    assert_refused(response, 503, "archive_unavailable", message)
    assert response["x-should-retry"] == "true"


def assert_refused(response, status: int, code: str, message: str) -> None:
    assert response.status_code == status
    error = response.json()["error"]
    assert (error["code"], error["message"], error["type"]) == (code, message, "api_error")
