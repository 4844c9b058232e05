"""Every call of the official SDK's `videos` resource, unchanged, against a live gateway and a real worker.

The environments are the demo's: development follows `sora-2` (both Sora snapshots),
staging is pinned to 2025-12-08 (which makes characters), production is pinned to
2025-10-06 and its policy forbids characters.
"""

import time

import httpx
import openai
import pytest
from openai.types import Video

from governance.catalog.models import Provider
from governance.catalog.services import load_pack, read_pack
from governance.generations.models import Character, Generation
from governance.policies.services import revise_policy
from governance.simulator.models import SimulatedCharacter, SimulatedVideo, SimulatorProfile
from tests.factories import (
    NEW,
    OLD,
    SAMPLE_MP4,
    SYSTEM,
    make_api_key,
    make_environment,
    make_project,
    png_image,
    revise,
)

pytestmark = [pytest.mark.live]
LUMEN = "lumen-1-2026-06-01"
EVERY_OPERATION_BUT_CHARACTERS = ["create", "remix", "edit", "extend"]


class Stack:
    def __init__(self, url: str):
        self.url = url
        project = make_project("demo")
        self.production = make_environment(
            project,
            "production",
            default_model=OLD,
            allowed_snapshots=[OLD],
            alias_requests="refuse",
            allowed_operations=EVERY_OPERATION_BUT_CHARACTERS,
        )
        self.staging = make_environment(project, "staging", default_model=NEW, allowed_snapshots=[NEW])
        self.development = make_environment(
            project, "development", default_model="sora-2", allowed_snapshots=[OLD, NEW], alias_requests="follow"
        )
        self.keys = {name: make_api_key(getattr(self, name)) for name in ("production", "staging", "development")}

    def client(self, name: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=self.keys[name], max_retries=0)

    def raw(self, name: str) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/v1", headers={"Authorization": f"Bearer {self.keys[name]}"})


@pytest.fixture
def stack(live_stack):
    for snapshot in (OLD, NEW, LUMEN):
        SimulatorProfile.objects.create(snapshot=snapshot, latency_seconds=0.5, failure_rate=0)
    return Stack(live_stack.url)


def derive(client: openai.OpenAI, path: str, source_id: str, headers: dict | None = None, **body) -> Video:
    """Edit or extend a video by id: the SDK's helpers only upload files, so this is the SDK's own generic POST."""
    return client.post(
        f"/videos/{path}",
        body={**body, "video": {"id": source_id}},
        cast_to=Video,
        options={"headers": headers or {}},
    )


def finished(client, video_id, timeout=45):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        video = client.videos.retrieve(video_id)
        if video.status in ("completed", "failed"):
            return video
        time.sleep(0.2)
    raise AssertionError(f"{video_id} still {video.status} after {timeout}s")


