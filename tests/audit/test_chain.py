import io

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from governance.audit.models import AuditEvent
from governance.audit.services import GENESIS_HASH, Actor, event_hash, record_event
from governance.audit.verification import verify_chain
from governance.audit.walk import ChainWalk
from tests.audit_tampering import as_database_superuser

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


def verify() -> tuple[int, str]:
    try:
        call_command("verify_audit", stdout=io.StringIO())
    except CommandError as error:
        return 1, str(error)
    return 0, ""


def test_an_untouched_chain_verifies():
    call_command("seed_demo")
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert f"intact: {AuditEvent.objects.count()} events" in out.getvalue()


def test_one_changed_byte_is_found_at_its_sequence_number():
    call_command("seed_demo")
    with as_database_superuser():
        AuditEvent.objects.filter(sequence=5).update(payload={"changed": "afterwards"})
    assert verify() == (
        1,
        "Audit chain broken at sequence 5: its contents do not match its hash: the event was changed.",
    )


def test_a_deleted_event_is_found():
    call_command("seed_demo")
    with as_database_superuser():
        AuditEvent.objects.filter(sequence=3).delete()
    code, message = verify()
    assert code == 1 and "sequence 3: event 3 is missing" in message


def test_events_cut_off_at_the_end_are_found():
    call_command("seed_demo")
    last = AuditEvent.objects.order_by("-sequence").first()
    with as_database_superuser():
        last.delete()
    code, message = verify()
    assert code == 1 and f"sequence {last.sequence}" in message


def test_an_event_appended_behind_the_applications_back_is_found():
    call_command("seed_demo")
    last = AuditEvent.objects.order_by("-sequence").first()
    forged = AuditEvent(
        sequence=last.sequence + 1,
        occurred_at=last.occurred_at,
        actor_type="system",
        actor_label="intruder",
        action="policy.revised",
        previous_hash=last.hash,
    )
    forged.hash = event_hash(forged)  # a careful forger recomputes the hash; the chain head still disagrees
    forged.save()
    code, message = verify()
    assert code == 1 and f"sequence {last.sequence + 1}" in message


def test_a_failed_login_is_audited_without_the_password(client):
    client.post("/login/", {"username": "mallory", "password": "guess-123"})
    event = AuditEvent.objects.get(action="login.failed")
    assert event.payload["username"] == "mallory"
    assert "guess-123" not in str(event.payload)


# The trigger refuses it; with the restricted role of docs/database-roles.md its missing privilege refuses it first.
REFUSED = "append-only|permission denied"


@pytest.mark.parametrize("statement", ["UPDATE audit_auditevent SET actor_label = 'x'", "DELETE FROM audit_auditevent"])
def test_the_application_cannot_rewrite_or_delete_events(statement):
    call_command("seed_demo")
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert verify() == (0, "")


def test_the_application_cannot_truncate_events_on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no TRUNCATE; its DELETE is refused above")
    call_command("seed_demo")
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE audit_auditevent CASCADE")


def test_events_appended_while_verification_walks_do_not_look_like_a_break(monkeypatch):
    call_command("seed_demo")
    before = AuditEvent.objects.count()
    walk_step = ChainWalk.step
    appended = []

    def step_while_another_process_appends(walk, event):
        if not appended:  # a failed login arrives while the walk is under way
            appended.append(record_event(action="login.failed", actor=Actor.system("dashboard")))
        return walk_step(walk, event)

    monkeypatch.setattr(ChainWalk, "step", step_while_another_process_appends)
    result = verify_chain(chunk_size=2)
    assert result.intact, result.reason
    assert result.checked == before + 1


def test_numbers_in_a_payload_verify_however_the_database_stores_them():
    call_command("seed_demo")
    record_event(
        action="catalog.loaded",
        actor=Actor.system(),
        payload={"huge": 1e16, "whole": 2.0, "tiny": 1.5e-20, "price": 0.1, "count": 3},
    )
    assert verify() == (0, "")
