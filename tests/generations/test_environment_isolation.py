"""A key reaches its own environment's videos and characters only; a revoked key reaches nothing.

Every operation that names a video or a character is tried with a key of another
environment of the same project and with a key of another project: the video or
character must not exist for them, nothing of theirs is changed, and no answer
carries any of it.
"""

import json

import pytest

from governance.audit.services import Actor
from governance.generations.models import Generation
from governance.projects.models import ApiKey, hash_api_key
from governance.projects.services import revoke_api_key
from tests.factories import NEW, OLD, make_api_key, make_character, make_environment, make_project
from tests.generations.conftest import Api

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    """A completed video and a character of shop's staging, which makes characters."""
    project = make_project("shop")
    staging = make_environment(project, "staging", default_model=NEW, allowed_snapshots=[OLD, NEW])
    api = Api(make_api_key(staging))
    response = api.post(
        "videos",
        {"prompt": "the owner's lighthouse", "model": NEW, "seconds": "4"},
        headers={"Idempotency-Key": "same-key"},
    )
    video = Generation.objects.get(video_id=response.json()["id"])
    Generation.objects.filter(pk=video.pk).update(status=Generation.Status.COMPLETED, upstream_id="video_upstream")
    character = make_character(staging)
    return {"api": api, "video": video.video_id, "character": character.character_id, "project": project}


@pytest.fixture(params=["same project", "other project"])
def outsider(request, owner) -> Api:
    project = owner["project"] if request.param == "same project" else make_project("other")
    return Api(make_api_key(make_environment(project, "development", default_model=NEW, allowed_snapshots=[OLD, NEW])))


def attempts(owner) -> list[tuple[str, str, dict]]:
    video, character = owner["video"], owner["character"]
    return [
        ("get", f"videos/{video}", {}),
        ("get", f"videos/{video}/content", {}),
        ("get", f"videos/{video}/content", {"variant": "thumbnail"}),
        ("get", f"videos/{video}/content", {"variant": "spritesheet"}),
        ("delete", f"videos/{video}", {}),
        ("post", f"videos/{video}/remix", {"prompt": "at night"}),
        ("post", "videos/edits", {"video": {"id": video}, "prompt": "make it snow"}),
        ("post", "videos/extensions", {"video": {"id": video}, "prompt": "longer", "seconds": "4"}),
        ("get", "videos", {"after": video}),
        ("get", f"videos/characters/{character}", {}),
        ("post", "videos", {"prompt": "Mona waves", "model": NEW, "characters": [{"id": character}]}),
    ]


def call(api: Api, method: str, path: str, data: dict):
    if method == "get":
        return api.get(path, data)
    if method == "delete":
        return api.delete(path)
    return api.post(path, data)


def test_another_environments_videos_and_characters_do_not_exist(owner, outsider):
    theirs = set(Generation.objects.values_list("pk", "status", "deleted_at", "upstream_id"))

    for method, path, data in attempts(owner):
        response = call(outsider, method, path, data)
        body = response.content.decode()
        assert response.status_code in (400, 404), f"{method} {path}: {response.status_code} {body}"
        assert json.loads(body)["error"]["code"] in ("video_not_found", "character_not_found", "invalid_value")
        assert "the owner's lighthouse" not in body

    assert theirs <= set(Generation.objects.values_list("pk", "status", "deleted_at", "upstream_id"))
    mine = Generation.objects.filter(api_key__key_hash=hash_api_key(outsider.key))
    assert not mine.exclude(status=Generation.Status.REFUSED).exists()  # every attempt was a logged refusal
    assert owner["video"] not in json.dumps(outsider.get("videos").json())


def test_the_same_idempotency_key_from_another_environment_is_another_request(owner, outsider):
    response = outsider.post(
        "videos", {"prompt": "mine", "model": NEW, "seconds": "4"}, headers={"Idempotency-Key": "same-key"}
    )

    assert response.status_code == 200
    assert response.json()["id"] != owner["video"]


def test_a_revoked_key_reaches_nothing(owner):
    revoke_api_key(api_key=ApiKey.objects.get(environment__name="staging", name="test key"), actor=Actor.system())

    for method, path, data in [*attempts(owner), ("get", "models", {}), ("post", "videos", {"prompt": "x"})]:
        response = call(owner["api"], method, path, data)
        assert response.status_code == 401, f"{method} {path}"
        assert response.json()["error"]["code"] == "invalid_api_key"
