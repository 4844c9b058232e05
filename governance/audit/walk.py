"""A walk along the chain in sequence order: each event's place, link, hash and signature, and the tree it grows."""

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from governance.audit import proofs
from governance.audit.models import AuditEvent
from governance.audit.services import GENESIS_HASH, event_hash


class ChainWalk:
    """Where a walk has got to: the next sequence it expects, the hash that must link, the Merkle tree so far.

    Events up to `signatures_after` are taken without checking their own signatures: the caller
    holds them to a signed checkpoint of that size instead (see `verification.verify_chain`).
    Their place, link and hash (recomputed from their contents) are checked all the same.
    """

    def __init__(
        self,
        public_key: Ed25519PublicKey,
        *,
        tree: proofs.TreeBuilder | None = None,
        next_sequence: int = 1,
        previous_hash: str = GENESIS_HASH,
        signatures_after: int = 0,
    ) -> None:
        self.public_key = public_key
        self.tree = tree or proofs.TreeBuilder()
        self.expected_sequence, self.previous_hash, self.checked = next_sequence, previous_hash, 0
        self.signatures_after = signatures_after

    @property
    def last_sequence(self) -> int:
        return self.expected_sequence - 1

    def step(self, event: AuditEvent) -> str:
        """Take one event; say what is wrong with it, or take it into the tree and return ''."""
        problem = self._problem_with(event)
        if not problem:
            self.tree.append(proofs.event_leaf(event.hash))
            self.expected_sequence, self.previous_hash = event.sequence + 1, event.hash
            self.checked += 1
        return problem

    def _problem_with(self, event: AuditEvent) -> str:
        if event.sequence != self.expected_sequence:
            return f"event {self.expected_sequence} is missing (next is {event.sequence})"
        if event.previous_hash != self.previous_hash:
            return "its previous-hash does not link to the event before it"
        if event.hash != event_hash(event):
            return "its contents do not match its hash: the event was changed"
        if event.sequence > self.signatures_after and not proofs.event_signature_holds(
            self.public_key, event.hash, event.signature
        ):
            return "its signature does not verify with the audit key: the event was forged or rewritten"
        return ""


def events_from(sequence: int, *, through: int | None = None, chunk_size: int = 5000):
    """Events from `sequence` on (to `through`, inclusive), in order, read in chunks."""
    events = AuditEvent.objects.filter(sequence__gte=sequence)
    if through is not None:
        events = events.filter(sequence__lte=through)
    return events.order_by("sequence").iterator(chunk_size=chunk_size)
