"""With the official openai SDK against a live gateway and a real worker: downloads carry Content Credentials
that c2pa-python's own Reader, in a separate Python process that imports nothing of ours, finds valid."""

import json
import subprocess
import sys

import openai
import pytest
from django.conf import settings

from governance.generations.models import Generation
from governance.simulator.models import SimulatorProfile
from tests.factories import OLD, make_api_key, make_environment, make_project
from tests.generations.test_sdk_end_to_end import wait_until_finished

pytestmark = [pytest.mark.live]

# Runs outside the project: only c2pa-python, the file, and our CA as the trust anchor.
READER = """
import json, sys
import c2pa
path, anchors, mime = sys.argv[1], open(sys.argv[2]).read(), sys.argv[3]
context = c2pa.Context(c2pa.Settings.from_dict({"verify": {"verify_trust": True}, "trust": {"trust_anchors": anchors}}))
with open(path, "rb") as stream, c2pa.Reader(mime, stream, context=context) as reader:
    print(json.dumps({"state": reader.get_validation_state(), "manifest": reader.get_active_manifest()}))
"""


def read_with_c2pa(path, mime: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-I", "-c", READER, str(path), settings.CONTENT_TRUST_ANCHORS_FILE, mime],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def assertion(manifest: dict, label: str) -> dict:
    return next(item["data"] for item in manifest["assertions"] if item["label"] == label)


@pytest.fixture
def production(live_stack):
    SimulatorProfile.objects.create(snapshot=OLD, latency_seconds=1.0, failure_rate=0)
    environment = make_environment(
        make_project("demo"), "production", default_model=OLD, allowed_snapshots=[OLD], alias_requests="refuse"
    )
    return openai.OpenAI(base_url=f"{live_stack.url}/v1", api_key=make_api_key(environment), max_retries=0)


def test_sdk_downloads_carry_a_valid_manifest_naming_snapshot_policy_revision_and_generation(
    production, tmp_path, settings
):
    video = production.videos.create(model=OLD, prompt="a lighthouse at dusk", seconds="4")
    assert wait_until_finished(production, video.id).status == "completed"
    generation = Generation.objects.get(video_id=video.id)

    for variant, mime in (("video", "video/mp4"), ("thumbnail", "image/jpeg")):
        path = tmp_path / f"{variant}.bin"
        production.videos.download_content(video.id, variant=variant).write_to_file(path)
        read = read_with_c2pa(path, mime)
        assert read["state"] == "Trusted"
        facts = assertion(read["manifest"], "org.snapshot-governance.generation")
        assert facts["resolved_snapshot"] == OLD and facts["generation_id"] == video.id
        assert facts["policy_revision"] == generation.policy_revision.number
        actions = assertion(read["manifest"], "c2pa.actions.v2")["actions"]
        assert actions[0]["action"] == "c2pa.created"
        assert actions[0]["digitalSourceType"].endswith("/trainedAlgorithmicMedia")

    remix = production.videos.remix(video.id, prompt="the same lighthouse, at night")
    assert wait_until_finished(production, remix.id).status == "completed"
    path = tmp_path / "remix.mp4"
    production.videos.download_content(remix.id).write_to_file(path)
    read = read_with_c2pa(path, "video/mp4")
    assert read["state"] == "Trusted"
    assert assertion(read["manifest"], "org.snapshot-governance.generation")["source_generation_id"] == video.id
    assert [item["title"].startswith(video.id) for item in read["manifest"]["ingredients"]] == [True]

    # The provider gone: downloads still come from the archive, with their manifests.
    settings.SIMULATOR_BASE_URL = "http://127.0.0.1:9/simulator/v1"
    path = tmp_path / "after.mp4"
    production.videos.download_content(video.id).write_to_file(path)
    assert read_with_c2pa(path, "video/mp4")["state"] == "Trusted"
    with pytest.raises(openai.APIError):  # the spritesheet is not archived: it needed the provider
        production.videos.download_content(video.id, variant="spritesheet")
