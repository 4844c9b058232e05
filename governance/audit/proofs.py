"""What an auditor can check without our database: event hashes, Ed25519 signatures, RFC 6962 Merkle trees.

This module needs only Python's standard library and `cryptography`, and imports nothing else of
ours, so it is also the offline verifier of an audit export. Copy this one file next to the export
and the audit public key, and run:

    python proofs.py audit-export.jsonl audit-public-key.pem

The tree is RFC 6962's (section 2.1): a leaf is SHA-256(0x00 || data), a node is
SHA-256(0x01 || left || right), and a tree of n leaves splits at the largest power of two below n.
A leaf's data is the 32 bytes of one audit event's hash, in sequence order.
"""

import base64
import bisect
import datetime as dt
import hashlib
import json
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

EVENT_CONTEXT = b"snapshot-governance/audit-event/v1\n"
CHECKPOINT_CONTEXT = b"snapshot-governance/audit-checkpoint/v1\n"
EXPORT_CONTEXT = b"snapshot-governance/audit-export/v1\n"
CHECKPOINT_FORMAT = "snapshot-governance-audit-checkpoint/1"
PROOF_FORMAT = "snapshot-governance-audit-proof/1"
EMPTY_ROOT = hashlib.sha256(b"").hexdigest()


class ProofError(ValueError):
    """A proof, signature or export that does not check out; the message says where and why."""


# Event hashes


def as_stored(value: Any) -> Any:
    """A JSON value as any database gives it back: PostgreSQL's jsonb reads `1e16` back as `10000000000000000`."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: as_stored(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_stored(item) for item in value]
    return value


def canonical_json(body: dict) -> bytes:
    """The one serialisation that hashes and signatures cover: sorted keys, no spaces, UTF-8."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def event_body(
    *,
    sequence: int,
    occurred_at: dt.datetime,
    actor_type: str,
    actor_label: str,
    actor_user_id: int | None,
    action: str,
    project_id: int | None,
    environment_id: int | None,
    object_type: str,
    object_id: str,
    payload: Any,
    previous_hash: str,
) -> dict:
    """The fields of one audit event that its hash covers, in the form they are hashed."""
    return {
        "sequence": sequence,
        "occurred_at": occurred_at.isoformat(),
        "actor_type": actor_type,
        "actor_label": actor_label,
        "actor_user_id": actor_user_id,
        "action": action,
        "project_id": project_id,
        "environment_id": environment_id,
        "object_type": object_type,
        "object_id": object_id,
        "payload": as_stored(payload),
        "previous_hash": previous_hash,
    }


def hash_of(body: dict) -> str:
    return hashlib.sha256(canonical_json(body)).hexdigest()


# Keys and signatures


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short name for a public key: the first 16 hex digits of SHA-256 over its 32 raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ProofError("the public key is not an Ed25519 key")
    return key


def sign_event_hash(private_key: Ed25519PrivateKey, event_hash: str) -> str:
    return base64.b64encode(private_key.sign(EVENT_CONTEXT + event_hash.encode())).decode()


def event_signature_holds(public_key: Ed25519PublicKey, event_hash: str, signature: str) -> bool:
    return _holds(public_key, signature, EVENT_CONTEXT + event_hash.encode())


def sign_export_digest(private_key: Ed25519PrivateKey, sha256: str) -> str:
    """A signature over the SHA-256 of an export's lines: every byte of them, names and spacing included."""
    return base64.b64encode(private_key.sign(EXPORT_CONTEXT + sha256.encode())).decode()


def _holds(public_key: Ed25519PublicKey, signature: str, message: bytes) -> bool:
    try:
        public_key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True


# Checkpoints


