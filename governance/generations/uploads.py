"""Uploads checked before anything is stored or forwarded: size, real type (from the bytes), hash.

Django's upload handlers spill large files to temporary files, which Django deletes
when the request ends; a refused upload therefore leaves nothing behind. The
`LimitedUploadHandler` runs first and stops passing on a file's bytes once it is over
the limit, so an oversized upload is read off the connection but never written whole.
"""

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler

from governance.generations.errors import ApiError
from governance.generations.text import clean_text, shorten
from governance.lib.media import EXTENSIONS, IMAGE_TYPES, VIDEO_TYPES, Sniffed, sniff

KIND_WORDS = {IMAGE_TYPES: "a PNG, JPEG or WebP image", VIDEO_TYPES: "an MP4 video"}


def upload_limit() -> int:
    """The largest file any endpoint accepts; each kind may have a lower limit."""
    return max(settings.UPLOAD_MAX_BYTES, settings.INPUT_REFERENCE_MAX_BYTES)


class LimitedUploadHandler(FileUploadHandler):
    """Notes each file that grows past the upload limit and drops the rest of its bytes.

    It also notes files that began but never ended: Django silently drops a file part
    cut off before its closing boundary, which would otherwise read as a missing file.
    """

    def __init__(self, request=None):
        super().__init__(request)
        self.limit = upload_limit()
        self.received = 0
        request.oversized_uploads = set()
        request.unfinished_uploads = set()

    def new_file(self, field_name, *args, **kwargs):
        super().new_file(field_name, *args, **kwargs)
        self.received = 0
        self.request.unfinished_uploads.add(field_name)

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.request.oversized_uploads.add(self.field_name)
            return None  # later handlers never see the bytes beyond the limit
        return raw_data

    def file_complete(self, file_size):
        self.request.unfinished_uploads.discard(self.field_name)
        return None


@dataclass(frozen=True)
class CheckedUpload:
    file: UploadedFile
    filename: str
    content_type: str
    size: int
    sha256: str
    sniffed: Sniffed

    @property
    def storage_name(self) -> str:
        """Uploads are stored under their hash, whatever the client called them."""
        return self.sha256 + EXTENSIONS[self.content_type]

    def log_entry(self) -> dict:
        """What the generation log keeps about the upload (never its bytes)."""
        entry = {
            "filename": self.filename,
            "content_type": self.content_type,
            "bytes": self.size,
            "sha256": self.sha256,
        }
        if self.sniffed.size:
            entry["dimensions"] = self.sniffed.size
        if self.sniffed.seconds is not None:
            entry["duration_seconds"] = round(self.sniffed.seconds, 3)
        return entry


def check_upload(upload: UploadedFile, *, param: str, kinds: tuple[str, ...], limit: int) -> CheckedUpload:
    """The upload if it is non-empty, within `limit` and really one of `kinds`; a clear 400 otherwise."""
    if upload.size > limit:
        raise ApiError("file_too_large", f"'{param}' is larger than the limit of {limit} bytes.", param)
    if not upload.size:
        raise ApiError("empty_file", f"'{param}' is empty.", param)
    sniffed = sniff(upload)
    if sniffed is None or sniffed.content_type not in kinds:
        claimed = upload.content_type or "no type"
        raise ApiError(
            "unsupported_file_type",
            f"'{param}' must be {KIND_WORDS[kinds]}; its bytes are not (the client called it {claimed}).",
            param,
        )
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return CheckedUpload(
        file=upload,
        filename=clean_text(shorten(upload.name or param, 200)),
        content_type=sniffed.content_type,
        size=upload.size,
        sha256=digest.hexdigest(),
        sniffed=sniffed,
    )
