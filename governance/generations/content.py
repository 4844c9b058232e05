"""A completed generation's content: one way for the gateway and the dashboard.

Archived files (the video and thumbnail, signed when archived) stream from our archive;
anything else the provider offers (the spritesheet) still passes through from the provider.
An archived file is a `FileResponse`: from a folder, the WSGI server sends it with sendfile(2)
(gunicorn's `wsgi.file_wrapper`); from a bucket, it is the body of one GET, read in 1 MiB chunks.
"""

import contextlib
import logging

from django.http import FileResponse, StreamingHttpResponse

from governance.generations.archive import open_archived
from governance.generations.models import ArchivedFile, Generation
from governance.generations.providers import adapter_for
from governance.generations.upstream import UpstreamError

logger = logging.getLogger(__name__)

CONTENT_VARIANTS = {"video": "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}
# What one read of an archived file returns when the server cannot sendfile it (a bucket's body).
CHUNK_SIZE = 1024 * 1024
# The API's codes for an archived file our archive cannot give: gone for good, or not now (its folder or bucket away).
ARCHIVE_FILE_MISSING = "archive_file_missing"
ARCHIVE_UNAVAILABLE = "archive_unavailable"


class ArchiveUnreadable(Exception):
    """Our archive (its folder or bucket) cannot give an archived file; `code` is the API's error code for it."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message, self.code = message, code


def stream_content(generation: Generation, variant: str, *, headers: dict | None = None) -> StreamingHttpResponse:
    """Stream the archived file, or the provider's for a file not in our archive.

    Raises ArchiveUnreadable when the archive cannot give its file, UpstreamError when the provider cannot.
    """
    archived = ArchivedFile.objects.filter(generation=generation, variant=variant).first()
    if archived is not None:
        return _from_archive(archived, dict(headers or {}))
    return _from_provider(generation, variant, dict(headers or {}))


def credential_headers(archived: ArchivedFile) -> dict:
    headers = {"X-Governance-Content-SHA256": archived.sha256}
    if archived.signed:
        headers["X-Governance-Content-Credentials"] = f"signed; certificate-sha256={archived.certificate_fingerprint}"
    else:
        headers["X-Governance-Content-Credentials"] = "unsigned"
    return headers


def _from_archive(archived: ArchivedFile, headers: dict) -> FileResponse:
    try:
        file = open_archived(archived)
    except FileNotFoundError as error:
        logger.error("archived file %s is missing: %s", archived.name, error)
        message = f"The archived {archived.variant} is missing from the archive."
        raise ArchiveUnreadable(message, code=ARCHIVE_FILE_MISSING) from error
    except OSError as error:
        logger.error("archived file %s cannot be opened: %s", archived.name, error)
        message = f"The archived {archived.variant} cannot be read now; try again later."
        raise ArchiveUnreadable(message, code=ARCHIVE_UNAVAILABLE) from error
    headers.update(credential_headers(archived))
    headers["Content-Length"] = str(archived.size)
    response = FileResponse(file, content_type=archived.content_type, headers=headers)
    response.block_size = CHUNK_SIZE
    # FileResponse names a local file after its path in the archive; callers name it themselves (the dashboard).
    response.headers.pop("Content-Disposition", None)
    return response


def _from_provider(generation: Generation, variant: str, headers: dict) -> StreamingHttpResponse:
    stack = contextlib.ExitStack()
    try:
        media = stack.enter_context(adapter_for(generation.provider).open_media(generation, variant))
    except BaseException:
        stack.close()
        raise
    if media is None:
        stack.close()
        raise UpstreamError(f"The provider offers no {variant} for this video.", status=404, code="not_found")
    chunks, content_type = media
    return StreamingHttpResponse(
        _chunks(chunks, stack), content_type=content_type or CONTENT_VARIANTS[variant], headers=headers
    )


def _chunks(chunks, stack: contextlib.ExitStack):
    with stack:
        yield from chunks
