"""Uploads and the archive in an S3-compatible bucket, so web and worker nodes share no disk.

S3 itself is outside our system: moto stands in for it behind boto3; everything else is ours.
"""

import boto3
import pytest
import time_machine
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from moto import mock_aws

from governance.content_credentials.reading import ManifestState
from governance.generations import worker
from governance.generations.models import ArchivedFile, Generation
from governance.settings import _s3_storage
from governance.simulator import services as simulator
from governance.simulator.models import SimulatorProfile
from tests.factories import OLD, png_image
from tests.generations.test_content_credentials import START, check, download
from tests.upstream_transport import simulator_transport, use_transport

pytestmark = pytest.mark.django_db

BUCKET = "governance-files"


@pytest.fixture
def bucket(monkeypatch, settings):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for prefix in ("UPLOADS", "ARCHIVE"):
        monkeypatch.setenv(f"{prefix}_S3_BUCKET", BUCKET)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        settings.STORAGES = {
            **settings.STORAGES,
            "default": _s3_storage("UPLOADS"),
            "archive": _s3_storage("ARCHIVE"),
        }
        yield s3


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def keys(s3) -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_a_reference_image_and_the_signed_archive_live_in_the_bucket(bucket, api, clock):
    SimulatorProfile.objects.create(snapshot=OLD, latency_seconds=4, failure_rate=0)
    image = SimpleUploadedFile("reference.png", png_image(720, 1280), content_type="image/png")
    fields = {"prompt": "a cat", "model": OLD, "size": "720x1280", "input_reference": image}
    answer = api.post("videos", fields, json=False)
    generation = Generation.objects.get(video_id=answer.json()["id"])
    assert generation.input_reference.name in [key.removeprefix("uploads/") for key in keys(bucket)]
    assert default_storage.exists(generation.input_reference.name)

    simulator.rolls.seed(7)
    with use_transport(simulator_transport()):
        for _ in range(20):  # the worker reads the reference image from the bucket and sends it upstream
            if worker.advance(generation.pk).countdown is None:
                break
            clock.shift(5)
    generation.refresh_from_db()
    assert generation.status == "completed"

    archived = ArchivedFile.objects.get(generation=generation, variant="video")
    assert f"archive/{archived.name}" in keys(bucket)
    content, _headers = download(api, generation.video_id)
    verification = check(content)
    assert verification.manifest.state == ManifestState.TRUSTED and verification.generation == generation
