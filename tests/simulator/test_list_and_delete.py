import pytest

from tests.simulator.helpers import API, assert_openai_error, create, created_job_count, retrieve

pytestmark = pytest.mark.django_db


@pytest.fixture
def five_videos(client):
    """Ids in creation order."""
    return [create(client, prompt=f"Shot {n}").json()["id"] for n in range(5)]


def listing(client, **params):
    response = client.get(f"{API}/videos", params)
    assert response.status_code == 200, response.content
    return response.json()


def test_it_lists_newest_first_by_default(client, five_videos):
    page = listing(client)

    assert page["object"] == "list"
    assert [video["id"] for video in page["data"]] == five_videos[::-1]
    assert (page["first_id"], page["last_id"], page["has_more"]) == (five_videos[4], five_videos[0], False)


def test_it_pages_with_after_and_limit(client, five_videos):
    first = listing(client, limit=2)
    second = listing(client, limit=2, after=first["last_id"])
    third = listing(client, limit=2, after=second["last_id"])

    pages = [[video["id"] for video in page["data"]] for page in (first, second, third)]
    assert pages == [five_videos[4:2:-1], five_videos[2:0:-1], five_videos[:1]]
    assert [page["has_more"] for page in (first, second, third)] == [True, True, False]


def test_it_lists_oldest_first_with_order_asc(client, five_videos):
    page = listing(client, order="asc", limit=3, after=five_videos[0])

    assert [video["id"] for video in page["data"]] == five_videos[1:4]
    assert page["has_more"] is True


def test_an_empty_list_has_no_cursor(client):
    assert listing(client) == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}


@pytest.mark.parametrize(
    ("params", "param"),
    [({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": "x"}, "limit"), ({"order": "up"}, "order")],
)
def test_it_rejects_bad_list_parameters(client, params, param):
    assert_openai_error(client.get(f"{API}/videos", params), 400, "invalid_value", param)


def test_an_unknown_cursor_is_not_found(client):
    assert_openai_error(client.get(f"{API}/videos", {"after": "video_nope"}), 404, "video_not_found", "after")


def test_delete_hides_the_video_but_still_counts_the_job(client, five_videos):
    response = client.delete(f"{API}/videos/{five_videos[0]}")

    assert response.json() == {"id": five_videos[0], "object": "video.deleted", "deleted": True}
    assert_openai_error(retrieve(client, five_videos[0]), 404, "video_not_found")
    assert five_videos[0] not in [video["id"] for video in listing(client)["data"]]
    assert created_job_count() == 5


def test_deleting_twice_is_not_found(client, five_videos):
    client.delete(f"{API}/videos/{five_videos[0]}")

    assert_openai_error(client.delete(f"{API}/videos/{five_videos[0]}"), 404, "video_not_found")


def test_an_unknown_video_is_not_found(client):
    assert_openai_error(retrieve(client, "video_" + "0" * 32), 404, "video_not_found")
