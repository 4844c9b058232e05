"""Writing audit events: one per governance action, in the caller's transaction."""

import contextlib
import contextvars
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from governance.audit import keys, proofs
from governance.audit.models import AuditChainHead, AuditEvent

GENESIS_HASH = "0" * 64

# The credential behind the actions being taken now, when it is not a password session: a personal access
# token of the management API, say. Every event recorded meanwhile names it in its payload's `via`.
_acting_through: contextvars.ContextVar[dict | None] = contextvars.ContextVar("acting_through", default=None)


@contextlib.contextmanager
def acting_through(credential: dict) -> Iterator[None]:
    """Name `credential` (plain facts, never a secret) in every event recorded inside the block.

    The services that write the events stay as they are: whoever calls them through an API
    says once which token it acts with, and every event of that call carries it.
    """
    token = _acting_through.set(credential)
    try:
        yield
    finally:
        _acting_through.reset(token)


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
    return proofs.canonical_json(
        proofs.event_body(
            sequence=event.sequence,
            occurred_at=event.occurred_at,
            actor_type=event.actor_type,
            actor_label=event.actor_label,
            actor_user_id=event.actor_user_id,
            action=event.action,
            project_id=event.project_id,
            environment_id=event.environment_id,
            object_type=event.object_type,
            object_id=event.object_id,
            payload=event.payload,
            previous_hash=event.previous_hash,
        )
    )


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
    queue behind each other and sequence numbers stay gap-free. The event is signed
    with the audit key, which no one with only the database holds.
    """
    via = _acting_through.get()
    if via is not None:
        payload = {**(payload or {}), "via": via}
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
        event.signature = proofs.sign_event_hash(keys.signing_key(), event.hash)
        event.save()
        head.sequence, head.hash = event.sequence, event.hash
        head.save(update_fields=["sequence", "hash"])
    return event
