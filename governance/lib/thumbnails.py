"""A thumbnail made from a video, for providers that give none (Veo, Runway, Seedance, Grok Imagine)."""

import io
from typing import BinaryIO

import av
from PIL import Image

from governance.lib.frames import frames_numbered, pictures_at

THUMBNAIL_WIDTH = 480
THUMBNAIL_TYPE = "image/webp"
# The frame a tenth of the way in: the first frames are often black.
THUMBNAIL_SHARE = 0.1


def thumbnail_picture_of(video: BinaryIO) -> Image.Image | None:
    """The frame a tenth of the way in (the first where the container does not say how many frames it has) at
    the thumbnail's width; None if it cannot be decoded."""
    video.seek(0)
    try:
        with av.open(video) as container:
            stream = container.streams.video[0]
            pictures = pictures_at(container, stream, [THUMBNAIL_SHARE])
            picture = pictures[0] if pictures is not None else frames_numbered(container, stream, [0]).get(0)
    except (av.FFmpegError, IndexError, OSError, ValueError):
        return None
    finally:
        video.seek(0)
    return thumbnail_picture(picture) if picture is not None else None


def thumbnail_picture(picture: Image.Image) -> Image.Image:
    """The picture at the thumbnail's width, or at its own where it is narrower (enlarging adds bytes and the
    encoder's time, not detail): what its WebP shows, before compression."""
    picture = picture.convert("RGB")
    if picture.width <= THUMBNAIL_WIDTH:
        return picture
    height = max(1, round(picture.height * THUMBNAIL_WIDTH / picture.width))
    return picture.resize((THUMBNAIL_WIDTH, height))


def webp_of(thumbnail: Image.Image) -> bytes:
    out = io.BytesIO()
    # libwebp's fastest method: a third of the default's (4) CPU for a few per cent more bytes at the same quality.
    thumbnail.save(out, format="WEBP", quality=80, method=0)
    return out.getvalue()
