"""Verifying the chain against its checkpoints, and the chain's state as the Audit page shows it."""

import datetime as dt
from dataclasses import dataclass

from governance.audit import keys, proofs
from governance.audit.checkpoints import StoredCheckpoint, newest_checkpoint, stored_checkpoints
from governance.audit.models import AuditChainHead, AuditEvent
from governance.audit.services import GENESIS_HASH, Actor, record_event
from governance.audit.walk import ChainWalk, events_from

VERIFIED = "audit.verified"


@dataclass(frozen=True)
class ChainVerification:
    checked: int
    head_hash: str
    broken_at: int | None = None
    reason: str = ""
    checkpoints: int = 0
    newest_checkpoint: proofs.Checkpoint | None = None
    # The leading events whose own signatures were not checked: the newest checkpoint's signature stood for them.
    held_by_checkpoint: int = 0

    @property
    def intact(self) -> bool:
        return not self.reason


def verify_chain(
    *, chunk_size: int = 5000, checkpoints: list[StoredCheckpoint] | None = None, full: bool = False
) -> ChainVerification:
    """Walk the chain in order, holding it to every checkpoint; report the first sequence where it breaks.

    In the database alone it finds an edited event (its hash or signature no longer holds), an
    inserted or deleted one (a gap, or a previous-hash that does not link) and a head row that
    disagrees with the last event. Against the checkpoints it finds what someone with the whole
    database in hand can do at its end: events cut off (a checkpoint names more than there are),
    forged (no valid signature) or rewritten with every later hash recomputed (the signatures and
    the checkpoint's root no longer match). Events appended while the walk runs are walked too,
    so a busy chain is not mistaken for a broken one.

    By default the events the newest checkpoint covers are not held to their own signatures: their
    place, link and hash (recomputed from their contents) are checked, and together they must
    rebuild that checkpoint's Merkle root, signed by the same key over the same hashes; the events
    after it are checked in full. Signature checks are most of a walk's time. `full` checks every
    event's signature as well (a signature column damaged under a checkpoint is only seen then).
    A chain that does not verify is walked again in full, so the report names the first sequence
    that disagrees, as a full walk would.
    """
    stored = stored_checkpoints() if checkpoints is None else checkpoints
    if problem := next((entry.problem for entry in stored if entry.problem), ""):
        return ChainVerification(checked=0, head_hash=GENESIS_HASH, reason=problem)
    signed = [entry.checkpoint for entry in stored if entry.checkpoint is not None]
    held = 0 if full else max((checkpoint.tree_size for checkpoint in signed), default=0)
    result = _walked(signed, chunk_size=chunk_size, signatures_after=held)
    if result.intact or not held:
        return result
    return _walked(signed, chunk_size=chunk_size, signatures_after=0)


def _walked(signed: list[proofs.Checkpoint], *, chunk_size: int, signatures_after: int) -> ChainVerification:
    """One walk over the chain, held to every signed checkpoint; signatures checked after `signatures_after`."""
    by_size: dict[int, list[proofs.Checkpoint]] = {}
    for checkpoint in signed:
        by_size.setdefault(checkpoint.tree_size, []).append(checkpoint)
    walk = ChainWalk(keys.public_key(), signatures_after=signatures_after)

    def broken(sequence: int, reason: str) -> ChainVerification:
        return ChainVerification(
            checked=walk.checked,
            head_hash=walk.previous_hash,
            broken_at=sequence,
            reason=reason,
            checkpoints=len(signed),
        )

    if (problem := _against_checkpoints(walk, by_size.get(0, []))) is not None:
        return broken(1, problem)
    while True:
        for event in events_from(walk.expected_sequence, chunk_size=chunk_size):
            if problem := walk.step(event):
                return broken(walk.expected_sequence, problem)
            if (problem := _against_checkpoints(walk, by_size.get(event.sequence, []))) is not None:
                return broken(event.sequence, problem)
        head = AuditChainHead.objects.filter(pk=1).first()
        head_sequence, head_hash = (head.sequence, head.hash) if head else (0, GENESIS_HASH)
        if head_sequence > walk.checked and AuditEvent.objects.filter(sequence=walk.expected_sequence).exists():
            continue  # appended while we walked: walk on from where we stopped
        break
    if beyond := [checkpoint for checkpoint in signed if checkpoint.tree_size > walk.checked]:
        largest = max(beyond, key=lambda checkpoint: checkpoint.tree_size)
        return broken(
            walk.checked + 1,
            f"the checkpoint of {largest.timestamp} covers {largest.tree_size} events but the database holds "
            f"{walk.checked}: events {walk.checked + 1} to {largest.tree_size} were cut off",
        )
    if (head_sequence, head_hash) != (walk.checked, walk.previous_hash):
        return broken(
            min(walk.checked, head_sequence) + 1,
            f"the chain ends at event {walk.checked} but its head records event {head_sequence}",
        )
    return ChainVerification(
        checked=walk.checked,
        head_hash=walk.previous_hash,
        checkpoints=len(signed),
        newest_checkpoint=max(
            signed, key=lambda checkpoint: (checkpoint.tree_size, checkpoint.timestamp), default=None
        ),
        held_by_checkpoint=signatures_after,
    )


