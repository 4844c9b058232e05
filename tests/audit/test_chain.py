import pytest
from django.core.management import call_command

from governance.audit.models import AuditEvent
from governance.audit.services import GENESIS_HASH, event_hash

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent_and_every_action_is_chained():
    call_command("seed_demo")
    events = list(AuditEvent.objects.order_by("sequence"))
    call_command("seed_demo")
    assert AuditEvent.objects.count() == len(events)

    assert [event.sequence for event in events] == list(range(1, len(events) + 1))
    assert events[0].previous_hash == GENESIS_HASH
    for previous, event in zip(events, events[1:], strict=False):
        assert event.previous_hash == previous.hash
    assert all(event.hash == event_hash(event) for event in events)
    assert {"policy.revised", "member.changed", "alias.repointed", "catalog.loaded"} <= {e.action for e in events}


def test_changing_any_field_changes_the_hash():
    call_command("seed_demo")
    event = AuditEvent.objects.filter(action="policy.revised").first()
    event.payload["reason"] = "edited afterwards"
    assert event_hash(event) != event.hash
