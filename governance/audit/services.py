"""Writing audit events: one per governance action, in the caller's transaction."""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from governance.audit.models import AuditChainHead, AuditEvent

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who performed an action: a signed-in user, an API key or the system itself."""

    type: str
    label: str
    user: Any = None

    @classmethod
    def for_user(cls, user) -> "Actor":
        return cls(type=AuditEvent.ActorType.USER, label=user.get_username(), user=user)

    @classmethod
    def system(cls, label: str = "system") -> "Actor":
        return cls(type=AuditEvent.ActorType.SYSTEM, label=label)


def canonical_bytes(event: AuditEvent) -> bytes:
    """The exact bytes an event's hash covers; any change to a field changes them."""
    body = {
        "sequence": event.sequence,
        "occurred_at": event.occurred_at.isoformat(),
        "actor_type": event.actor_type,
        "actor_label": event.actor_label,
        "actor_user_id": event.actor_user_id,
        "action": event.action,
        "project_id": event.project_id,
        "environment_id": event.environment_id,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "payload": event.payload,
        "previous_hash": event.previous_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def event_hash(event: AuditEvent) -> str:
    return hashlib.sha256(canonical_bytes(event)).hexdigest()


def record_event(
    *,
    action: str,
    actor: Actor,
    target: models.Model | None = None,
    project=None,
    environment=None,
    payload: dict | None = None,
) -> AuditEvent:
    """Append one event to the chain inside the current transaction.

    The chain head row is locked for update, so concurrent appends on PostgreSQL
    queue behind each other and sequence numbers stay gap-free.
    """
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1)
        event = AuditEvent(
            sequence=head.sequence + 1,
            occurred_at=timezone.now(),
            actor_type=actor.type,
            actor_label=actor.label,
            actor_user=actor.user,
            action=action,
            project=project,
            environment=environment,
            object_type=target._meta.label_lower if target is not None else "",
            object_id=str(target.pk) if target is not None else "",
            payload=json.loads(json.dumps(payload or {}, default=str)),
            previous_hash=head.hash,
        )
        event.hash = event_hash(event)
        event.save()
        head.sequence, head.hash = event.sequence, event.hash
        head.save(update_fields=["sequence", "hash"])
    return event


@dataclass(frozen=True)
class ChainVerification:
    checked: int
    head_hash: str
    broken_at: int | None = None
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def verify_chain(*, chunk_size: int = 5000) -> ChainVerification:
    """Walk the chain in order; report the first sequence number where it breaks.

    Catches an edited event (its hash no longer matches its bytes), an inserted or
    deleted one (a gap, or a previous-hash that does not link), and events cut off
    at the end (the chain head row remembers the last sequence and hash).
    """
    expected_sequence, previous_hash, checked = 1, GENESIS_HASH, 0
    for event in AuditEvent.objects.order_by("sequence").iterator(chunk_size=chunk_size):
        problem = _problem_with(event, expected_sequence, previous_hash)
        if problem:
            return ChainVerification(
                checked=checked, head_hash=previous_hash, broken_at=expected_sequence, reason=problem
            )
        expected_sequence, previous_hash, checked = event.sequence + 1, event.hash, checked + 1
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None and (head.sequence, head.hash) != (checked, previous_hash):
        return ChainVerification(
            checked=checked,
            head_hash=previous_hash,
            broken_at=min(checked, head.sequence) + 1,
            reason=f"the chain ends at event {checked} but its head records event {head.sequence}",
        )
    return ChainVerification(checked=checked, head_hash=previous_hash)


def _problem_with(event: AuditEvent, expected_sequence: int, previous_hash: str) -> str:
    if event.sequence != expected_sequence:
        return f"event {expected_sequence} is missing (next is {event.sequence})"
    if event.previous_hash != previous_hash:
        return "its previous-hash does not link to the event before it"
    if event.hash != event_hash(event):
        return "its contents do not match its hash: the event was changed"
    return ""
