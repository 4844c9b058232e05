import pytest
from django.contrib.auth.models import AnonymousUser, Group
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.urls import reverse
from django.views.defaults import permission_denied

from governance.projects.models import AUDITOR_GROUP, Role
from tests.factories import make_member, make_project, make_user

pytestmark = pytest.mark.django_db


def header(client) -> str:
    page = client.get(reverse("dashboard:overview")).content.decode()
    return page[page.index("<header") : page.index("</header>")]


def test_the_header_shows_the_users_role_in_each_project(client):
    user = make_member(make_project("demo"), Role.ADMIN)
    make_member(make_project("shop"), Role.VIEWER, user=user)
    client.force_login(user)

    roles = header(client)

    assert '<span class="role-project">demo:</span> admin' in roles
    assert '<span class="role-project">shop:</span> viewer' in roles


def test_the_header_names_site_wide_powers(client):
    auditor = make_user()
    auditor.groups.add(Group.objects.get_or_create(name=AUDITOR_GROUP)[0])
    client.force_login(auditor)

    assert "auditor, all projects" in header(client)


def test_many_projects_fold_into_a_menu(client):
    user = make_user()
    for index in range(6):
        make_member(make_project(f"p{index}"), Role.VIEWER, user=user)
    client.force_login(user)

    roles = header(client)

    assert "<summary>2 more</summary>" in roles
    assert "p5: viewer" in roles


def test_the_header_links_to_catalog_and_usage(client):
    client.force_login(make_user())

    nav = header(client)

    assert f'href="{reverse("catalog:catalog")}"' in nav
    assert f'href="{reverse("dashboard:usage")}"' in nav
    assert "no projects yet" in nav


@pytest.mark.parametrize(
    ("name", "link"),
    [
        ("dashboard:overview", "Overview"),
        ("dashboard:generation_list", "Generations"),
        ("catalog:catalog", "Catalog"),
        ("lifecycle:impact", "Shutdowns"),
        ("dashboard:usage", "Usage"),
        ("exports:audit", "Audit"),
        ("exports:audit_events", "Audit"),
        ("exports:content_verify", "Audit"),
    ],
)
def test_the_header_marks_the_page_you_are_on(client, name, link):
    client.force_login(make_user(is_superuser=True))

    page = client.get(reverse(name)).content.decode()
    nav = page[page.index("<header") : page.index("</header>")]

    assert f'" aria-current="page">{link}</a>' in nav
    assert nav.count('aria-current="page"') == 1


def test_a_missing_page_is_a_helpful_404_inside_the_layout(client):
    client.force_login(make_user())

    response = client.get("/no-such-page/")

    assert response.status_code == 404
    page = response.content.decode()
    assert "Nothing here" in page
    assert "<code>/no-such-page/</code>" in page
    assert 'class="site-header"' in page
    assert f'href="{reverse("catalog:catalog")}"' in page


def test_a_404_for_a_visitor_offers_the_sign_in(client):
    page = client.get("/no-such-page/").content.decode()

    assert f'<a href="{reverse("login")}">Sign in</a>' in page


def test_a_refusal_is_a_helpful_403_inside_the_layout():
    request = RequestFactory().get("/somewhere/")
    request.user = make_member(make_project("demo"), Role.VIEWER)

    response = permission_denied(request, PermissionDenied())

    page = response.content.decode()
    assert response.status_code == 403
    assert "You may not do this" in page
    assert "Nothing was changed." in page
    assert "demo:</span> viewer" in page


def test_a_403_for_a_visitor_offers_the_sign_in():
    request = RequestFactory().get("/somewhere/")
    request.user = AnonymousUser()

    page = permission_denied(request, PermissionDenied()).content.decode()

    assert "You are not signed in" in page


def test_the_playground_is_offered_only_to_those_who_may_use_it(client):
    from governance.projects.models import Role
    from tests.factories import make_member, make_project

    project = make_project("shop")
    viewer, developer = make_member(project, Role.VIEWER), make_member(project, Role.DEVELOPER)
    for user, offered in ((viewer, False), (developer, True)):
        client.force_login(user)
        page = client.get("/generations/").content.decode()
        assert ('href="/playground/"' in page) is offered


def test_head_on_the_front_page_answers_like_get(client):
    got, head = client.get("/"), client.head("/")

    assert head.status_code == got.status_code == 302
    assert head["Location"] == got["Location"] == "/login/?next=/"


def test_head_on_the_overview_answers_like_get_when_signed_in(client):
    client.force_login(make_member(make_project("demo")))

    assert client.head("/").status_code == client.get("/").status_code == 200


@pytest.mark.parametrize(
    "name", ["catalog:catalog", "dashboard:generation_list", "dashboard:usage", "notifications:inbox"]
)
def test_head_on_a_page_answers_like_get(client, name):
    client.force_login(make_member(make_project("demo")))

    assert client.head(reverse(name)).status_code == client.get(reverse(name)).status_code == 200


def test_every_page_links_our_own_favicon_and_favicon_ico_leads_to_it(client):
    page = client.get(reverse("login")).content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page

    redirect = client.get("/favicon.ico")
    assert redirect.status_code in (301, 302) and redirect["Location"] == "/static/favicon.svg"
    icon = client.get(redirect["Location"])
    assert icon.status_code == 200 and icon["Content-Type"] == "image/svg+xml"
    assert b"<svg" in b"".join(icon.streaming_content)