def _against_checkpoints(walk: ChainWalk, checkpoints: list[proofs.Checkpoint]) -> str | None:
    """What disagrees between the chain walked so far and the checkpoints of exactly this size, if anything."""
    for checkpoint in checkpoints:
        if checkpoint.root_hash != walk.tree.root() or checkpoint.head_hash != walk.previous_hash:
            return (
                f"the first {checkpoint.tree_size} events differ from the checkpoint of {checkpoint.timestamp}: "
                "they were rewritten after it was signed"
            )
    return None


@dataclass(frozen=True)
class VerificationResult:
    """One verification's outcome, as recorded in its `audit.verified` event."""

    intact: bool
    checked: int
    head_hash: str
    broken_at: int | None
    reason: str
    verified_at: dt.datetime | None = None
    verified_by: str = ""
    checkpoints: int = 0
    held_by_checkpoint: int = 0

    @property
    def summary(self) -> str:
        if self.intact:
            unit = "event" if self.checked == 1 else "events"
            held = (
                f"; it agrees with all {self.checkpoints} signed checkpoints"
                if self.checkpoints
                else "; no checkpoint exists yet"
            )
            if not self.held_by_checkpoint:
                return (
                    f"Intact: {self.checked} {unit} checked, every hash matches, links to the one before "
                    f"and carries a valid signature{held}."
                )
            return (
                f"Intact: {self.checked} {unit} checked, every hash matches and links to the one before; "
                f"the first {self.held_by_checkpoint} rebuild the newest checkpoint's signed root and each later "
                f"one carries a valid signature{held}."
            )
        if self.broken_at is None:
            return f"Broken: {self.reason}."
        return f"Broken at sequence {self.broken_at}: {self.reason}."

    @classmethod
    def of(cls, event: AuditEvent) -> "VerificationResult":
        payload = event.payload
        return cls(
            intact=bool(payload.get("intact")),
            checked=int(payload.get("checked", 0)),
            head_hash=str(payload.get("head_hash", "")),
            broken_at=payload.get("broken_at"),
            reason=str(payload.get("reason", "")),
            verified_at=event.occurred_at,
            verified_by=event.actor_label,
            checkpoints=int(payload.get("checkpoints", 0)),
            held_by_checkpoint=int(payload.get("held_by_checkpoint", 0)),
        )


@dataclass(frozen=True)
class ChainState:
    events: int
    head_sequence: int
    head_hash: str
    last_verification: VerificationResult | None
    newest_checkpoint: proofs.Checkpoint | None
    public_key_pem: str
    public_key_id: str


def chain_state() -> ChainState:
    head = AuditChainHead.objects.filter(pk=1).first()
    last = AuditEvent.objects.filter(action=VERIFIED).order_by("-sequence").first()
    return ChainState(
        events=AuditEvent.objects.count(),
        head_sequence=head.sequence if head else 0,
        head_hash=head.hash if head else GENESIS_HASH,
        last_verification=VerificationResult.of(last) if last is not None else None,
        newest_checkpoint=newest_checkpoint(),
        public_key_pem=keys.public_key_pem(),
        public_key_id=proofs.key_id(keys.public_key()),
    )


def verify_and_record(*, actor: Actor) -> VerificationResult:
    """Walk the chain (as `verify_audit` does by default), then append an `audit.verified` event with the outcome."""
    result: ChainVerification = verify_chain()
    event = record_event(
        action=VERIFIED,
        actor=actor,
        payload={
            "intact": result.intact,
            "checked": result.checked,
            "head_hash": result.head_hash,
            "broken_at": result.broken_at,
            "reason": result.reason,
            "checkpoints": result.checkpoints,
            "held_by_checkpoint": result.held_by_checkpoint,
        },
    )
    return VerificationResult.of(event)
