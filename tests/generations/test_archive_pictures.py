"""The archive reads a video's pictures once: its perceptual hashes, and the thumbnail it makes where the provider
gives none (BytePlus ModelArk here), are those of the files it stores."""

import contextlib
import datetime as dt
import io

import av
import pytest
import time_machine
from PIL import Image

from governance.content_credentials.fingerprints import distance, perceptual_hashes
from governance.generations import worker
from governance.generations.archive import archive_generation, open_archived
from governance.generations.models import ArchivedFile, Generation
from governance.generations.verification import Match, verify_content
from governance.lib.thumbnails import THUMBNAIL_TYPE, THUMBNAIL_WIDTH
from governance.simulator import services as simulator
from governance.simulator.models import SimulatorProfile
from tests.factories import make_api_key, make_environment_on
from tests.generations.conftest import Api
from tests.upstream_transport import simulator_transport, use_transport

pytestmark = pytest.mark.django_db

SNAPSHOT = "seedance-1-5-pro-251215"


@pytest.fixture
def completed(db) -> Generation:
    environment = make_environment_on("byteplus", SNAPSHOT)
    SimulatorProfile.objects.create(snapshot=SNAPSHOT, latency_seconds=4, failure_rate=0)
    simulator.rolls.seed(7)
    api = Api(make_api_key(environment))
    with use_transport(simulator_transport()), time_machine.travel(dt.datetime(2026, 12, 6, 9, tzinfo=dt.UTC)) as clock:
        video_id = api.post("videos", {"prompt": "a lighthouse at dusk", "model": SNAPSHOT, "seconds": "5"}).json()[
            "id"
        ]
        generation = Generation.objects.get(video_id=video_id)
        for _ in range(20):
            if worker.advance(generation.pk).countdown is None:
                break
            clock.shift(5)
    generation.refresh_from_db()
    assert generation.status == "completed"
    return generation


def stored(generation: Generation, variant: str) -> tuple[ArchivedFile, bytes]:
    archived = generation.archived_files.get(variant=variant)
    with open_archived(archived) as file:
        return archived, file.read()


def test_the_videos_hashes_are_those_of_the_stored_signed_file(completed):
    archived, content = stored(completed, "video")
    assert archived.signed and len(archived.perceptual_hashes) > 1
    assert archived.perceptual_hashes == perceptual_hashes(io.BytesIO(content), "video/mp4")


def test_the_thumbnail_made_from_the_video_is_a_webp_hashed_as_its_file_shows(completed):
    archived, content = stored(completed, "thumbnail")
    assert archived.content_type == THUMBNAIL_TYPE and archived.signed and not archived.upstream_manifest
    video = completed.archived_files.get(variant="video")
    with open_archived(video) as file, av.open(file) as container:
        video_width = container.streams.video[0].codec_context.width
    assert Image.open(io.BytesIO(content)).width == min(video_width, THUMBNAIL_WIDTH)
    [recorded] = archived.perceptual_hashes
    [of_the_file] = perceptual_hashes(io.BytesIO(content), THUMBNAIL_TYPE)
    assert distance(recorded, of_the_file) <= 2  # the picture before WebP's compression, and after it


def test_a_screenshot_of_the_made_thumbnail_is_found(completed):
    _, content = stored(completed, "thumbnail")
    screenshot = io.BytesIO()
    Image.open(io.BytesIO(content)).resize((240, 135)).save(screenshot, "PNG")
    result = verify_content(io.BytesIO(screenshot.getvalue()), filename="screenshot.png")
    assert result.match == Match.PERCEPTUAL and result.generation == completed


class OctetStreamLink:
    """A provider whose link serves the video as application/octet-stream, as some buckets do, and no thumbnail."""

    def __init__(self, video: bytes):
        self.video = video

    @contextlib.contextmanager
    def open_media(self, generation, variant, job=None):
        yield (iter([self.video]), "application/octet-stream") if variant == "video" else None


def test_a_video_served_as_octet_stream_still_gets_its_thumbnail(completed):
    _, video = stored(completed, "video")
    archived = {file.variant: file for file in archive_generation(completed, OctetStreamLink(video))}
    assert archived["video"].content_type == "application/octet-stream"
    assert archived["thumbnail"].content_type == THUMBNAIL_TYPE and archived["thumbnail"].perceptual_hashes
    assert archived["video"].perceptual_hashes == perceptual_hashes(io.BytesIO(video), "video/mp4")
