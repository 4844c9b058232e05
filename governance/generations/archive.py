"""Our own copy of every completed generation's video and thumbnail, signed once as it is archived.

Providers expire their download links and shut down; the archive does not. When the
provider reports a generation completed, the worker streams each file into a temporary
file, signs it with a C2PA manifest naming the governance facts (unless the environment
switched signing off), stores it through Django's storage API (`STORAGES["archive"]`) and
records its size, SHA-256, the signing certificate and perceptual hashes for later lookups.
"""

import contextlib
import logging
import mimetypes
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import av
from django.core.files import File
from django.core.files.storage import storages
from django.db import transaction
from PIL import Image

from governance.content_credentials import signing
from governance.content_credentials.fingerprints import (
    SAMPLE_SHARES,
    distinct,
    hashes_of,
    perceptual_hashes,
    sha256_of,
)
from governance.content_credentials.identity import load_identity
from governance.generations.models import ArchivedFile, Generation
from governance.generations.providers.base import ProviderAdapter, UpstreamJob
from governance.generations.upstream import UpstreamError
from governance.lib.frames import pictures_at
from governance.lib.thumbnails import THUMBNAIL_SHARE, THUMBNAIL_TYPE, thumbnail_picture, thumbnail_picture_of, webp_of

logger = logging.getLogger(__name__)

ARCHIVED_VARIANTS = (ArchivedFile.Variant.VIDEO, ArchivedFile.Variant.THUMBNAIL)
DEFAULT_TYPES = {ArchivedFile.Variant.VIDEO: "video/mp4", ArchivedFile.Variant.THUMBNAIL: "image/webp"}
CHUNK_SIZE = 64 * 1024


def archive_storage():
    return storages["archive"]


def archive_generation(
    generation: Generation, adapter: ProviderAdapter, job: UpstreamJob | None = None
) -> list[ArchivedFile]:
    """Copy, sign and keep each of the generation's files; raises UpstreamError when the provider cannot deliver.

    `job` is the finished job as the worker or the tracker just read it (its links minutes old at most; a failed
    download is retried with a new read); without it, the adapter reads it again where its files are links.
    Where the provider gives no thumbnail, one is made from the video.
    """
    video, pictures = _archive_variant(generation, ArchivedFile.Variant.VIDEO, adapter, job)
    thumbnail, _ = _archive_variant(generation, ArchivedFile.Variant.THUMBNAIL, adapter, job, still=pictures.thumbnail)
    return _record([video, thumbnail])


RECORDED_FIELDS = [
    "name",
    "content_type",
    "size",
    "sha256",
    "upstream_sha256",
    "upstream_size",
    "signed",
    "certificate_fingerprint",
    "unsigned_reason",
    "upstream_manifest",
    "perceptual_hashes",
]


def _record(archived: list[ArchivedFile]) -> list[ArchivedFile]:
    """The files' rows in one statement once all are stored; a row an interrupted earlier attempt wrote is replaced
    (its file was, under the same name), keeping when that attempt archived it."""
    return ArchivedFile.objects.bulk_create(
        archived, update_conflicts=True, unique_fields=["generation", "variant"], update_fields=RECORDED_FIELDS
    )


@dataclass(frozen=True)
class _Pictures:
    """What a file's pictures give the archive: its perceptual hashes and, for a video, the picture a thumbnail
    made from it shows."""

    hashes: list[str]
    thumbnail: Image.Image | None = None


def _archive_variant(
    generation: Generation,
    variant: str,
    adapter: ProviderAdapter,
    job: UpstreamJob | None,
    *,
    still: Image.Image | None = None,
) -> tuple[ArchivedFile, _Pictures]:
    """Fetch (or make, from the video's `still`), sign, hash and store one file; its row, not yet saved, and what
    its pictures gave."""
    with tempfile.TemporaryFile() as original, tempfile.TemporaryFile() as signed_copy:
        content_type, made_here = _download(generation, variant, adapter, job, original, still)
        upstream_sha256, upstream_size = sha256_of(original)
        # A thumbnail we made from the video carries no manifest of the provider's.
        upstream_manifest = False if made_here else signing.has_manifest(original, content_type)
        # Read before signing: signing adds a manifest and leaves the pictures as they are.
        pictures = _Pictures(hashes_of([still])) if made_here else _pictures(original, content_type, variant)
        outcome = _sign(generation, variant, content_type, original, signed_copy, upstream_manifest=upstream_manifest)
        delivered = signed_copy if outcome.signed else original
        sha256, size = sha256_of(delivered)
        name = _store(generation, variant, content_type, delivered)
        archived = ArchivedFile(
            generation=generation,
            variant=variant,
            name=name,
            content_type=content_type,
            size=size,
            sha256=sha256,
            upstream_sha256=upstream_sha256,
            upstream_size=upstream_size,
            signed=outcome.signed,
            certificate_fingerprint=outcome.fingerprint,
            unsigned_reason=outcome.unsigned_reason,
            upstream_manifest=upstream_manifest,
            perceptual_hashes=pictures.hashes,
        )
    logger.info(
        "archived %s %s (%d bytes, sha256 %s, %s)",
        generation.video_id,
        variant,
        size,
        sha256,
        f"signed by certificate {outcome.fingerprint}" if outcome.signed else f"unsigned: {outcome.unsigned_reason}",
    )
    return archived, pictures


