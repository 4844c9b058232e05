"""Characters listed with the environment that made them; a derived video's page shows its lineage."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from governance.generations.models import Character, Generation
from governance.projects.models import Role
from tests.dashboard.builders import make_generation
from tests.dashboard.project_fixtures import make_shop
from tests.factories import (
    NEW,
    OLD,
    SAMPLE_MP4,
    make_api_key,
    make_character,
    make_environment,
    make_member,
    make_project,
)
from tests.generations.conftest import Api

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


def made_through_the_api(environment, name: str = "Mona") -> Character:
    """A character uploaded with `POST /v1/videos/characters`, then made upstream as the worker leaves it."""
    clip = SimpleUploadedFile("mona.mp4", SAMPLE_MP4, content_type="video/mp4")
    response = Api(make_api_key(environment)).post("videos/characters", {"name": name, "video": clip}, json=False)
    assert response.status_code == 200, response.content
    character = Character.objects.select_related("generation").get(character_id=response.json()["id"])
    Character.objects.filter(pk=character.pk).update(upstream_id="char_upstream_1")
    Generation.objects.filter(pk=character.generation.pk).update(status="completed", upstream_id="char_upstream_1")
    return Character.objects.select_related("generation").get(pk=character.pk)


def test_a_characters_page_says_what_it_is_and_how_to_use_it_not_a_video(client):
    project = make_project("shop")
    staging = make_environment(project, "staging", default_model=NEW, allowed_snapshots=[NEW])
    character = made_through_the_api(staging, name="Mona")
    client.force_login(make_member(project, Role.DEVELOPER))

    page = client.get(reverse("dashboard:generation_detail", args=[character.generation.video_id])).content.decode()

    assert "<video" not in page and "Download the video" not in page and "/content/" not in page
    section = page.split('id="character-heading"')[1].split("</section>")[0]
    assert "<dt>Name</dt><dd>Mona</dd>" in section
    assert f"<code>{character.character_id}</code>" in section
    assert "Shop / Staging" in section
    assert f"<code>{NEW}</code>" in section
    assert len(character.video_sha256) == 64 and f"<code>{character.video_sha256}</code>" in section
    assert f'characters=[{{"id": "{character.character_id}"}}]' in section


def test_a_character_has_no_content_to_download(client):
    project = make_project("shop")
    staging = make_environment(project, "staging", default_model=NEW, allowed_snapshots=[NEW])
    character = made_through_the_api(staging)
    client.force_login(make_member(project, Role.VIEWER))

    for variant in ("video", "thumbnail"):
        url = reverse("dashboard:generation_content", args=[character.generation.video_id, variant])
        assert client.get(url).status_code == 404