@dataclass(frozen=True)
class Checkpoint:
    """The chain's size, its Merkle root and head hash at a moment, signed by the audit key."""

    tree_size: int
    root_hash: str
    head_hash: str
    timestamp: str
    key_id: str
    signature: str = ""
    format: str = CHECKPOINT_FORMAT

    def signed_bytes(self) -> bytes:
        fields = asdict(self)
        del fields["signature"]
        return CHECKPOINT_CONTEXT + canonical_json(fields)

    def signed_with(self, private_key: Ed25519PrivateKey) -> "Checkpoint":
        signature = base64.b64encode(private_key.sign(self.signed_bytes())).decode()
        return Checkpoint(**{**asdict(self), "signature": signature})

    def signature_holds(self, public_key: Ed25519PublicKey) -> bool:
        return self.key_id == key_id(public_key) and _holds(public_key, self.signature, self.signed_bytes())

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict) -> "Checkpoint":
        try:
            checkpoint = cls(
                tree_size=int(data["tree_size"]),
                root_hash=str(data["root_hash"]),
                head_hash=str(data["head_hash"]),
                timestamp=str(data["timestamp"]),
                key_id=str(data["key_id"]),
                signature=str(data["signature"]),
                format=str(data.get("format", "")),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ProofError(f"not a checkpoint: {error}") from None
        if checkpoint.format != CHECKPOINT_FORMAT:
            raise ProofError(f"not a checkpoint of format {CHECKPOINT_FORMAT}")
        return checkpoint


# RFC 6962 Merkle trees


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def event_leaf(event_hash: str) -> bytes:
    return leaf_hash(bytes.fromhex(event_hash))


class TreeBuilder:
    """A Merkle tree grown one leaf at a time, holding only the roots of its perfect subtrees (O(log n))."""

    def __init__(self) -> None:
        self.size = 0
        self._subtrees: list[tuple[int, bytes]] = []  # (leaves, root), largest first

    def append(self, leaf: bytes) -> None:
        self.size += 1
        self._subtrees.append((1, leaf))
        while len(self._subtrees) > 1 and self._subtrees[-1][0] == self._subtrees[-2][0]:
            (size, right), (_, left) = self._subtrees.pop(), self._subtrees.pop()
            self._subtrees.append((size * 2, node_hash(left, right)))

    def root(self) -> str:
        if not self._subtrees:
            return EMPTY_ROOT
        root = self._subtrees[-1][1]
        for _, left in reversed(self._subtrees[:-1]):
            root = node_hash(left, root)
        return root.hex()


def merkle_root(leaves: Iterable[bytes]) -> str:
    tree = TreeBuilder()
    for leaf in leaves:
        tree.append(leaf)
    return tree.root()


def _split(size: int) -> int:
    """The largest power of two smaller than `size` (size > 1): where RFC 6962 splits a tree."""
    return 1 << ((size - 1).bit_length() - 1)


def range_proof(leaves: list[bytes], included: set[int]) -> list[str]:
    """The subtree roots that, with the included leaves, rebuild the root of the whole tree.

    Listed depth first, left to right: every maximal subtree holding no included leaf gives
    its root. For one leaf this is RFC 6962's audit path (in top-down order); for a run of
    consecutive leaves it is about two hashes per level. This is the definition, over leaves held
    in a list; an export, whose chain may be long, uses `range_proof_streamed`.
    """
    proof: list[str] = []
    indexes = sorted(included)

    def walk(start: int, end: int) -> None:
        if not _holds_index(indexes, start, end):
            proof.append(merkle_root(leaves[start:end]))
        elif end - start > 1:
            middle = start + _split(end - start)
            walk(start, middle)
            walk(middle, end)

    walk(0, len(leaves))
    return proof


def range_proof_streamed(size: int, leaves: Iterable[bytes], included: Iterable[int]) -> list[str]:
    """`range_proof` in one pass: the same subtree roots, reading the leaves and the included indexes once.

    `leaves` are the tree's `size` leaves in order; `included` the indexes of the leaves the proof is for,
    ascending. Memory is the proof itself plus O(log size) hashes: the walk down the tree is
    log2(size) deep, and a subtree with no included leaf is folded by a TreeBuilder as its leaves
    arrive, so no list of leaves or of indexes is ever held. `range_proof` above is the definition
    this must match, byte for byte (tests/audit/test_merkle_proofs.py checks them against each other).
    """
    leaves, included = iter(leaves), iter(included)
    proof: list[str] = []
    next_included = next(included, None)

    def take_leaf() -> bytes:
        try:
            return next(leaves)
        except StopIteration:
            raise ProofError(f"fewer leaves than the tree's {size}") from None

    def walk(start: int, end: int) -> None:
        nonlocal next_included
        while next_included is not None and next_included < start:  # an index below the tree, or a repeated one
            next_included = next(included, None)
        if next_included is None or next_included >= end:
            subtree = TreeBuilder()
            for _ in range(end - start):
                subtree.append(take_leaf())
            proof.append(subtree.root())
        elif end - start == 1:
            take_leaf()
            next_included = next(included, None)
        else:
            middle = start + _split(end - start)
            walk(start, middle)
            walk(middle, end)

    walk(0, size)
    if next(leaves, None) is not None:
        raise ProofError(f"more leaves than the tree's {size}")
    return proof


def _holds_index(indexes: list[int], start: int, end: int) -> bool:
    """Whether the sorted `indexes` hold one in [start, end)."""
    position = bisect.bisect_left(indexes, start)
    return position < len(indexes) and indexes[position] < end


def root_from_proof(size: int, known: dict[int, bytes], proof: list[str]) -> str:
    """Rebuild a tree's root from the leaves we hold (by index) and a `range_proof`."""
    remaining = iter(proof)
    indexes = sorted(known)

    def walk(start: int, end: int) -> bytes:
        if not _holds_index(indexes, start, end):
            try:
                return bytes.fromhex(next(remaining))
            except StopIteration:
                raise ProofError("the proof is too short for its tree") from None
        if end - start == 1:
            return known[start]
        middle = start + _split(end - start)
        return node_hash(walk(start, middle), walk(middle, end))

    if size == 0:
        return EMPTY_ROOT
    if indexes and not (0 <= indexes[0] and indexes[-1] < size):
        raise ProofError("an event lies outside the checkpoint's tree")
    root = walk(0, size).hex()
    if next(remaining, None) is not None:
        raise ProofError("the proof holds more hashes than its tree needs")
    return root


# Exports


@dataclass(frozen=True)
class ExportVerification:
    events: int
    checkpoint: Checkpoint

    @property
    def complete(self) -> bool:
        """Whether the export holds every event the checkpoint covers, not a filtered part of them."""
        return self.events == self.checkpoint.tree_size

    @property
    def summary(self) -> str:
        scope = "all" if self.complete else f"{self.events} of the"
        return (
            f"Export verified: {scope} {self.checkpoint.tree_size} events of the checkpoint made "
            f"{self.checkpoint.timestamp} (root {self.checkpoint.root_hash}), each signed by audit key "
            f"{self.checkpoint.key_id}."
        )


def verify_export(lines: Iterable[bytes], public_key: Ed25519PublicKey) -> ExportVerification:
    """Check an audit export in JSON Lines: every event's hash and signature, and the checkpoint's proof.

    The last line carries the proof; every line before it is one event. Raises ProofError naming
    the first line that does not check out.
    """
    events: dict[int, bytes] = {}
    trailer: dict | None = None
    digest = hashlib.sha256()
    for number, line in enumerate(lines, start=1):
        if trailer is not None:
            raise ProofError(f"line {number}: nothing may follow the proof line")
        record = _json_line(line, number)
        if "audit_proof" in record:
            trailer = record["audit_proof"]
            continue
        digest.update(line)
        sequence = _checked_event(record, number, public_key)
        if sequence - 1 in events:
            raise ProofError(f"line {number}: event {sequence} appears twice")
        events[sequence - 1] = event_leaf(record["hash"])
    if trailer is None:
        raise ProofError("the export carries no proof line: export the audit trail as JSON Lines to verify it")
    checkpoint = _checked_checkpoint(trailer, public_key)
    signature = str(trailer.get("export_signature") or "")
    if not _holds(public_key, signature, EXPORT_CONTEXT + digest.hexdigest().encode()):
        raise ProofError("the export's lines are not the ones the audit key signed: a byte in them was changed")
    root = root_from_proof(checkpoint.tree_size, events, [str(item) for item in trailer.get("proof", [])])
    if root != checkpoint.root_hash:
        raise ProofError("the events and the proof do not rebuild the checkpoint's root: an event was changed")
    return ExportVerification(events=len(events), checkpoint=checkpoint)


def _json_line(line: bytes, number: int) -> dict:
    try:
        record = json.loads(line)
    except ValueError:
        raise ProofError(f"line {number} is not JSON") from None
    if not isinstance(record, dict):
        raise ProofError(f"line {number} is not a JSON object")
    return record


def _checked_event(record: dict, number: int, public_key: Ed25519PublicKey) -> int:
    try:
        body = event_body(
            sequence=int(record["sequence"]),
            occurred_at=dt.datetime.fromisoformat(str(record["occurred_at"]).replace("Z", "+00:00")),
            actor_type=record["actor_type"],
            actor_label=record["actor_label"],
            actor_user_id=record["actor_user_id"],
            action=record["action"],
            project_id=record["project_id"],
            environment_id=record["environment_id"],
            object_type=record["object_type"],
            object_id=record["object_id"],
            payload=record["payload"],
            previous_hash=record["previous_hash"],
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ProofError(f"line {number}: not an audit event ({error})") from None
    if hash_of(body) != record.get("hash"):
        raise ProofError(f"line {number}: event {body['sequence']} does not match its hash: it was changed")
    if not event_signature_holds(public_key, record["hash"], str(record.get("signature") or "")):
        raise ProofError(f"line {number}: event {body['sequence']} is not signed by this key")
    return body["sequence"]


def _checked_checkpoint(trailer: Any, public_key: Ed25519PublicKey) -> Checkpoint:
    if not isinstance(trailer, dict) or trailer.get("format") != PROOF_FORMAT:
        raise ProofError(f"the proof line is not of format {PROOF_FORMAT}")
    checkpoint = Checkpoint.from_dict(trailer.get("checkpoint") or {})
    if not checkpoint.signature_holds(public_key):
        raise ProofError(f"the checkpoint is not signed by this key (it names key {checkpoint.key_id})")
    return checkpoint


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(f"usage: {argv[0]} AUDIT_EXPORT.jsonl AUDIT_PUBLIC_KEY.pem", file=sys.stderr)
        return 2
    try:
        with open(argv[2], "rb") as key_file:
            public_key = load_public_key(key_file.read())
        with open(argv[1], "rb") as export:
            result = verify_export(export, public_key)
    except (OSError, ValueError) as error:
        print(f"Export does NOT verify: {error}", file=sys.stderr)
        return 1
    print(result.summary)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
