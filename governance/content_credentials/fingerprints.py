"""Content fingerprints that survive losing the manifest: the exact SHA-256, and perceptual hashes of frames.

A re-encoded video or a screenshot has none of the signed bytes left, but its pictures
still look the same: a perceptual hash (DCT hash, imagehash's `phash`) of a few frames
changes by only a few bits when the picture is re-compressed or rescaled.
"""

import hashlib
from collections.abc import Iterable
from typing import BinaryIO

import av
import imagehash
from PIL import Image, UnidentifiedImageError

from governance.lib.frames import Pictures, pictures_at

FRAMES_PER_VIDEO = 8
SAMPLE_SHARES = tuple(index / FRAMES_PER_VIDEO for index in range(FRAMES_PER_VIDEO))
# Two hashes at most this many bits apart (of 64) are taken to show the same picture.
SAME_PICTURE_DISTANCE = 10


def sha256_of(stream: BinaryIO, chunk_size: int = 64 * 1024) -> tuple[str, int]:
    """The stream's SHA-256 and size, read in chunks from the start."""
    stream.seek(0)
    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(chunk_size):
        digest.update(chunk)
        size += len(chunk)
    stream.seek(0)
    return digest.hexdigest(), size


def perceptual_hashes(stream: BinaryIO, content_type: str) -> list[str]:
    """Hashes of up to eight evenly spaced frames of a video, or of an image; [] when it cannot be decoded."""
    stream.seek(0)
    try:
        if content_type.startswith("video/"):
            return hashes_of(_video_frames(stream))
        return hashes_of([Image.open(stream).convert("RGB")])
    except (av.FFmpegError, UnidentifiedImageError, OSError, ValueError, IndexError):  # IndexError: no video stream
        return []
    finally:
        stream.seek(0)


def hashes_of(pictures: Iterable[Image.Image]) -> list[str]:
    return [str(imagehash.phash(picture)) for picture in pictures]


def distinct(pictures: Iterable[Image.Image | None]) -> list[Image.Image]:
    """Each picture once, in order: shares of a short video that fall on one frame give the same object, once."""
    return list({id(picture): picture for picture in pictures if picture is not None}.values())


def _video_frames(stream: BinaryIO) -> list[Image.Image]:
    """Up to eight evenly spaced frames (keyframes when the container does not say how many frames it has)."""
    with av.open(stream) as container:
        video = container.streams.video[0]
        pictures = pictures_at(container, video, SAMPLE_SHARES)
        if pictures is None:
            return _first_keyframes(container, video)
        return distinct(pictures)


def _first_keyframes(container, video) -> list[Image.Image]:
    images, picture = [], Pictures()
    for frame in container.decode(video):
        if frame.key_frame:
            images.append(picture(frame))
        if len(images) >= FRAMES_PER_VIDEO:
            break
    return images


def distance(first: str, second: str) -> int:
    return imagehash.hex_to_hash(first) - imagehash.hex_to_hash(second)
