"""Characters: made by a governed request, recorded, usable and visible only in their environment."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from governance.generations.models import Character, Generation
from tests.factories import NEW, OLD, SAMPLE_MP4, make_api_key, make_character, make_environment, make_project
from tests.generations.conftest import Api

EVERY_OPERATION_BUT_CHARACTERS = ["create", "remix", "edit", "extend"]


@pytest.fixture
def project(db):
    return make_project("studio")


@pytest.fixture
def staging(project):
    return make_environment(project, "staging", default_model=NEW, allowed_snapshots=[NEW])


@pytest.fixture
def production(project):
    return make_environment(
        project,
        "production",
        default_model=OLD,
        allowed_snapshots=[OLD],
        allowed_operations=EVERY_OPERATION_BUT_CHARACTERS,
    )


def clip():
    return SimpleUploadedFile("mona.mp4", SAMPLE_MP4, content_type="video/mp4")


def test_a_character_is_made_recorded_and_answered_in_openais_shape(staging):
    api = Api(make_api_key(staging))
    response = api.post("videos/characters", {"name": "Mona", "video": clip()}, json=False)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"id", "name", "created_at"} and body["name"] == "Mona"
    assert response["X-Governance-Resolved-Model"] == NEW and response["X-Governance-Policy-Revision"] == "1"
    character = Character.objects.get(character_id=body["id"])
    assert (character.environment, character.resolved_snapshot, character.name) == (staging, NEW, "Mona")
    assert len(character.video_sha256) == 64
    assert character.generation.operation == "character" and character.generation.status == "queued"
    assert api.get(f"videos/characters/{body['id']}").json() == body
    assert api.get("videos").json()["data"] == []  # a character is not a video


def test_a_character_is_not_found_from_another_environment(staging, production):
    character = make_character(staging)
    production_api = Api(make_api_key(production))

    response = production_api.get(f"videos/characters/{character.character_id}")

    assert response.status_code == 404 and response.json()["error"]["code"] == "character_not_found"


def test_a_video_may_use_only_its_own_environments_characters(project, staging):
    development = make_environment(project, "development", default_model=NEW, allowed_snapshots=[NEW])
    theirs, ours = make_character(staging, name="Mona"), make_character(development, name="Max")
    api = Api(make_api_key(development))

    elsewhere = api.post("videos", {"prompt": "Mona waves", "characters": [{"id": theirs.character_id}]})
    here = api.post("videos", {"prompt": "Max waves", "characters": [{"id": ours.character_id}]})

    assert elsewhere.status_code == 404 and elsewhere.json()["error"]["code"] == "character_not_found"
    assert here.status_code == 200
    refused = Generation.objects.get(status="refused")
    assert refused.error_code == "character_not_found"


def test_a_policy_that_forbids_characters_refuses_and_logs_the_attempt(production):
    api = Api(make_api_key(production))

    response = api.post("videos/characters", {"name": "Max", "video": clip()}, json=False)

    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "operation_not_allowed" and "'character'" in error["message"]
    generation = Generation.objects.get()
    assert (generation.operation, generation.status, generation.parameters["name"]) == ("character", "refused", "Max")
    assert not Character.objects.exists()


def test_a_snapshot_without_characters_refuses_them_by_name(project):
    environment = make_environment(project, "testing", default_model=OLD, allowed_snapshots=[OLD])
    response = Api(make_api_key(environment)).post("videos/characters", {"name": "Max", "video": clip()}, json=False)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "operation_not_supported" and OLD in response.json()["error"]["message"]


def test_a_character_needs_a_name_and_a_video(staging):
    api = Api(make_api_key(staging))
    assert api.post("videos/characters", {"video": clip()}, json=False).json()["error"]["param"] == "name"
    assert api.post("videos/characters", {"name": "Mona"}, json=False).json()["error"]["param"] == "video"