def _pictures(file: BinaryIO, content_type: str, variant: str) -> _Pictures:
    """A video's perceptual hashes and thumbnail picture from one decode where the container says how many frames
    it has (each read on its own where it does not); an image's perceptual hash.

    The video variant is decoded as a video whatever type its link served (a bucket's application/octet-stream).
    """
    if variant != ArchivedFile.Variant.VIDEO:
        return _Pictures(perceptual_hashes(file, content_type))
    file.seek(0)
    try:
        with av.open(file) as container:
            stream = container.streams.video[0]
            pictures = pictures_at(container, stream, [*SAMPLE_SHARES, THUMBNAIL_SHARE])
    except (av.FFmpegError, IndexError, OSError, ValueError):
        pictures = None
    finally:
        file.seek(0)
    if pictures is None:
        return _Pictures(perceptual_hashes(file, DEFAULT_TYPES[variant]), thumbnail_picture_of(file))
    *samples, thumbnail = pictures
    return _Pictures(hashes_of(distinct(samples)), thumbnail_picture(thumbnail) if thumbnail is not None else None)


def _download(
    generation: Generation,
    variant: str,
    adapter: ProviderAdapter,
    job: UpstreamJob | None,
    into: BinaryIO,
    still: Image.Image | None,
) -> tuple[str, bool]:
    """Write the provider's file into `into`; a thumbnail the provider does not give is made from the video's
    `still`.

    Returns the file's content type, and whether we made it (the provider gave none)."""
    with adapter.open_media(generation, variant, job) as media:
        if media is not None:
            chunks, content_type = media
            for chunk in chunks:
                into.write(chunk)
    if media is None:
        if variant != ArchivedFile.Variant.THUMBNAIL or still is None:
            raise UpstreamError(f"The provider gave no {variant} for this video.", status=502, code="no_content")
        into.write(webp_of(still))
        content_type = THUMBNAIL_TYPE
    into.seek(0)
    return (content_type or "").split(";")[0].strip() or DEFAULT_TYPES[variant], media is None


def _store(generation: Generation, variant: str, content_type: str, content: BinaryIO) -> str:
    """Save under a name derived from the generation, replacing what an interrupted earlier attempt left."""
    extension = mimetypes.guess_extension(content_type) or ".bin"
    content.seek(0)
    try:
        return archive_storage().save(f"{generation.video_id}/{variant}{extension}", File(content))
    except OSError as error:
        raise UpstreamError(f"The archive could not store the {variant}: {error}", code="archive_failed") from error


@dataclass(frozen=True)
class _Outcome:
    signed: bool = False
    fingerprint: str = ""
    unsigned_reason: str = ""


def _sign(
    generation: Generation,
    variant: str,
    content_type: str,
    original: BinaryIO,
    dest: BinaryIO,
    *,
    upstream_manifest: bool,
) -> _Outcome:
    if not generation.environment.sign_content:
        return _Outcome(unsigned_reason="signing is off for this environment")
    identity = load_identity()
    if identity is None:
        logger.warning("no signing identity configured; %s %s archived unsigned", generation.video_id, variant)
        return _Outcome(unsigned_reason="no signing identity is configured")
    with _source_ingredients(generation, variant) as ingredients:
        try:
            signing.sign(
                source=original,
                dest=dest,
                content_type=content_type,
                title=f"{generation.video_id}-{variant}{mimetypes.guess_extension(content_type) or ''}",
                facts=governance_facts(generation),
                identity=identity,
                ingredients=ingredients,
                source_has_manifest=upstream_manifest,
            )
        except signing.c2pa.C2paError as error:
            logger.warning("could not sign %s %s: %s", generation.video_id, variant, error)
            original.seek(0)
            return _Outcome(unsigned_reason=f"signing failed: {str(error)[:150]}")
    return _Outcome(signed=True, fingerprint=identity.fingerprint)


