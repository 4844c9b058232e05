"""Every completed video is archived and signed; verification tells intact, tampered, stripped and unknown apart.

The upstream is our simulator, reached in-process as in test_worker; the worker's steps run here.
"""

import datetime as dt
import io
import json

import av
import httpx
import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from PIL import Image

from governance.content_credentials.identity import trust_anchors
from governance.content_credentials.reading import ManifestState, read_manifest
from governance.content_credentials.signing import TRAINED_ALGORITHMIC_MEDIA
from governance.generations import worker
from governance.generations.archive import archive_storage
from governance.generations.models import ArchivedFile, Generation
from governance.generations.retention import apply_retention
from governance.generations.verification import Match, verify_content
from governance.simulator import services as simulator
from governance.simulator.models import SimulatorProfile
from governance.simulator.rendering import render
from tests.factories import OLD, SAMPLE_MP4, make_character
from tests.upstream_transport import simulator_transport, use_transport

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
PROMPT = "a lighthouse at dusk"


@pytest.fixture(autouse=True)
def simulator_in_process():
    simulator.rolls.seed(7)
    with use_transport(simulator_transport()):
        yield


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def run_worker(video_id: str, clock) -> Generation:
    generation = Generation.objects.get(video_id=video_id)
    for _ in range(20):
        if worker.advance(generation.pk).countdown is None:
            break
        clock.shift(5)
    return Generation.objects.get(pk=generation.pk)


@pytest.fixture
def completed(api, clock, production):
    SimulatorProfile.objects.create(snapshot=OLD, latency_seconds=4, failure_rate=0)
    video_id = api.post("videos", {"prompt": PROMPT, "model": OLD, "seconds": "4"}).json()["id"]
    generation = run_worker(video_id, clock)
    assert generation.status == "completed"
    return generation


def download(api, video_id: str, variant: str = "video") -> tuple[bytes, dict]:
    response = api.get(f"videos/{video_id}/content", {"variant": variant})
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content), response.headers


def check(content: bytes, name: str = "upload"):
    return verify_content(io.BytesIO(content), filename=name)


