import re

import pytest
from django.urls import reverse

from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_login_with_good_credentials_lands_on_the_overview(client):
    make_user("alice")

    response = client.post(reverse("login"), {"username": "alice", "password": "pw-for-tests"}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("dashboard:overview")
    assert "Signed in as <strong>alice</strong>" in response.content.decode()


def test_login_with_a_bad_password_shows_a_readable_error(client):
    make_user("alice")

    response = client.post(reverse("login"), {"username": "alice", "password": "wrong"})

    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert "Please enter a correct username and password" in response.content.decode()


def test_login_page_shows_demo_logins_only_in_debug(client, settings):
    settings.DEBUG = True
    assert "demo-password" in client.get(reverse("login")).content.decode()

    settings.DEBUG = False
    assert "demo-password" not in client.get(reverse("login")).content.decode()


def test_logout_is_a_post_that_returns_to_login(client):
    client.force_login(make_user())

    page = client.get(reverse("dashboard:overview")).content.decode()
    response = client.post(reverse("logout"))

    assert f'action="{reverse("logout")}"' in page
    assert response.status_code == 302
    assert client.get(reverse("dashboard:overview")).status_code == 302


def test_admin_link_is_shown_to_staff_only(client):
    client.force_login(make_user())
    assert reverse("admin:index") not in client.get(reverse("dashboard:overview")).content.decode()

    client.force_login(make_user(is_staff=True))
    assert reverse("admin:index") in client.get(reverse("dashboard:overview")).content.decode()


def test_pages_load_htmx_from_our_own_static_files(client):
    client.force_login(make_user())

    page = client.get(reverse("dashboard:overview")).content.decode()

    assert "/static/django_htmx/htmx-2.min.js" in page
    assert 'hx-headers=\'{"X-CSRFToken": ' in page
    # Every script and stylesheet is ours (a CSRF token is random text, so "cdn" anywhere in the page proves nothing).
    assets = re.findall(r'<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]*)"', page)
    assert assets and all(asset.startswith("/static/") for asset in assets), assets


OFF_SITE = ["https://evil.example/", "//evil.example/", "/\\evil.example/", "https:/evil.example", "\\\\evil.example"]


@pytest.mark.parametrize("next_url", OFF_SITE)
def test_signing_in_never_sends_the_user_off_site(client, next_url):
    make_user("alice")

    form = client.get(reverse("login"), {"next": next_url}).content.decode()
    response = client.post(reverse("login"), {"username": "alice", "password": "pw-for-tests", "next": next_url})

    assert "evil.example" not in form.replace(next_url, "")  # echoed only as the form's own hidden value
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:overview")


@pytest.mark.parametrize("next_url", OFF_SITE)
def test_signing_out_never_sends_the_user_off_site(client, next_url):
    client.force_login(make_user())

    response = client.post(reverse("logout") + "?next=" + next_url, {"next": next_url})

    assert response.status_code == 302
    assert response["Location"] == reverse("login")


def test_signing_in_goes_on_to_a_page_of_ours(client):
    make_user("alice")

    response = client.post(reverse("login"), {"username": "alice", "password": "pw-for-tests", "next": "/usage/"})

    assert response["Location"] == "/usage/"
