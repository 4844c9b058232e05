"""Retrieve, list, delete and models: a key sees its own environment only."""

import pytest

from governance.generations.models import Generation
from tests.factories import NEW, OLD, make_api_key, make_environment
from tests.generations.conftest import Api

pytestmark = pytest.mark.django_db


def create(api, **extra) -> str:
    response = api.post("videos", {"prompt": "a cat", "model": OLD, **extra})
    assert response.status_code == 200, response.content
    return response.json()["id"]


def test_retrieve_returns_the_video_object_with_governance_headers(api):
    video_id = create(api)
    response = api.get(f"videos/{video_id}")
    assert response.status_code == 200
    assert response.json()["id"] == video_id and response.json()["model"] == OLD
    assert response["X-Governance-Resolved-Model"] == OLD


def test_another_environments_video_is_a_404(api, project):
    staging = make_environment(project, "staging", default_model=OLD, allowed_snapshots=[OLD])
    video_id = create(Api(make_api_key(staging)))
    response = api.get(f"videos/{video_id}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "video_not_found"


def test_list_pages_newest_first_with_after_and_has_more(api):
    ids = [create(api) for _ in range(5)]
    first = api.get("videos", {"limit": 2}).json()
    assert [video["id"] for video in first["data"]] == ids[::-1][:2]
    assert first["has_more"] is True and first["last_id"] == ids[3]
    rest = api.get("videos", {"limit": 10, "after": first["last_id"]}).json()
    assert [video["id"] for video in rest["data"]] == ids[::-1][2:]
    assert rest["has_more"] is False


def test_list_in_ascending_order(api):
    ids = [create(api) for _ in range(3)]
    assert [video["id"] for video in api.get("videos", {"order": "asc"}).json()["data"]] == ids


def test_list_leaves_out_refused_requests_and_other_environments(api, project):
    create(api)
    api.post("videos", {"prompt": "a", "model": "sora-2"})
    staging = make_environment(project, "staging", default_model=OLD, allowed_snapshots=[OLD])
    create(Api(make_api_key(staging)))
    assert len(api.get("videos").json()["data"]) == 1


@pytest.mark.parametrize(
    "params, param",
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"order": "up"}, "order"),
        ({"after": "video_nope"}, "after"),
    ],
)
def test_bad_list_parameters_are_a_400(api, params, param):
    response = api.get("videos", params)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_delete_hides_the_video_but_keeps_the_log_row(api):
    video_id = create(api)
    response = api.delete(f"videos/{video_id}")
    assert response.json() == {"id": video_id, "object": "video.deleted", "deleted": True}
    assert api.get(f"videos/{video_id}").status_code == 404
    assert Generation.objects.get(video_id=video_id).deleted_at is not None


def test_content_of_an_unfinished_video_is_refused_clearly(api):
    video_id = create(api)
    response = api.get(f"videos/{video_id}/content")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "video_not_ready"


def test_content_variant_must_be_known(api):
    video_id = create(api)
    assert api.get(f"videos/{video_id}/content", {"variant": "poster"}).json()["error"]["param"] == "variant"


def test_models_lists_what_production_may_ask_for(api):
    models = api.get("models").json()
    assert models["object"] == "list"
    assert [model["id"] for model in models["data"]] == [OLD]
    assert set(models["data"][0]) == {"id", "object", "created", "owned_by", "shutdown_date"}


def test_models_include_the_alias_where_it_resolves(dev_api):
    ids = [model["id"] for model in dev_api.get("models").json()["data"]]
    assert ids == [OLD, NEW, "sora-2"]


def test_a_wrong_method_is_a_405_in_openai_shape(api):
    response = api.client.put("/v1/videos", HTTP_AUTHORIZATION=f"Bearer {api.key}")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response["Allow"] == "GET, POST"


@pytest.mark.parametrize("path", ["/v1/", "/v1/nothing", "/v1/videos/x/y/z"])
def test_an_unknown_url_is_an_openai_shaped_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_url"


@pytest.mark.parametrize(
    "path",
    ["videos/abc%00def", "videos/abc%00def/content", "videos/%01/remix", "videos/a%0Ab", "videos/%0D%0A/content"],
)
def test_an_id_with_control_characters_is_a_404_not_an_error(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_url"


def test_a_list_cursor_with_a_nul_is_a_clear_400(api):
    response = api.get("videos", {"after": "video_\x00"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "after"
