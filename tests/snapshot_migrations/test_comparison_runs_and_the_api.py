"""A plan's comparison runs are its archived evidence, not the environment's videos: no API key reaches them."""

import pytest

from governance.generations.models import Generation
from governance.snapshot_migrations import services
from tests.factories import OLD, make_api_key
from tests.generations.conftest import Api


@pytest.fixture
def api(production) -> Api:
    return Api(make_api_key(production))


@pytest.fixture
def comparison_run(plan, people) -> Generation:
    pair = services.run_comparison(plan=plan, user=people["developer"])[0]
    return pair.baseline


def not_found(response, video_id: str) -> bool:
    """The answer to an id the environment has never had, in OpenAI's error shape."""
    return response.status_code == 404 and response.json() == {
        "error": {
            "message": f"No video '{video_id}' in this environment.",
            "type": "invalid_request_error",
            "param": "video_id",
            "code": "video_not_found",
        }
    }


def test_the_environments_keys_do_not_list_its_comparison_runs(api, comparison_run):
    own = api.post("videos", {"prompt": "a cat", "model": OLD}).json()["id"]

    listed = api.get("videos").json()

    assert [video["id"] for video in listed["data"]] == [own]
    assert comparison_run.environment_id == Generation.objects.get(video_id=own).environment_id


def test_a_comparison_run_is_an_unknown_video_to_retrieve_download_and_remix(api, comparison_run):
    video_id = comparison_run.video_id

    assert not_found(api.get(f"videos/{video_id}"), video_id)
    assert not_found(api.get(f"videos/{video_id}/content"), video_id)
    assert not_found(api.post(f"videos/{video_id}/remix", {"prompt": "now at night"}), video_id)


def test_no_key_can_delete_a_comparison_run(api, comparison_run):
    video_id = comparison_run.video_id

    assert not_found(api.delete(f"videos/{video_id}"), video_id)

    comparison_run.refresh_from_db()
    assert comparison_run.deleted_at is None
    assert comparison_run.status != Generation.Status.FAILED
