import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from governance.projects.models import AUDITOR_GROUP
from tests.dashboard.builders import make_generation
from tests.factories import make_environment, make_member, make_project, make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        reverse("dashboard:overview"),
        reverse("dashboard:generation_list"),
        reverse("dashboard:generation_detail", args=["video_anything"]),
    ],
)
def test_anonymous_visitors_are_sent_to_login(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.fixture
def two_projects():
    alpha, beta = make_project("alpha"), make_project("beta")
    alpha_generation = make_generation(make_environment(alpha), prompt="alpha's secret prompt")
    beta_generation = make_generation(make_environment(beta), prompt="beta's secret prompt")
    return alpha, beta, alpha_generation, beta_generation


def test_members_see_only_their_projects_everywhere(client, two_projects):
    alpha, beta, alpha_generation, beta_generation = two_projects
    client.force_login(make_member(alpha))

    overview = client.get(reverse("dashboard:overview")).content.decode()
    log = client.get(reverse("dashboard:generation_list")).content.decode()

    assert "alpha" in overview and "beta" not in overview
    assert "alpha&#x27;s secret prompt" in log
    assert "beta&#x27;s secret prompt" not in log
    assert beta_generation.video_id not in log


def test_a_member_gets_404_for_another_projects_generation(client, two_projects):
    alpha, beta, alpha_generation, beta_generation = two_projects
    client.force_login(make_member(alpha))

    assert client.get(reverse("dashboard:generation_detail", args=[alpha_generation.video_id])).status_code == 200
    assert client.get(reverse("dashboard:generation_detail", args=[beta_generation.video_id])).status_code == 404


def test_a_member_cannot_filter_the_log_to_another_project(client, two_projects):
    alpha, beta, alpha_generation, beta_generation = two_projects
    client.force_login(make_member(alpha))

    page = client.get(reverse("dashboard:generation_list"), {"project": "beta"}).content.decode()

    assert "Select a valid choice" in page
    assert beta_generation.video_id not in page
    assert alpha_generation.video_id not in page


def test_a_user_without_projects_sees_none(client, two_projects):
    client.force_login(make_user())

    overview = client.get(reverse("dashboard:overview")).content.decode()
    log = client.get(reverse("dashboard:generation_list")).content.decode()

    assert "not a member of any project" in overview
    assert "No generations to show: you are not a member of any project yet." in log


def test_site_wide_auditors_see_every_project(client, two_projects):
    alpha, beta, alpha_generation, beta_generation = two_projects
    auditor = make_user()
    auditor.groups.add(Group.objects.get_or_create(name=AUDITOR_GROUP)[0])
    client.force_login(auditor)

    overview = client.get(reverse("dashboard:overview")).content.decode()
    log = client.get(reverse("dashboard:generation_list")).content.decode()

    assert "alpha" in overview and "beta" in overview
    assert alpha_generation.video_id in log and beta_generation.video_id in log
    assert client.get(reverse("dashboard:generation_detail", args=[beta_generation.video_id])).status_code == 200


def test_superusers_see_every_project(client, two_projects):
    alpha, beta, alpha_generation, beta_generation = two_projects
    client.force_login(make_user(is_superuser=True))

    overview = client.get(reverse("dashboard:overview")).content.decode()

    assert "alpha" in overview and "beta" in overview
    assert client.get(reverse("dashboard:generation_detail", args=[beta_generation.video_id])).status_code == 200
