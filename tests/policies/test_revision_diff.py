import pytest
from django.urls import reverse

from governance.projects.models import Role
from tests.dashboard.project_fixtures import Shop, make_shop
from tests.factories import NEW, OLD, revise

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(db) -> Shop:
    return make_shop()


def diff_url(environment="staging"):
    return reverse("policies:revision_diff", args=["shop", environment])


def test_it_shows_field_by_field_before_and_after(client, shop):
    revise(shop.staging, default_model=NEW, allowed_snapshots=[NEW], reason="move to december")
    client.force_login(shop.users[Role.VIEWER])

    page = client.get(diff_url(), {"from": 1, "to": 2}).content.decode()

    assert "Revision 1 → revision 2" in page
    assert "Pinned snapshot or followed alias" in page
    assert f"<del>{OLD}</del>" in page and f"<ins>{NEW}</ins>" in page
    assert f"removed {OLD}" in page
    assert "move to december" in page
    assert "10 other fields unchanged" in page


def test_htmx_gets_only_the_diff_fragment(client, shop):
    revise(shop.staging, max_seconds=8)
    client.force_login(shop.users[Role.VIEWER])

    response = client.get(diff_url(), {"from": 1, "to": 2}, headers={"HX-Request": "true"})

    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert "Longest video" in body and "8 seconds" in body


def test_any_two_revisions_compare_in_either_order(client, shop):
    revise(shop.staging, max_seconds=8)
    revise(shop.staging, max_seconds=12)
    client.force_login(shop.users[Role.VIEWER])

    page = client.get(diff_url(), {"from": 3, "to": 1}).content.decode()

    assert "Revision 1 → revision 3" in page
    assert "12 seconds" in page


def test_the_same_revision_twice_says_so(client, shop):
    client.force_login(shop.users[Role.VIEWER])

    page = client.get(diff_url(), {"from": 1, "to": 1}).content.decode()

    assert "Choose two different revisions" in page


def test_an_unknown_environment_is_not_found(client, shop):
    client.force_login(shop.users[Role.VIEWER])

    assert client.get(diff_url("testing")).status_code == 404
