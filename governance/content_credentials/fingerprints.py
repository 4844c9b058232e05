"""Content fingerprints that survive losing the manifest: the exact SHA-256, and perceptual hashes of frames.

A re-encoded video or a screenshot has none of the signed bytes left, but its pictures
still look the same: a perceptual hash (DCT hash, imagehash's `phash`) of a few frames
changes by only a few bits when the picture is re-compressed or rescaled.
"""

import hashlib
from typing import BinaryIO

import av
import imagehash
from PIL import Image, UnidentifiedImageError

from governance.lib.frames import Pictures

FRAMES_PER_VIDEO = 8
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
            return [str(imagehash.phash(image)) for image in _video_frames(stream)]
        return [str(imagehash.phash(Image.open(stream).convert("RGB")))]
    except (av.FFmpegError, UnidentifiedImageError, OSError, ValueError):
        return []
    finally:
        stream.seek(0)


def _video_frames(stream: BinaryIO) -> list[Image.Image]:
    """Up to eight evenly spaced frames (keyframes when the container does not say how many frames it has)."""
    with av.open(stream) as container:
        video = container.streams.video[0]
        if not video.frames:
            return _first_keyframes(container, video)
        return _frames_at(container, video, video.frames)


def _first_keyframes(container, video) -> list[Image.Image]:
    images, picture = [], Pictures()
    for frame in container.decode(video):
        if frame.key_frame:
            images.append(picture(frame))
        if len(images) >= FRAMES_PER_VIDEO:
            break
    return images


def _frames_at(container, video, total: int) -> list[Image.Image]:
    """Frames number 0, total/8, 2*total/8, ... in presentation order, decoding only the groups of pictures they are in.

    Reading the packets (no decoding) gives every frame's timestamp and the keyframes; where a
    keyframe lies between the last frame decoded and the next one wanted, seeking to it skips
    what lies between. A long video then costs eight short decodes, not decoding it to 7/8.
    """
    packets = [(packet.pts, packet.is_keyframe) for packet in container.demux(video) if packet.pts is not None]
    if not packets:
        return []
    presentation = sorted(pts for pts, _ in packets)
    keyframes = sorted(pts for pts, keyframe in packets if keyframe)
    wanted = sorted(
        {
            presentation[min(int(index * total / FRAMES_PER_VIDEO), len(presentation) - 1)]
            for index in range(FRAMES_PER_VIDEO)
        }
    )
    images, frames, last_decoded, picture = [], None, None, Pictures()
    for target in wanted:
        keyframe = max((pts for pts in keyframes if pts <= target), default=None)
        if frames is None or (keyframe is not None and last_decoded is not None and keyframe > last_decoded):
            container.seek(target, stream=video, backward=True)  # to the keyframe at or before `target`
            frames = container.decode(video)
        for frame in frames:
            last_decoded = frame.pts
            if frame.pts is not None and frame.pts >= target:
                images.append(picture(frame))
                break
    return images


def distance(first: str, second: str) -> int:
    return imagehash.hex_to_hash(first) - imagehash.hex_to_hash(second)
