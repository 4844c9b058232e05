"""A flood of failed sign-ins from one address is capped, and costs a few rows and audit events, not one per attempt."""

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from governance.accounts.login_throttling import audit_counted_failures
from governance.accounts.models import LoginThrottle
from governance.audit.models import AuditEvent
from tests.factories import make_user

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
ATTACKER, COLLEAGUE = "203.0.113.7", "198.51.100.2"
LOCKED = "Too many failed sign-ins. Sign-in is locked; try again in 15 minutes."


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def sign_in(username, password="wrong", *, address=ATTACKER, **headers):
    return Client(REMOTE_ADDR=address, **headers).post(reverse("login"), {"username": username, "password": password})


def failed_events():
    return [event.payload for event in AuditEvent.objects.filter(action="login.failed").order_by("sequence")]


def test_200_failed_sign_ins_from_one_address_are_capped_and_write_a_few_rows_and_events(clock, settings):
    make_user("alice")
    for number in range(200):
        sign_in(f"guess{number}")

    refused = sign_in("alice", "pw-for-tests")

    assert refused.status_code == 200 and LOCKED in refused.content.decode()
    assert sign_in("alice", "pw-for-tests", address=COLLEAGUE).status_code == 302
    assert LoginThrottle.objects.count() <= settings.LOGIN_FAILURE_LIMIT_PER_IP + 1
    assert [event.action for event in AuditEvent.objects.filter(action__startswith="login.")] == [
        "login.failed",
        "login.locked",
    ]
    assert AuditEvent.objects.get(action="login.locked").payload["locked"] == "ip"


def test_an_address_is_capped_by_default(settings):
    assert settings.LOGIN_FAILURE_LIMIT_PER_IP == 20


def test_failures_are_one_event_per_address_and_minute_carrying_their_count(clock, settings):
    settings.LOGIN_FAILURE_LIMIT_PER_IP = 0  # counted and audited, never locked
    for number in range(5):
        sign_in(f"guess{number}")
    sign_in("mallory", address=COLLEAGUE)
    assert failed_events() == [
        {"username": "guess0", "ip": ATTACKER, "failures": 1},
        {"username": "mallory", "ip": COLLEAGUE, "failures": 1},
    ]

    clock.shift(dt.timedelta(seconds=61))
    sign_in("trudy")  # the next minute's first: it brings the 4 counted since
    for number in range(3):
        sign_in(f"again{number}")
    assert failed_events()[2:] == [{"username": "trudy", "ip": ATTACKER, "failures": 5}]

    clock.shift(dt.timedelta(seconds=61))
    assert audit_counted_failures() == 1  # beat writes what the quiet minute left counted
    assert failed_events()[3:] == [{"username": "", "ip": ATTACKER, "failures": 3}]
    assert audit_counted_failures() == 0


def test_beat_forgets_counts_whose_window_and_lockout_are_over(clock, settings):
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        sign_in("alice")
    assert LoginThrottle.objects.count() == 2

    clock.shift(dt.timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES + 1))
    audit_counted_failures()

    assert not LoginThrottle.objects.exists()


def test_behind_a_trusted_proxy_the_client_is_read_from_x_forwarded_for(clock, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.LOGIN_FAILURE_LIMIT_PER_IP = 3
    make_user("alice")
    for number in range(3):
        sign_in(f"guess{number}", address="10.0.0.5", HTTP_X_FORWARDED_FOR=f"1.2.3.4, {ATTACKER}")

    through_proxy = {"address": "10.0.0.5", "password": "pw-for-tests"}
    assert LOCKED in sign_in("alice", HTTP_X_FORWARDED_FOR=ATTACKER, **through_proxy).content.decode()
    assert sign_in("alice", HTTP_X_FORWARDED_FOR=COLLEAGUE, **through_proxy).status_code == 302
    assert failed_events()[0]["ip"] == ATTACKER


def test_without_a_trusted_proxy_x_forwarded_for_does_not_choose_the_address(clock, settings):
    settings.LOGIN_FAILURE_LIMIT_PER_IP = 3
    make_user("alice")
    for number in range(3):
        sign_in(f"guess{number}", HTTP_X_FORWARDED_FOR=f"192.0.2.{number}")

    response = sign_in("alice", "pw-for-tests", HTTP_X_FORWARDED_FOR=COLLEAGUE)

    assert LOCKED in response.content.decode()
