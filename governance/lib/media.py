"""What an uploaded file really is, read from its bytes rather than from what the client claims.

Reference images (PNG, JPEG, WebP) and videos (MP4) are recognised by their magic
numbers; image dimensions and MP4 durations come from their headers, so an upload
is checked without decoding it and without reading it whole into memory.
"""

import struct
from dataclasses import dataclass
from typing import BinaryIO

IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")
VIDEO_TYPES = ("video/mp4",)
EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "video/mp4": ".mp4"}
SNIFF_BYTES = 64
MAX_JPEG_SCAN = 1024 * 1024
MP4_CONTAINER_BOXES = {b"moov", b"trak", b"mdia"}


@dataclass(frozen=True)
class Sniffed:
    content_type: str
    width: int | None = None
    height: int | None = None
    seconds: float | None = None

    @property
    def size(self) -> str | None:
        return f"{self.width}x{self.height}" if self.width and self.height else None


def content_type_of(head: bytes) -> str | None:
    """The media type the first bytes announce, or None for anything we do not accept."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    return None


def sniff(file: BinaryIO) -> Sniffed | None:
    """Identify a file and read its dimensions or duration; leaves the file at its start."""
    file.seek(0)
    head = file.read(SNIFF_BYTES)
    content_type = content_type_of(head)
    result = None
    if content_type == "image/png":
        result = _png(head)
    elif content_type == "image/jpeg":
        result = _jpeg(file)
    elif content_type == "image/webp":
        result = _webp(file)
    elif content_type == "video/mp4":
        result = Sniffed("video/mp4", seconds=_mp4_seconds(file))
    file.seek(0)
    return result


def _png(head: bytes) -> Sniffed:
    if len(head) >= 24 and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
        return Sniffed("image/png", width, height)
    return Sniffed("image/png")


def _jpeg(file: BinaryIO) -> Sniffed:
    """Walk the JPEG segments to the first start-of-frame marker, which holds the dimensions."""
    file.seek(2)
    while file.tell() < MAX_JPEG_SCAN:
        marker = file.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            break
        if marker[1] in (0xD8, 0x01) or 0xD0 <= marker[1] <= 0xD7:
            continue
        length_bytes = file.read(2)
        if len(length_bytes) < 2:
            break
        length = struct.unpack(">H", length_bytes)[0]
        if 0xC0 <= marker[1] <= 0xCF and marker[1] not in (0xC4, 0xC8, 0xCC):
            frame = file.read(5)
            if len(frame) == 5:
                height, width = struct.unpack(">HH", frame[1:5])
                return Sniffed("image/jpeg", width, height)
            break
        file.seek(length - 2, 1)
    return Sniffed("image/jpeg")


def _webp(file: BinaryIO) -> Sniffed:
    file.seek(12)
    chunk = file.read(30)
    kind = chunk[:4]
    if kind == b"VP8X" and len(chunk) >= 18:
        width = int.from_bytes(chunk[12:15], "little") + 1
        height = int.from_bytes(chunk[15:18], "little") + 1
        return Sniffed("image/webp", width, height)
    if kind == b"VP8 " and len(chunk) >= 18:
        width, height = struct.unpack("<HH", chunk[14:18])
        return Sniffed("image/webp", width & 0x3FFF, height & 0x3FFF)
    if kind == b"VP8L" and len(chunk) >= 13:
        bits = int.from_bytes(chunk[9:13], "little")
        return Sniffed("image/webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    return Sniffed("image/webp")


def _mp4_seconds(file: BinaryIO) -> float | None:
    """The movie header's duration (moov/mvhd), found by walking the box tree without reading media data."""
    file.seek(0, 2)
    end = file.tell()
    return _find_mvhd(file, 0, end, depth=0)


def _find_mvhd(file: BinaryIO, start: int, end: int, depth: int) -> float | None:
    position = start
    while position + 8 <= end and depth < 4:
        file.seek(position)
        header = file.read(8)
        if len(header) < 8:
            return None
        size, kind = struct.unpack(">I4s", header)
        header_size = 8
        if size == 1:
            size = struct.unpack(">Q", file.read(8))[0]
            header_size = 16
        elif size == 0:
            size = end - position
        if size < header_size:
            return None
        if kind == b"mvhd":
            return _mvhd_seconds(file.read(min(size - header_size, 32)))
        if kind in MP4_CONTAINER_BOXES:
            found = _find_mvhd(file, position + header_size, position + size, depth + 1)
            if found is not None:
                return found
        position += size
    return None


def _mvhd_seconds(body: bytes) -> float | None:
    if not body:
        return None
    if body[0] == 1 and len(body) >= 32:
        timescale, duration = struct.unpack(">IQ", body[20:32])
    elif len(body) >= 20:
        timescale, duration = struct.unpack(">II", body[12:20])
    else:
        return None
    return duration / timescale if timescale else None
