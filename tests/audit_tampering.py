"""What a database superuser can do and the application cannot: bypass the audit tables' triggers."""

import contextlib
import importlib
from collections.abc import Iterator

from django.db import connection, transaction

from governance.audit.models import AuditChainHead, AuditEvent
from governance.audit.services import event_hash

_head_guards = importlib.import_module("governance.audit.migrations.0004_chain_head_guards")
SQLITE_TRIGGERS = {
    "audit_event_no_update": "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_auditevent "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END;",
    "audit_event_no_delete": "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_auditevent "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END;",
    **{statement.split()[2]: statement for statement in _head_guards.SQLITE_GUARDS},
}


@contextlib.contextmanager
def as_database_superuser() -> Iterator[None]:
    """Run the block with the append-only triggers out of the way, as an intruder with superuser rights would."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
            yield
            return
        for name in SQLITE_TRIGGERS:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        try:
            yield
        finally:
            for statement in SQLITE_TRIGGERS.values():
                cursor.execute(statement)


def forge_append(*, action: str, payload: dict) -> AuditEvent:
    """A plain INSERT of a made-up event, hashed with the product's own code, and the head moved onto it."""
    head = AuditChainHead.objects.get(pk=1)
    last = AuditEvent.objects.get(sequence=head.sequence)
    forged = AuditEvent(
        sequence=head.sequence + 1,
        occurred_at=last.occurred_at,
        actor_type="user",
        actor_label="approver",
        action=action,
        payload=payload,
        previous_hash=head.hash,
        signature=last.signature,  # the forger has no key: the best they can do is copy a signature
    )
    forged.hash = event_hash(forged)
    forged.save()
    AuditChainHead.objects.filter(pk=1).update(sequence=forged.sequence, hash=forged.hash)
    return forged


def cut_off_last(count: int) -> None:
    """Delete the newest events and move the head back over them, with the triggers out of the way."""
    head = AuditChainHead.objects.get(pk=1)
    keep = head.sequence - count
    with as_database_superuser():
        AuditEvent.objects.filter(sequence__gt=keep).delete()
        AuditChainHead.objects.filter(pk=1).update(sequence=keep, hash=AuditEvent.objects.get(sequence=keep).hash)


def rewrite(sequence: int, payload: dict) -> None:
    """Change one event, then recompute every later hash and the head, as a careful intruder would."""
    with as_database_superuser():
        previous_hash = AuditEvent.objects.get(sequence=sequence).previous_hash
        for event in AuditEvent.objects.filter(sequence__gte=sequence).order_by("sequence"):
            if event.sequence == sequence:
                event.payload = payload
            event.previous_hash = previous_hash
            event.hash = previous_hash = event_hash(event)
            AuditEvent.objects.filter(pk=event.pk).update(
                payload=event.payload, previous_hash=event.previous_hash, hash=event.hash
            )
        AuditChainHead.objects.filter(pk=1).update(hash=previous_hash)
