"""The Project page and the Policy page tell an environment set from a policy file, and drift since."""

import pytest
from django.urls import reverse

from governance.policy_files.services import apply_changes, export_project
from governance.projects.models import Role
from tests.dashboard.project_fixtures import make_shop
from tests.factories import NEW, OLD, revise

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(db):
    return make_shop()


@pytest.fixture
def applied(shop):
    """Staging moved to NEW by a policy file that the shop's admin applied."""
    text = export_project(shop.project)
    start = text.index("  staging:")
    text = text[:start] + text[start:].replace(f"pin: {OLD}", f"pin: {NEW}", 1)
    admin = shop.users[Role.ADMIN]
    return apply_changes(shop.project, text, user=admin, reason="staging on december", file_name="shop.yaml")


def project_page(client, shop) -> str:
    client.force_login(shop.users[Role.VIEWER])
    return client.get(reverse("dashboard:project_detail", args=["shop"])).content.decode()


def policy_page(client, shop) -> str:
    client.force_login(shop.users[Role.ADMIN])
    return client.get(reverse("policies:policy_editor", args=["shop", "staging"])).content.decode()


def test_an_environment_set_from_a_file_says_so_with_the_files_name_and_hash(client, shop, applied):
    revision = applied.outcomes[0].revision

    for page in (project_page(client, shop), policy_page(client, shop)):
        assert "From a policy file" in page
        assert "Drift" not in page
        assert "<code>shop.yaml</code>" in page
        assert f'<code title="{revision.source_sha256}">{revision.source_sha256[:12]}…</code>' in page


def test_a_change_in_the_dashboard_after_the_file_shows_drift(client, shop, applied):
    revise(shop.staging, default_model=OLD, reason="back by hand")

    for page in (project_page(client, shop), policy_page(client, shop)):
        assert "Drift" in page
        assert "Changed outside its policy file: revision 2 was applied from <code>shop.yaml</code>" in page
        assert "then revision 3 (by the system) changed it" in page


def test_environments_no_file_set_show_neither(client, shop):
    page = project_page(client, shop)

    assert "From a policy file" not in page and "Drift" not in page
