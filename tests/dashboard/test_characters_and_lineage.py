"""Characters listed with the environment that made them; a derived video's page shows its lineage."""

import pytest
from django.urls import reverse

from governance.projects.models import Role
from tests.dashboard.builders import make_generation
from tests.dashboard.project_fixtures import make_shop
from tests.factories import NEW, OLD, make_character, make_environment, make_member, make_project

pytestmark = pytest.mark.django_db


def test_a_character_is_listed_under_its_own_environment_only(client):
    shop = make_shop()
    make_character(shop.staging, name="Mona")
    client.force_login(shop.users[Role.VIEWER])

    page = client.get(reverse("dashboard:project_detail", args=["shop"])).content.decode()

    staging_card = page.split('id="environment-staging"')[1].split("</article>")[0]
    production_card = page.split('id="environment-production"')[1].split("</article>")[0]
    assert "Mona" in staging_card and NEW in staging_card
    assert "Mona" not in production_card and "No characters yet" in production_card


def test_another_projects_members_never_see_the_character(client):
    shop = make_shop()
    make_character(shop.staging, name="Mona")
    other = make_project("other")
    make_environment(other, "staging")
    client.force_login(make_member(other, Role.ADMIN))

    assert client.get(reverse("dashboard:project_detail", args=["shop"])).status_code in (403, 404)
    assert "Mona" not in client.get(reverse("dashboard:project_detail", args=["other"])).content.decode()


def test_a_generation_page_shows_the_chain_with_each_links_snapshot_and_revision(client):
    shop = make_shop()
    original = make_generation(shop.staging, resolved_snapshot=OLD)
    remix = make_generation(shop.staging, operation="remix", remixed_from=original, resolved_snapshot=OLD)
    extension = make_generation(shop.staging, operation="extend", remixed_from=remix, resolved_snapshot=NEW)
    client.force_login(shop.users[Role.VIEWER])

    page = client.get(reverse("dashboard:generation_detail", args=[remix.video_id])).content.decode()

    lineage = page.split('id="lineage-heading"')[1].split("</section>")[0]
    assert lineage.index(original.video_id) < lineage.index(remix.video_id) < lineage.index(extension.video_id)
    assert OLD in lineage and NEW in lineage and "Extension" in lineage
    assert "Remixed from" in page
