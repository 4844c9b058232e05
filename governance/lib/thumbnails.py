"""A thumbnail made from a video, for providers that give none (Veo, Runway, Seedance, Grok Imagine)."""

import io
from typing import BinaryIO

import av
from PIL import Image

THUMBNAIL_WIDTH = 480
THUMBNAIL_TYPE = "image/webp"


def thumbnail_of(video: BinaryIO, *, at_share: float = 0.1) -> bytes | None:
    """A WebP of the frame a tenth of the way in (the first frames are often black); None if it cannot be decoded."""
    video.seek(0)
    try:
        with av.open(video) as container:
            stream = container.streams.video[0]
            wanted = int((stream.frames or 0) * at_share)
            picture = None
            for number, frame in enumerate(container.decode(stream)):
                picture = frame.to_image()
                if number >= wanted:
                    break
    except (av.FFmpegError, IndexError, OSError, ValueError):
        return None
    finally:
        video.seek(0)
    if picture is None:
        return None
    return _webp(picture)


def _webp(picture: Image.Image) -> bytes:
    height = max(1, round(picture.height * THUMBNAIL_WIDTH / picture.width))
    picture = picture.convert("RGB").resize((THUMBNAIL_WIDTH, height))
    out = io.BytesIO()
    picture.save(out, format="WEBP", quality=80)
    return out.getvalue()