def reencode(content: bytes, *, scale: int = 2, crf: str = "35") -> bytes:
    output = io.BytesIO()
    with av.open(io.BytesIO(content)) as source, av.open(output, "w", format="mp4") as target:
        frames = [frame.to_image() for frame in source.decode(video=0)]
        stream = target.add_stream("libx264", rate=8, options={"crf": crf, "preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = frames[0].width * scale, frames[0].height * scale, "yuv420p"
        for image in frames:
            resized = image.resize((stream.width, stream.height))
            for _ in range(4):  # 2 fps becomes 8 fps
                target.mux(stream.encode(av.VideoFrame.from_image(resized)))
        target.mux(stream.encode())
    return output.getvalue()


def remux(content: bytes) -> bytes:
    """The same H.264 frames in a new container: what a tool that drops unknown boxes does to the manifest."""
    output = io.BytesIO()
    with av.open(io.BytesIO(content)) as source, av.open(output, "w", format="mp4") as target:
        stream = target.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                target.mux(packet)
    return output.getvalue()


def test_a_completed_video_downloads_from_the_archive_with_a_trusted_manifest_naming_the_governance_facts(
    api, completed
):
    content, headers = download(api, completed.video_id)
    archived = ArchivedFile.objects.get(generation=completed, variant="video")
    assert content[4:8] == b"ftyp" and archived.signed and archived.size == len(content)
    assert headers["X-Governance-Content-SHA256"] == archived.sha256
    assert archived.certificate_fingerprint in headers["X-Governance-Content-Credentials"]

    manifest = read_manifest(io.BytesIO(content), "video/mp4", trust_anchors=trust_anchors())
    assert manifest.state == ManifestState.TRUSTED
    assert manifest.digital_source_types == [TRAINED_ALGORITHMIC_MEDIA]
    facts = manifest.facts
    assert facts["generation_id"] == completed.video_id
    assert facts["resolved_snapshot"] == OLD and facts["requested_model"] == OLD
    assert facts["policy_revision"] == completed.policy_revision.number
    assert (facts["project"], facts["environment"], facts["provider"]) == ("shop", "production", "simulator")
    assert facts["prompt_sha256"] == completed.prompt_sha256 and "prompt" not in facts
    assert [entry["status"] for entry in completed.timeline][-2:] == ["archived", "completed"]


def test_the_thumbnail_is_archived_and_signed_too(api, completed):
    content, _ = download(api, completed.video_id, "thumbnail")
    assert content[:2] == b"\xff\xd8"
    manifest = read_manifest(io.BytesIO(content), "image/jpeg", trust_anchors=trust_anchors())
    assert manifest.state == ManifestState.TRUSTED and manifest.facts["generation_id"] == completed.video_id


def test_verifying_a_delivered_file_finds_its_generation_and_agrees_with_the_log(api, completed):
    result = check(download(api, completed.video_id)[0])
    assert result.manifest.state == ManifestState.TRUSTED
    assert result.match == Match.MANIFEST and result.generation == completed and result.disagreements == []
    assert "matches generation" in result.verdict


def test_a_flipped_byte_is_reported_as_tampering(api, completed):
    content = bytearray(download(api, completed.video_id)[0])
    content[len(content) // 2] ^= 0x01
    result = check(bytes(content))
    assert result.manifest.state == ManifestState.TAMPERED and result.tampered
    assert result.verdict.startswith("Tampering")
    assert result.generation == completed  # the manifest still names it


def test_a_stripped_manifest_is_reported_unsigned_and_the_fingerprint_finds_the_generation(api, completed):
    result = check(remux(download(api, completed.video_id)[0]))
    assert result.manifest.state == ManifestState.ABSENT
    assert result.match == Match.PERCEPTUAL and result.generation == completed and result.perceptual_distance == 0
    assert "No Content Credentials" in result.verdict


def test_the_providers_original_bytes_are_found_by_their_exact_sha256(completed):
    original = render(snapshot=OLD, prompt=PROMPT, seed=0, size=completed.size, seconds=4).video
    result = check(original)
    assert result.manifest.state == ManifestState.ABSENT
    assert (result.match, result.generation) == (Match.EXACT, completed)


def test_a_reencoded_video_is_found_by_its_perceptual_fingerprint(api, completed):
    result = check(reencode(download(api, completed.video_id)[0]))
    assert result.manifest.state == ManifestState.ABSENT
    assert result.match == Match.PERCEPTUAL and result.generation == completed


def test_a_screenshot_of_the_thumbnail_is_found(api, completed):
    image = Image.open(io.BytesIO(download(api, completed.video_id, "thumbnail")[0])).resize((144, 256))
    screenshot = io.BytesIO()
    image.save(screenshot, "PNG")
    result = check(screenshot.getvalue(), "screenshot.png")
    assert result.content_type == "image/png" and result.manifest.state == ManifestState.ABSENT
    assert result.match == Match.PERCEPTUAL and result.generation == completed


def test_a_video_we_never_made_is_said_to_match_nothing(completed):
    stranger = render(snapshot=OLD, prompt="a completely different scene", seed=3, size="720x1280", seconds=4).video
    result = check(stranger)
    assert (result.manifest.state, result.match, result.generation) == (ManifestState.ABSENT, Match.NONE, None)
    assert "no generation in our log matches it" in result.verdict


def test_a_file_of_a_type_that_cannot_carry_credentials_is_said_to_have_none_not_broken_ones(completed):
    result = check(b"\x9a\x13 not a picture nor a video " * 100, "random.bin")

    assert (result.manifest.state, result.match, result.generation) == (ManifestState.ABSENT, Match.NONE, None)
    assert result.verdict.startswith("No Content Credentials, and no generation in our log matches it")
    assert result.manifest.error == "A application/octet-stream file cannot carry a C2PA manifest."


def test_a_remix_names_its_source_as_an_ingredient(api, completed, clock):
    remix_id = api.post(f"videos/{completed.video_id}/remix", {"prompt": "the same, at night"}).json()["id"]
    remix = run_worker(remix_id, clock)
    assert remix.status == "completed"
    for variant, content_type in (("video", "video/mp4"), ("thumbnail", "image/jpeg")):
        manifest = read_manifest(
            io.BytesIO(download(api, remix_id, variant)[0]), content_type, trust_anchors=trust_anchors()
        )
        assert manifest.state == ManifestState.TRUSTED
        assert manifest.facts["source_generation_id"] == completed.video_id
        assert [(item["title"].split("-")[0], item["relationship"]) for item in manifest.ingredients] == [
            (completed.video_id, "inputTo")
        ]
        assert manifest.ingredients[0]["manifest"]  # the source's own manifest travels with it


def test_an_edit_of_an_uploaded_file_names_the_upload_as_its_ingredient(api, clock):
    SimulatorProfile.objects.create(snapshot=OLD, latency_seconds=4, failure_rate=0)
    upload = SimpleUploadedFile("holiday.mp4", SAMPLE_MP4, content_type="video/mp4")
    edit_id = api.post("videos/edits", {"prompt": "add snow", "video": upload}, json=False).json()["id"]
    edit = run_worker(edit_id, clock)
    assert edit.status == "completed" and edit.remixed_from is None  # not a file we made

    manifest = read_manifest(io.BytesIO(download(api, edit_id)[0]), "video/mp4", trust_anchors=trust_anchors())

    assert manifest.state == ManifestState.TRUSTED
    assert [(item["title"], item["relationship"]) for item in manifest.ingredients] == [("holiday.mp4", "inputTo")]


def test_an_environment_can_switch_signing_off_and_the_log_says_so(api, production, clock):
    production.sign_content = False
    production.save()
    SimulatorProfile.objects.create(snapshot=OLD, latency_seconds=4, failure_rate=0)
    video_id = api.post("videos", {"prompt": PROMPT, "model": OLD, "seconds": "4"}).json()["id"]
    run_worker(video_id, clock)
    content, headers = download(api, video_id)
    archived = ArchivedFile.objects.get(generation__video_id=video_id, variant="video")
    assert not archived.signed and archived.unsigned_reason == "signing is off for this environment"
    assert headers["X-Governance-Content-Credentials"] == "unsigned"
    assert read_manifest(io.BytesIO(content), "video/mp4").state == ManifestState.ABSENT
    assert check(content).match == Match.EXACT


def test_the_prompt_goes_into_the_manifest_only_where_the_environment_allows_it(api, production, clock):
    production.prompt_in_credentials = True
    production.save()
    SimulatorProfile.objects.create(snapshot=OLD, latency_seconds=4, failure_rate=0)
    video_id = api.post("videos", {"prompt": PROMPT, "model": OLD, "seconds": "4"}).json()["id"]
    run_worker(video_id, clock)
    manifest = read_manifest(io.BytesIO(download(api, video_id)[0]), "video/mp4")
    assert manifest.facts["prompt"] == PROMPT


def test_with_the_provider_gone_every_completed_video_still_downloads_with_its_manifest(api, completed):
    def provider_gone(request):
        raise httpx.ConnectError("connection refused", request=request)

    with use_transport(httpx.MockTransport(provider_gone)):
        for variant in ("video", "thumbnail"):
            content, _ = download(api, completed.video_id, variant)
            assert check(content).manifest.state == ManifestState.TRUSTED


def test_deleting_a_video_through_the_api_deletes_its_archived_files(
    api, completed, django_capture_on_commit_callbacks
):
    names = list(completed.archived_files.values_list("name", flat=True))
    assert len(names) == 2 and all(archive_storage().exists(name) for name in names)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"videos/{completed.video_id}").status_code == 200
    assert not ArchivedFile.objects.filter(generation=completed).exists()
    assert not any(archive_storage().exists(name) for name in names)


def test_retention_deletes_archived_files_with_their_rows(completed, django_capture_on_commit_callbacks, clock):
    names = list(completed.archived_files.values_list("name", flat=True))
    clock.shift(dt.timedelta(days=31))
    with django_capture_on_commit_callbacks(execute=True):
        assert apply_retention(days=30) == 1
    assert not ArchivedFile.objects.exists()
    assert not any(archive_storage().exists(name) for name in names)


def test_verify_content_command_reports_tampering_and_exits_1(api, completed, tmp_path, capsys):
    content = bytearray(download(api, completed.video_id)[0])
    content[len(content) // 2] ^= 0x01
    path = tmp_path / "tampered.mp4"
    path.write_bytes(bytes(content))
    with pytest.raises(SystemExit) as exit_code:
        call_command("verify_content", str(path), "--json")
    assert exit_code.value.code == 1
    result = json.loads(capsys.readouterr().out)
    assert result["manifest"] == "tampered" and result["generation"]["id"] == completed.video_id


def test_verify_content_command_prints_the_facts_of_an_intact_file(api, completed, tmp_path, capsys):
    path = tmp_path / "video.mp4"
    path.write_bytes(download(api, completed.video_id)[0])
    call_command("verify_content", str(path))
    out = capsys.readouterr().out
    assert "Manifest: trusted" in out and f"resolved_snapshot: {OLD}" in out and completed.video_id in out


def test_generations_completed_before_the_archive_existed_are_archived_by_the_command(completed, capsys):
    ArchivedFile.objects.all().delete()
    call_command("archive_generations")
    assert "Archived 1 generations" in capsys.readouterr().out
    assert sorted(completed.archived_files.values_list("variant", flat=True)) == ["thumbnail", "video"]
    call_command("archive_generations")
    assert "Archived 0 generations" in capsys.readouterr().out


def test_the_archive_command_skips_characters_which_have_no_video_to_fetch(completed, capsys):
    character = make_character(completed.environment, upstream_id="char_upstream")
    Generation.objects.filter(pk=character.generation_id).update(upstream_id="char_upstream")  # as the worker does
    ArchivedFile.objects.all().delete()

    call_command("archive_generations")

    captured = capsys.readouterr()
    assert "Archived 1 generations; 0 could not be fetched" in captured.out
    assert character.generation.video_id not in captured.err
