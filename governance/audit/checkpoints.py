"""Signed checkpoints of the audit chain, kept outside the database.

A checkpoint states the chain's size, the RFC 6962 Merkle root of its event hashes and its
head hash at a moment, signed with the audit key. It goes to the `audit_checkpoints` storage:
a folder by default (files made read-only, never overwritten), or a bucket whose object lock
keeps anyone, us included, from changing or deleting it. `verify_audit` holds the database
to every checkpoint there, so events cut off, forged at the end or rewritten before a
checkpoint are found even when the database's own head row was moved to match.
"""

import datetime as dt
import json
import logging
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import transaction
from django.utils import timezone

from governance.audit import keys, proofs
from governance.audit.models import AuditChainHead, AuditEvent
from governance.audit.services import GENESIS_HASH

logger = logging.getLogger(__name__)


class CheckpointRefused(Exception):
    """The chain does not verify as far as the checkpoint would cover; signing it would bless the damage."""


@dataclass(frozen=True)
class StoredCheckpoint:
    name: str
    checkpoint: proofs.Checkpoint | None
    problem: str = ""


def checkpoint_storage():
    return storages["audit_checkpoints"]


def stored_checkpoints() -> list[StoredCheckpoint]:
    """Every checkpoint file, oldest first; one that cannot be read or whose signature fails says so."""
    public_key = keys.public_key()
    return [_read(name, public_key) for name in _names()]


def newest_checkpoint() -> proofs.Checkpoint | None:
    """The newest checkpoint whose signature holds, or None."""
    public_key = keys.public_key()
    for name in reversed(_names()):
        stored = _read(name, public_key)
        if stored.checkpoint is not None and not stored.problem:
            return stored.checkpoint
    return None


def _names() -> list[str]:
    try:
        _, files = checkpoint_storage().listdir("")
    except FileNotFoundError:
        return []
    return sorted(name for name in files if name.endswith(".json"))


def _read(name: str, public_key) -> StoredCheckpoint:
    try:
        with checkpoint_storage().open(name, "rb") as checkpoint_file:
            checkpoint = proofs.Checkpoint.from_dict(json.loads(checkpoint_file.read()))
    except (OSError, ValueError) as error:
        return StoredCheckpoint(name, None, f"checkpoint {name} cannot be read: {error}")
    if not checkpoint.signature_holds(public_key):
        return StoredCheckpoint(name, checkpoint, f"checkpoint {name} is not signed by the audit key")
    return StoredCheckpoint(name, checkpoint)


def write_checkpoint(*, now: dt.datetime | None = None) -> proofs.Checkpoint:
    """Sign the chain as it stands now.

    Refused when the events are not one unbroken chain up to the head, no longer match the
    newest checkpoint, or were appended since it without the audit key's signature: signing
    then would bless the damage. Only hashes, links and the new events' signatures are read,
    so a checkpoint stays quick however long the chain; recomputing every event's hash from
    its contents is `verify_audit`'s work.
    """
    key = keys.signing_key()
    previous = newest_checkpoint()
    with transaction.atomic():
        head = AuditChainHead.objects.filter(pk=1).first()
        size, head_hash = (head.sequence, head.hash) if head else (0, GENESIS_HASH)
        if previous is not None and previous.tree_size > size:
            raise CheckpointRefused(
                f"the checkpoint of {previous.timestamp} covers {previous.tree_size} events; the chain has only {size}"
            )
        tree = _linked_tree(size, head_hash, previous, key.public_key())
    moment = (now or timezone.now()).astimezone(dt.UTC)
    checkpoint = proofs.Checkpoint(
        tree_size=size,
        root_hash=tree.root(),
        head_hash=head_hash,
        timestamp=moment.isoformat(),
        key_id=proofs.key_id(key.public_key()),
    ).signed_with(key)
    name = f"{size:012d}-{moment:%Y%m%dT%H%M%S%f}Z.json"
    checkpoint_storage().save(name, ContentFile(checkpoint.to_json().encode()))
    logger.info("audit checkpoint %s: %s events, root %s", name, size, checkpoint.root_hash)
    return checkpoint


def _linked_tree(size: int, head_hash: str, previous: proofs.Checkpoint | None, public_key) -> proofs.TreeBuilder:
    """The Merkle tree of events 1..size, checking on the way that they link up and match `previous`."""
    tree, expected, previous_hash = proofs.TreeBuilder(), 1, GENESIS_HASH
    covered = previous.tree_size if previous is not None else 0
    links = AuditEvent.objects.filter(sequence__lte=size).order_by("sequence")
    fields = ("sequence", "previous_hash", "hash", "signature")
    for sequence, links_to, event_hash, signature in links.values_list(*fields).iterator(20000):
        if sequence != expected or links_to != previous_hash:
            raise CheckpointRefused(f"the chain breaks at sequence {expected}")
        if sequence > covered and not proofs.event_signature_holds(public_key, event_hash, signature):
            raise CheckpointRefused(f"event {sequence} is not signed by the audit key")
        tree.append(proofs.event_leaf(event_hash))
        expected, previous_hash = sequence + 1, event_hash
        if previous is not None and sequence == previous.tree_size and tree.root() != previous.root_hash:
            raise CheckpointRefused(
                f"the first {previous.tree_size} events no longer match the checkpoint of {previous.timestamp}"
            )
    if (expected - 1, previous_hash) != (size, head_hash):
        raise CheckpointRefused(f"the chain ends at event {expected - 1} but its head records event {size}")
    return tree


def checkpoint_if_due() -> proofs.Checkpoint | None:
    """Write a checkpoint when events were added since the newest one (beat calls this)."""
    head = AuditChainHead.objects.filter(pk=1).first()
    newest = newest_checkpoint()
    if head is None or (newest is not None and newest.tree_size >= head.sequence):
        return None
    return write_checkpoint()