@contextlib.contextmanager
def _source_ingredients(generation: Generation, variant: str) -> Iterator[list[signing.Ingredient]]:
    """What the file came from, open as an ingredient while signing.

    The source generation's archived file of the same variant; failing that, for the video,
    the source video the client uploaded (an edit or extension of a file we did not make).
    """
    source = generation.source
    archived = source and ArchivedFile.objects.filter(generation=source, variant=variant).first()
    if not archived or not archive_storage().exists(archived.name):
        with _uploaded_source(generation, variant) as ingredients:
            yield ingredients
        return
    title = f"{source.video_id}-{variant}{mimetypes.guess_extension(archived.content_type) or ''}"
    with archive_storage().open(archived.name, "rb") as file:
        yield [signing.Ingredient(title=title, content_type=archived.content_type, stream=file)]


def governance_facts(generation: Generation) -> dict:
    """What our assertion says: who made the file, with which snapshot, under which policy."""
    revision = generation.policy_revision
    source = generation.source
    facts = {
        "generation_id": generation.video_id,
        "operation": generation.operation,
        "provider": generation.provider.slug if generation.provider else "",
        "requested_model": generation.requested_model,
        "resolved_snapshot": generation.resolved_snapshot,
        "project": generation.project.slug,
        "environment": generation.environment.name,
        "policy_revision": revision.number if revision else None,
        "canary_arm": generation.canary_arm or None,
        "prompt_sha256": generation.prompt_sha256,
        "source_generation_id": source.video_id if source else None,
        "upstream_id": generation.upstream_id,
    }
    if generation.environment.prompt_in_credentials:
        facts["prompt"] = generation.prompt
    return facts


def delete_archived_files(names: list[str]) -> None:
    """Remove files from the archive storage; a file already gone is not an error."""
    storage = archive_storage()
    for name in names:
        try:
            storage.delete(name)
        except OSError:
            logger.warning("could not delete archived file %s", name, exc_info=True)


def forget_archive(generation_ids: list[int]) -> None:
    """Delete the generations' archived files once the transaction that deletes their rows commits."""
    names = list(ArchivedFile.objects.filter(generation_id__in=generation_ids).values_list("name", flat=True))
    if names:
        transaction.on_commit(lambda: delete_archived_files(names))


def open_archived(archived: ArchivedFile) -> BinaryIO:
    """The archived file to read once from the start: a local file, or the body of one GET from the bucket.

    django-storages' S3File first asks the bucket for the object's metadata (a HEAD, one more round trip before
    the first byte), then would download the whole object into memory (a SpooledTemporaryFile with
    AWS_S3_MAX_MEMORY_SIZE, 0 by default: never rolled over). The size and type are recorded here already, so
    one GET does, and its body streams (boto3's StreamingBody). Raises OSError when the file cannot be had.
    """
    storage = archive_storage()
    bucket = getattr(storage, "bucket", None)
    if bucket is None:
        return storage.open(archived.name, "rb")
    # Only a bucket's storage (django-storages' S3 backend, an optional extra) brings these.
    from botocore.exceptions import BotoCoreError, ClientError
    from storages.utils import clean_name, safe_join

    key = safe_join(storage.location, clean_name(archived.name))  # as the storage names the object
    try:
        return bucket.Object(key).get()["Body"]
    except ClientError as error:
        if error.response["ResponseMetadata"]["HTTPStatusCode"] == 404:  # NoSuchKey, or NoSuchBucket
            raise FileNotFoundError(f"{key}: {error}") from error
        raise OSError(f"The bucket refused {key}: {error}") from error
    except BotoCoreError as error:
        raise OSError(f"The bucket cannot be reached: {error}") from error


@contextlib.contextmanager
def _uploaded_source(generation: Generation, variant: str) -> Iterator[list[signing.Ingredient]]:
    upload = generation.source_video
    if variant != ArchivedFile.Variant.VIDEO or not upload or not upload.storage.exists(upload.name):
        yield []
        return
    title = (generation.parameters.get("video") or {}).get("filename") or "uploaded-source.mp4"
    with upload.storage.open(upload.name, "rb") as file:
        yield [signing.Ingredient(title=title, content_type="video/mp4", stream=file)]
