"""Verifying a file someone hands us: its Content Credentials, and which generation in our log made it.

A signed file names its generation; we check the manifest (signature, content hashes, trust
against our CA) and compare its facts with the log row. A file whose manifest was stripped (a
re-encode, a screenshot) is looked up by fingerprint: first the exact SHA-256 of every file we
delivered or received, then perceptual hashes of its frames. When nothing matches we say so.
"""

import mimetypes
from dataclasses import dataclass, field
from typing import BinaryIO

from governance.content_credentials.fingerprints import (
    SAME_PICTURE_DISTANCE,
    distance,
    perceptual_hashes,
    sha256_of,
)
from governance.content_credentials.identity import trust_anchors
from governance.content_credentials.reading import ManifestReport, ManifestState, read_manifest
from governance.generations.archive import governance_facts
from governance.generations.models import ArchivedFile, Generation

# The facts a manifest must agree on with the log row for the two to be the same generation.
CHECKED_FACTS = ("generation_id", "resolved_snapshot", "requested_model", "project", "environment", "policy_revision")


class Match:
    MANIFEST = "manifest"  # the manifest names it
    EXACT = "exact"  # the file's SHA-256 is one we archived or received
    PERCEPTUAL = "perceptual"  # its pictures look like one of ours
    NONE = "none"


@dataclass(frozen=True)
class ContentVerification:
    filename: str
    content_type: str
    size: int
    sha256: str
    manifest: ManifestReport
    match: str = Match.NONE
    generation: Generation | None = None
    archived_file: ArchivedFile | None = None
    perceptual_distance: int | None = None
    disagreements: list[str] = field(default_factory=list)

    @property
    def tampered(self) -> bool:
        return self.manifest.state == ManifestState.TAMPERED

    @property
    def verdict(self) -> str:
        return _verdict(self)


def sniff_content_type(head: bytes, filename: str = "") -> str:
    """The type from the file's first bytes; the name's extension only as a last resort."""
    if head[4:8] == b"ftyp":
        return "video/mp4"
    if head[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def verify_content(stream: BinaryIO, *, filename: str = "") -> ContentVerification:
    stream.seek(0)
    content_type = sniff_content_type(stream.read(16), filename)
    sha256, size = sha256_of(stream)
    manifest = read_manifest(stream, content_type, trust_anchors=trust_anchors())
    found = dict(filename=filename, content_type=content_type, size=size, sha256=sha256, manifest=manifest)
    named = manifest.facts.get("generation_id")
    generation = Generation.objects.filter(video_id=named).first() if isinstance(named, str) and named else None
    if generation is not None:
        archived = ArchivedFile.objects.filter(generation=generation, sha256=sha256).first()
        return ContentVerification(
            **found,
            match=Match.MANIFEST,
            generation=generation,
            archived_file=archived,
            disagreements=_disagreements(manifest.facts, generation),
        )
    archived = (
        ArchivedFile.objects.filter(sha256=sha256).first()
        or ArchivedFile.objects.filter(upstream_sha256=sha256).first()
    )
    if archived is not None:
        return ContentVerification(**found, match=Match.EXACT, generation=archived.generation, archived_file=archived)
    nearest, nearest_distance = _nearest_picture(perceptual_hashes(stream, content_type))
    if nearest is not None:
        return ContentVerification(
            **found,
            match=Match.PERCEPTUAL,
            generation=nearest.generation,
            archived_file=nearest,
            perceptual_distance=nearest_distance,
        )
    return ContentVerification(**found)


def _disagreements(facts: dict, generation: Generation) -> list[str]:
    logged = governance_facts(generation)
    return [name for name in CHECKED_FACTS if facts.get(name) != logged.get(name)]


def _nearest_picture(hashes: list[str]) -> tuple[ArchivedFile | None, int | None]:
    """The archived file with a frame closest to any of ours, if close enough to be the same picture.

    A linear scan over the stored hashes: fine for a log of tens of thousands of files; a
    larger archive would want a BK-tree or a vector index here.
    """
    if not hashes:
        return None, None
    best_pk, best = None, SAME_PICTURE_DISTANCE + 1
    candidates = ArchivedFile.objects.exclude(perceptual_hashes=[]).values_list("pk", "perceptual_hashes")
    for pk, stored in candidates.iterator(chunk_size=2000):
        closest = min(distance(ours, theirs) for ours in hashes for theirs in stored)
        if closest < best:
            best_pk, best = pk, closest
    if best_pk is None:
        return None, None
    return ArchivedFile.objects.select_related("generation").get(pk=best_pk), best


def _verdict(result: ContentVerification) -> str:
    state, generation = result.manifest.state, result.generation
    if state == ManifestState.TAMPERED:
        return "Tampering: the file was changed after it was signed; its content no longer matches its manifest."
    if state == ManifestState.INVALID:
        return "The Content Credentials in this file do not validate; do not rely on what they say."
    if state in (ManifestState.TRUSTED, ManifestState.VALID):
        trust = (
            "signed by a certificate our CA issued"
            if state == ManifestState.TRUSTED
            else "signed, but not by a certificate our CA issued"
        )
        if generation is None:
            return f"Intact and {trust}, but it names a generation that is not in our log (deleted, or not ours)."
        if result.disagreements:
            return f"Intact and {trust}, but its facts disagree with the log on: {', '.join(result.disagreements)}."
        return f"Intact and {trust}; it matches generation {generation.video_id} in the log."
    if result.match == Match.EXACT:
        return f"No Content Credentials, but its exact bytes are a file of generation {generation.video_id}."
    if result.match == Match.PERCEPTUAL:
        return (
            "No Content Credentials (stripped, re-encoded or a screenshot), but its pictures match generation "
            f"{generation.video_id} (perceptual hashes {result.perceptual_distance} of 64 bits apart)."
        )
    return (
        "No Content Credentials, and no generation in our log matches it: it is not one of our files, it was "
        "changed too much to recognise, or its generation has been deleted."
    )
