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
        "payload": _as_stored(event.payload),
        "previous_hash": event.previous_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def _as_stored(value: Any) -> Any:
    """The payload as any database gives it back: PostgreSQL's jsonb reads `1e16` back as `10000000000000000`."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _as_stored(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_stored(item) for item in value]
    return value


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
    or forged at the end (the chain head row remembers the last sequence and hash).
    Events appended while the walk runs are walked too, so a busy chain is not
    mistaken for a broken one.
    """
    walk = _ChainWalk()
    while True:
        for event in (
            AuditEvent.objects.filter(sequence__gte=walk.expected_sequence)
            .order_by("sequence")
            .iterator(chunk_size=chunk_size)
        ):
            if problem := walk.step(event):
                return walk.broken(walk.expected_sequence, problem)
        head = AuditChainHead.objects.filter(pk=1).first()
        head_sequence, head_hash = (head.sequence, head.hash) if head else (0, GENESIS_HASH)
        if head_sequence > walk.checked and AuditEvent.objects.filter(sequence=walk.expected_sequence).exists():
            continue  # appended while we walked: walk on from where we stopped
        if (head_sequence, head_hash) != (walk.checked, walk.previous_hash):
            return walk.broken(
                min(walk.checked, head_sequence) + 1,
                f"the chain ends at event {walk.checked} but its head records event {head_sequence}",
            )
        return ChainVerification(checked=walk.checked, head_hash=walk.previous_hash)


class _ChainWalk:
    """Where a verification has got to: the next sequence it expects and the hash it must link to."""

    def __init__(self) -> None:
        self.expected_sequence, self.previous_hash, self.checked = 1, GENESIS_HASH, 0

    def step(self, event: AuditEvent) -> str:
        problem = _problem_with(event, self.expected_sequence, self.previous_hash)
        if not problem:
            self.expected_sequence, self.previous_hash, self.checked = event.sequence + 1, event.hash, self.checked + 1
        return problem

    def broken(self, sequence: int, reason: str) -> ChainVerification:
        return ChainVerification(checked=self.checked, head_hash=self.previous_hash, broken_at=sequence, reason=reason)


def _problem_with(event: AuditEvent, expected_sequence: int, previous_hash: str) -> str:
    if event.sequence != expected_sequence:
        return f"event {expected_sequence} is missing (next is {event.sequence})"
    if event.previous_hash != previous_hash:
        return "its previous-hash does not link to the event before it"
    if event.hash != event_hash(event):
        return "its contents do not match its hash: the event was changed"
    return ""
