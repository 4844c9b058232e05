"""Refused keys are audited once a minute per client address, counting the refusals in between."""

import pytest

from governance.audit.models import AuditEvent
from governance.projects import services
from governance.projects.services import note_refused_api_key

pytestmark = pytest.mark.django_db

WINDOW = services.REFUSED_KEY_EVENT_EVERY_SECONDS


@pytest.fixture(autouse=True)
def no_remembered_refusals():
    services._refused_key_events.clear()
    yield
    services._refused_key_events.clear()


def refused_events() -> list[dict]:
    return [event.payload for event in AuditEvent.objects.filter(action="auth.refused")]


def test_refusals_within_a_minute_are_counted_in_the_addresses_next_event():
    for second in range(5):
        note_refused_api_key(client_ip="203.0.113.7", presented="sgk_abcdefghijklmnop", now=1000.0 + second)
    note_refused_api_key(client_ip="203.0.113.7", presented="", now=1000.0 + WINDOW)

    events = refused_events()
    assert [event["refused_since_last_event"] for event in events] == [0, 4]
    assert events[1]["reason"] == "no key"


def test_each_client_address_is_counted_on_its_own():
    note_refused_api_key(client_ip="203.0.113.7", presented="", now=1000.0)
    note_refused_api_key(client_ip="203.0.113.7", presented="", now=1001.0)
    note_refused_api_key(client_ip="198.51.100.2", presented="", now=1002.0)
    note_refused_api_key(client_ip="198.51.100.2", presented="", now=1000.0 + WINDOW + 5)
    note_refused_api_key(client_ip="203.0.113.7", presented="", now=1000.0 + WINDOW + 5)

    assert [(event["client_ip"], event["refused_since_last_event"]) for event in refused_events()] == [
        ("203.0.113.7", 0),
        ("198.51.100.2", 0),
        ("198.51.100.2", 0),
        ("203.0.113.7", 1),
    ]


def test_the_remembered_addresses_stay_bounded(monkeypatch):
    monkeypatch.setattr(services, "REFUSED_KEY_ADDRESSES_REMEMBERED", 3)
    for number in range(3):
        note_refused_api_key(client_ip=f"203.0.113.{number}", presented="", now=1000.0)
    note_refused_api_key(client_ip="203.0.113.1", presented="", now=1010.0)

    note_refused_api_key(client_ip="198.51.100.9", presented="", now=1000.0 + WINDOW)
    assert set(services._refused_key_events) == {"198.51.100.9"}

    for number in range(3):
        note_refused_api_key(client_ip=f"192.0.2.{number}", presented="", now=1000.0 + WINDOW + 1)
    assert len(services._refused_key_events) <= 3
