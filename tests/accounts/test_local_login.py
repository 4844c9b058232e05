"""LOCAL_LOGIN=0: no password form, its posts refused, and only break-glass superusers sign in with a password."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from governance.accounts.models import LoginThrottle
from governance.audit.models import AuditEvent
from tests.factories import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests"


@pytest.fixture
def passwords_off(settings):
    settings.LOCAL_LOGIN = False
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_FAILURE_LIMIT_PER_IP = 0


def admin_sign_in(client, username: str, password: str = PASSWORD):
    return client.post(reverse("admin:login"), {"username": username, "password": password, "next": "/admin/"})


def test_the_sign_in_page_has_no_password_form_and_points_break_glass_admins_to_the_admin(client, passwords_off):
    page = client.get(reverse("login")).content.decode()

    assert 'name="password"' not in page
    assert "Password sign-in is turned off here" in page
    assert reverse("admin:login") in page
    assert "demo-password" not in page


def test_a_password_post_is_refused_with_the_reason_and_checks_nothing(client, passwords_off):
    make_user("alice")

    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})

    assert response.status_code == 403
    assert "Password sign-in is turned off on this server (LOCAL_LOGIN=0)" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert not LoginThrottle.objects.exists()


def test_a_superuser_made_with_createsuperuser_still_signs_in_at_the_admin(client, passwords_off):
    get_user_model().objects.create_superuser("root", "root@example.test", PASSWORD)

    response = admin_sign_in(client, "root")

    assert response.status_code == 302
    assert client.get(reverse("dashboard:overview")).status_code == 200


def test_anyone_else_is_refused_at_the_admin_with_the_reason_and_counted_by_throttling(client, passwords_off):
    make_user("staffer", is_staff=True)

    response = admin_sign_in(client, "staffer")

    assert response.status_code == 200
    assert "password sign-in is turned off here (LOCAL_LOGIN=0)" in response.content.decode()
    for _ in range(2):
        response = admin_sign_in(client, "staffer")
    assert "Too many failed sign-ins" in response.content.decode()
    assert AuditEvent.objects.filter(action="login.locked", payload__username="staffer").exists()


def test_turning_passwords_off_ends_the_password_sessions_of_everyone_but_superusers(client, settings):
    client.post(reverse("login"), {"username": make_user("alice").username, "password": PASSWORD})
    assert client.get(reverse("dashboard:overview")).status_code == 200

    settings.LOCAL_LOGIN = False

    assert client.get(reverse("dashboard:overview")).status_code == 302


def test_with_local_login_on_the_page_is_as_before(client):
    page = client.get(reverse("login")).content.decode()

    assert 'name="password"' in page
    assert "Sign in with" not in page
    assert "Password sign-in is turned off" not in page