def test_create_json_and_multipart_poll_list_download_and_delete(stack):
    production = stack.client("production")
    made = production.videos.create_and_poll(model=OLD, prompt="a lighthouse", seconds="4", poll_interval_ms=200)
    assert made.status == "completed" and made.model == OLD

    reference = png_image(720, 1280)
    with_image = production.videos.create(
        model=OLD, prompt="the same lighthouse", input_reference=("ref.png", reference, "image/png")
    )
    assert finished(production, with_image.id).status == "completed"
    generation = Generation.objects.get(video_id=with_image.id)
    assert generation.parameters["input_reference"]["dimensions"] == "720x1280"
    assert len(generation.input_reference_sha256) == 64

    assert {video.id for video in production.videos.list()} == {made.id, with_image.id}
    assert production.videos.download_content(made.id).content[4:8] == b"ftyp"
    assert production.videos.download_content(made.id, variant="thumbnail").content[:2] == b"\xff\xd8"
    assert production.videos.download_content(made.id, variant="spritesheet").content[:2] == b"\xff\xd8"
    assert production.videos.delete(made.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        production.videos.retrieve(made.id)


def test_a_reference_image_of_another_size_is_refused_before_anything_is_stored(stack):
    production = stack.client("production")
    with pytest.raises(openai.BadRequestError) as refused:
        production.videos.create(
            model=OLD, prompt="a cat", size="720x1280", input_reference=("ref.png", png_image(64, 64), "image/png")
        )
    assert refused.value.param == "input_reference" and "must match the requested size" in refused.value.message
    assert not SimulatedVideo.objects.exists()


def test_remix_edit_and_extension_form_a_chain_each_link_governed_and_recorded(stack):
    production = stack.client("production")
    original = production.videos.create_and_poll(model=OLD, prompt="a red kite", seconds="4", poll_interval_ms=200)

    remix = production.videos.remix(original.id, prompt="a blue kite")
    assert remix.remixed_from_video_id == original.id and remix.model == OLD
    remix = finished(production, remix.id)

    edit = derive(production, "edits", remix.id, prompt="at dusk")
    assert edit.model == OLD and edit.remixed_from_video_id is None
    edit = finished(production, edit.id)
    assert edit.status == "completed"

    extension = derive(production, "extensions", edit.id, prompt="the kite lands", seconds="8")
    assert extension.seconds == "12"  # the stitched total: 4 s of source and 8 s more
    extension = finished(production, extension.id)
    assert extension.status == "completed" and extension.seconds == "12"
    upstream = SimulatedVideo.objects.get(video_id=Generation.objects.get(video_id=extension.id).upstream_id)
    assert upstream.operation == "extend" and upstream.seconds == 12

    chain = [Generation.objects.get(video_id=video_id) for video_id in (remix.id, edit.id, extension.id)]
    sources = [link.remixed_from.video_id for link in chain]
    assert sources == [original.id, remix.id, edit.id]
    for link in chain:
        assert link.resolved_snapshot == OLD and link.policy_revision_id is not None
        assert link.parameters["source"]["snapshot"] == OLD
    assert [link.operation for link in chain] == ["remix", "edit", "extend"]


def test_edit_and_extend_take_an_uploaded_source_video(stack):
    development = stack.client("development")
    edit = development.videos.edit(video=("clip.mp4", SAMPLE_MP4, "video/mp4"), prompt="make it snow")
    assert edit.model == NEW  # development follows sora-2 today
    assert finished(development, edit.id).status == "completed"
    generation = Generation.objects.get(video_id=edit.id)
    assert generation.parameters["video"]["content_type"] == "video/mp4"
    assert len(generation.source_video_sha256) == 64

    extension = development.videos.extend(video=("clip.mp4", SAMPLE_MP4, "video/mp4"), prompt="longer", seconds="4")
    assert extension.seconds == "6"  # the 2 s sample plus 4 s
    assert finished(development, extension.id).status == "completed"


def test_an_uploaded_copy_of_our_own_video_is_recorded_as_its_source(stack):
    """The SDK's edit helper uploads the file; the log still names its source, in this environment only."""
    production, development = stack.client("production"), stack.client("development")
    original = production.videos.create_and_poll(model=OLD, prompt="a dune", seconds="4", poll_interval_ms=200)
    downloaded = production.videos.download_content(original.id).content

    edit = production.videos.edit(video=("mine.mp4", downloaded, "video/mp4"), prompt="windy")
    elsewhere = development.videos.edit(video=("theirs.mp4", downloaded, "video/mp4"), prompt="windy")

    recorded = Generation.objects.get(video_id=edit.id)
    assert recorded.remixed_from.video_id == original.id
    assert recorded.parameters["source"] == {
        "video_id": original.id,
        "operation": "create",
        "snapshot": OLD,
        "policy_revision": 1,
    }
    assert Generation.objects.get(video_id=elsewhere.id).remixed_from is None
    assert finished(production, edit.id).status == "completed"


def test_the_api_also_takes_the_source_by_id_as_json(stack):
    production = stack.client("production")
    original = production.videos.create_and_poll(model=OLD, prompt="a dune", seconds="4", poll_interval_ms=200)
    with stack.raw("production") as raw:
        edit = raw.post("/videos/edits", json={"prompt": "windy", "video": {"id": original.id}})
        extension = raw.post("/videos/extensions", json={"prompt": "on", "video": {"id": original.id}, "seconds": 4})
    assert edit.status_code == 200 and edit.json()["model"] == OLD
    assert edit.headers["X-Governance-Resolved-Model"] == OLD and edit.headers["X-Governance-Policy-Revision"] == "1"
    assert extension.status_code == 200 and extension.json()["seconds"] == "8"


def test_an_edit_of_a_video_from_a_snapshot_no_longer_allowed_follows_todays_policy(stack):
    development = stack.client("development")
    original = development.videos.create_and_poll(model=OLD, prompt="a fox", seconds="4", poll_interval_ms=200)
    revise(stack.development, default_model=NEW, allowed_snapshots=[NEW], reason="only the new snapshot now")

    edit = derive(development, "edits", original.id, prompt="in the snow")

    assert edit.model == NEW
    generation = Generation.objects.get(video_id=edit.id)
    assert generation.policy_revision.number == 2
    assert generation.parameters["source"] == {
        "video_id": original.id,
        "operation": "create",
        "snapshot": OLD,
        "policy_revision": 1,
    }
    assert f"was made on {OLD}" in generation.timeline[0]["note"]
    with pytest.raises(openai.PermissionDeniedError) as remix:  # a remix stays on its source's snapshot
        development.videos.remix(original.id, prompt="again")
    assert remix.value.code == "model_not_allowed"


def test_a_source_from_another_environment_is_not_found(stack):
    production = stack.client("production")
    original = production.videos.create_and_poll(model=OLD, prompt="a boat", seconds="4", poll_interval_ms=200)
    staging = stack.client("staging")
    with pytest.raises(openai.NotFoundError):
        derive(staging, "edits", original.id, prompt="x")
    with pytest.raises(openai.NotFoundError):
        derive(staging, "extensions", original.id, prompt="x", seconds="4")
    with pytest.raises(openai.NotFoundError):
        staging.videos.remix(original.id, prompt="x")


def test_characters_belong_to_their_environment_and_the_policy_decides_who_may_make_them(stack):
    staging = stack.client("staging")
    character = staging.videos.create_character(name="Mona", video=("mona.mp4", SAMPLE_MP4, "video/mp4"))
    assert character.name == "Mona" and character.id.startswith("char_")
    assert staging.videos.get_character(character.id).name == "Mona"
    recorded = Character.objects.get(character_id=character.id)
    assert recorded.environment == stack.staging and recorded.resolved_snapshot == NEW
    deadline = time.monotonic() + 30
    while not Character.objects.get(pk=recorded.pk).upstream_id and time.monotonic() < deadline:
        time.sleep(0.2)
    assert SimulatedCharacter.objects.filter(character_id=Character.objects.get(pk=recorded.pk).upstream_id).exists()

    video = staging.videos.create(model=NEW, prompt="Mona waves", extra_body={"characters": [{"id": character.id}]})
    assert finished(staging, video.id).status == "completed"
    upstream = SimulatedVideo.objects.get(video_id=Generation.objects.get(video_id=video.id).upstream_id)
    assert upstream.characters == [{"id": recorded.__class__.objects.get(pk=recorded.pk).upstream_id}]

    production = stack.client("production")
    with pytest.raises(openai.NotFoundError):
        production.videos.get_character(character.id)
    with pytest.raises(openai.PermissionDeniedError) as forbidden:
        production.videos.create_character(name="Max", video=("max.mp4", SAMPLE_MP4, "video/mp4"))
    assert forbidden.value.code == "operation_not_allowed" and "characters" in forbidden.value.message
    refused = Generation.objects.get(environment=stack.production, operation="character")
    assert refused.status == "refused" and refused.error_code == "operation_not_allowed"

    development = stack.client("development")
    revise(stack.development, default_model=OLD, reason="back to the older snapshot")
    with pytest.raises(openai.BadRequestError) as unsupported:
        development.videos.create_character(name="Max", video=("max.mp4", SAMPLE_MP4, "video/mp4"))
    assert unsupported.value.code == "operation_not_supported" and OLD in unsupported.value.message


def test_a_retried_edit_with_the_same_idempotency_key_is_the_same_generation(stack):
    production = stack.client("production")
    original = production.videos.create_and_poll(model=OLD, prompt="a tree", seconds="4", poll_interval_ms=200)
    first = production.videos.edit(
        video=("clip.mp4", SAMPLE_MP4, "video/mp4"), prompt="autumn", extra_headers={"Idempotency-Key": "edit-1"}
    )
    again = production.videos.edit(
        video=("clip.mp4", SAMPLE_MP4, "video/mp4"), prompt="autumn", extra_headers={"Idempotency-Key": "edit-1"}
    )
    assert first.id == again.id
    by_id = derive(production, "edits", original.id, headers={"Idempotency-Key": "edit-2"}, prompt="autumn")
    assert (
        derive(production, "edits", original.id, headers={"Idempotency-Key": "edit-2"}, prompt="autumn").id == by_id.id
    )
    with pytest.raises(openai.UnprocessableEntityError):
        derive(production, "edits", original.id, headers={"Idempotency-Key": "edit-2"}, prompt="winter")


def test_a_policy_can_move_an_environment_to_another_provider(stack):
    load_pack(read_pack("simulator-lumen"), actor=SYSTEM)
    lumen = Provider.objects.get(slug="simulator-lumen")
    development = stack.client("development")
    revise_policy(
        environment=stack.development,
        provider=lumen,
        actor=SYSTEM,
        reason="try Lumen",
        default_model=LUMEN,
        allowed_snapshots=[LUMEN],
        alias_requests="refuse",
        canary_snapshot="",
        canary_percent=0,
    )

    video = development.videos.create(prompt="a lantern", seconds="5")
    assert video.model == LUMEN
    assert finished(development, video.id).status == "completed"
    generation = Generation.objects.get(video_id=video.id)
    assert generation.provider == lumen
    upstream = SimulatedVideo.objects.get(video_id=generation.upstream_id)
    assert upstream.model == LUMEN and upstream.seconds == 5  # sent as Lumen's `duration`

    extension = derive(development, "extensions", video.id, prompt="more", seconds="4")
    assert extension.seconds == "9"
    assert finished(development, extension.id).status == "completed"
    with pytest.raises(openai.BadRequestError) as no_edits:
        development.videos.edit(video=("clip.mp4", SAMPLE_MP4, "video/mp4"), prompt="x")
    assert no_edits.value.code == "operation_not_supported"
