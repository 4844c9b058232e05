"""Writing a C2PA manifest into a video or image with the official c2pa-python library.

Every signed file says it was made by a trained algorithm (IPTC digital source type
`trainedAlgorithmicMedia`, on a `c2pa.created` action) and carries our own assertion
with the governance facts. Sources (the video a remix started from) and any manifest the
provider already put in the file are kept as ingredients, so the file carries its lineage.
"""

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

import c2pa

from governance.content_credentials.identity import SigningIdentity

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
GOVERNANCE_ASSERTION = "org.snapshot-governance.generation"
CLAIM_GENERATOR = {"name": "snapshot-governance", "version": "0.1.0"}


@dataclass(frozen=True)
class Ingredient:
    """A file this one came from; `relationship` is C2PA's (`inputTo` for a remix's source)."""

    title: str
    content_type: str
    stream: BinaryIO
    relationship: str = "inputTo"


def has_manifest(stream: BinaryIO, content_type: str) -> bool:
    """Whether the file already carries a C2PA manifest (valid or not)."""
    stream.seek(0)
    try:
        reader = c2pa.Reader.try_create(content_type, stream)
    except c2pa.C2paError.NotSupported:
        return False
    except c2pa.C2paError:
        return True  # a manifest is there but cannot be read; keeping it as an ingredient records that
    finally:
        stream.seek(0)
    if reader is None:
        return False
    reader.close()
    return True


# c2pa-rs keeps its two intermediate copies of the file in memory up to this many MB (default 512) and
# in temporary files beyond it (`core.backing_store_memory_threshold_in_mb`, c2pa-rs docs/context-settings.md,
# sdk/src/utils/io_utils.rs `stream_with_fs_fallback`). Above 32 MB the copies go to disk: signing then holds
# no copy of the file, only the library's hashing buffers (at most two 256 MB chunks, `MAX_HASH_BUF` in
# sdk/src/utils/hash_utils.rs), so peak memory stops growing with the file's size. Below it, two copies
# (at most 64 MB) spare a small file's signing the temporary files' system calls (a third of signing a
# short clip or a thumbnail). See docs/content-credentials.md#memory.
BACKING_STORE_MEMORY_MB = 32


@functools.cache
def _builder_context() -> c2pa.Context:
    """No claim thumbnail (it would be bigger than our thumbnails, and the file itself is the picture);
    the library's working copies of a file of more than 32 MB on disk, not in memory."""
    return c2pa.Context(
        c2pa.Settings.from_dict(
            {
                "builder": {"thumbnail": {"enabled": False}},
                "core": {"backing_store_memory_threshold_in_mb": BACKING_STORE_MEMORY_MB},
            }
        )
    )


@functools.lru_cache(maxsize=4)
def _signer(chain_pem: bytes, key_pem: bytes) -> c2pa.Signer:
    """One signer per identity in a process: making one parses the key and the chain, a tenth of signing a small
    file. Keyed by the PEMs, so a rotated identity gets its own. c2pa lets calls share a signer (it is only read)."""
    return c2pa.Signer.from_info(c2pa.C2paSignerInfo(b"es256", chain_pem, key_pem, None))


def manifest_definition(*, title: str, facts: dict) -> dict:
    return {
        "claim_generator_info": [CLAIM_GENERATOR],
        "title": title,
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA}]},
            },
            {"label": GOVERNANCE_ASSERTION, "data": facts},
        ],
    }


def sign(
    *,
    source: BinaryIO,
    dest: BinaryIO,
    content_type: str,
    title: str,
    facts: dict,
    identity: SigningIdentity,
    ingredients: Sequence[Ingredient] = (),
    source_has_manifest: bool | None = None,
) -> None:
    """Write `source` to `dest` with a signed manifest; a manifest already in `source` becomes an ingredient.

    `source_has_manifest`: what `has_manifest(source)` said, where the caller has just asked (None: ask here).
    """
    if source_has_manifest is None:
        source_has_manifest = has_manifest(source, content_type)
    with c2pa.Builder(manifest_definition(title=title, facts=facts), context=_builder_context()) as builder:
        if source_has_manifest:
            builder.add_ingredient(
                {"title": f"{title} (as the provider delivered it)", "relationship": "componentOf"},
                content_type,
                source,
            )
            source.seek(0)
        for ingredient in ingredients:
            ingredient.stream.seek(0)
            builder.add_ingredient(
                {"title": ingredient.title, "relationship": ingredient.relationship},
                ingredient.content_type,
                ingredient.stream,
            )
        builder.sign(_signer(identity.chain_pem, identity.key_pem), content_type, source, dest)
