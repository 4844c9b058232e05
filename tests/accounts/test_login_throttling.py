"""Login throttling: failed sign-ins lock a username out for a while, with a readable message and an audit event."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from governance.audit.models import AuditEvent
from tests.factories import make_user

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
LOCKED = "Too many failed sign-ins. Sign-in is locked; try again in 15 minutes."


@pytest.fixture(autouse=True)
def throttle_settings(settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_FAILURE_LIMIT_PER_IP = 0
    settings.LOGIN_FAILURE_WINDOW_MINUTES = 10
    settings.LOGIN_LOCKOUT_MINUTES = 15


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def sign_in(client, username="alice", password="pw-for-tests", url="login"):
    return client.post(reverse(url), {"username": username, "password": password})


def locked_events():
    return list(AuditEvent.objects.filter(action="login.locked"))


def test_the_limit_th_failure_locks_the_username_and_says_so(client, clock):
    make_user("alice")
    sign_in(client, password="wrong")
    sign_in(client, password="wrong")

    response = sign_in(client, password="wrong")

    assert response.status_code == 200
    assert LOCKED in response.content.decode()
    [event] = locked_events()
    assert event.payload["username"] == "alice" and event.payload["locked"] == "user"
    assert event.payload["failures"] == 3


def test_a_locked_username_is_refused_even_with_the_right_password(client, clock):
    make_user("alice")
    for _ in range(3):
        sign_in(client, password="wrong")

    response = sign_in(client)

    assert LOCKED in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert len(locked_events()) == 1  # refused attempts during the lockout do not lock again


def test_the_lockout_ends_after_its_minutes(client, clock):
    make_user("alice")
    for _ in range(3):
        sign_in(client, password="wrong")

    clock.shift(dt.timedelta(minutes=14))
    assert "try again in 1 minutes" in sign_in(client).content.decode()
    clock.shift(dt.timedelta(minutes=1, seconds=1))

    assert sign_in(client).status_code == 302


def test_failures_outside_the_window_do_not_add_up(client, clock):
    make_user("alice")
    sign_in(client, password="wrong")
    sign_in(client, password="wrong")
    clock.shift(dt.timedelta(minutes=11))

    response = sign_in(client, password="wrong")

    assert "Please enter a correct username and password" in response.content.decode()
    assert locked_events() == []


def test_a_successful_sign_in_clears_the_count(client, clock):
    make_user("alice")
    sign_in(client, password="wrong")
    sign_in(client, password="wrong")
    assert sign_in(client).status_code == 302
    client.logout()

    sign_in(client, password="wrong")
    response = sign_in(client, password="wrong")

    assert LOCKED not in response.content.decode()
    assert locked_events() == []


def test_the_username_is_locked_whatever_its_case(client, clock):
    make_user("alice")
    for username in ("alice", "Alice", "ALICE"):
        sign_in(client, username=username, password="wrong")

    assert LOCKED in sign_in(client).content.decode()


def test_unknown_usernames_are_throttled_too(client, clock):
    for _ in range(3):
        response = sign_in(client, username="nobody", password="guess")

    assert LOCKED in response.content.decode()


def test_the_admin_sign_in_shares_the_lockout(client, clock):
    make_user("root", is_staff=True, is_superuser=True)
    for _ in range(3):
        sign_in(client, username="root", password="wrong", url="admin:login")

    response = sign_in(client, username="root", url="admin:login")

    assert LOCKED in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_an_address_can_be_locked_across_usernames_when_configured(client, clock, settings):
    settings.LOGIN_FAILURE_LIMIT_PER_IP = 4
    for number in range(4):
        sign_in(client, username=f"guess{number}", password="wrong")

    make_user("alice")
    response = sign_in(client)

    assert LOCKED in response.content.decode()
    assert [event.payload["locked"] for event in locked_events()] == ["ip"]


def test_a_form_without_its_password_does_not_clear_the_count(client, clock):
    make_user("alice")
    sign_in(client, password="wrong")
    sign_in(client, password="wrong")
    sign_in(client, password="")  # checks no password, so it is neither a failure nor a success

    response = sign_in(client, password="wrong")

    assert LOCKED in response.content.decode()
