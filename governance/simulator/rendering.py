"""Real, small videos for the simulator: an H.264 MP4 and a JPEG thumbnail rendered with PyAV.

What a clip looks like depends on the snapshot (its palette and the motion of its shapes),
the prompt (the layout of a soft background and where the shapes start) and the seed, so
two snapshots give visibly different clips for the same prompt, and a comparison run shows
real pairs. The same inputs give the same bytes: one encoder thread, bit-exact muxing and no
timestamps in the container. Clips are rendered at a tenth of the requested size and a few
frames per second, which keeps rendering in the tens of milliseconds.
"""

import functools
import hashlib
import io
from dataclasses import dataclass

import av
import numpy as np

FRAMES_PER_SECOND = 2
SCALE = 10  # 720x1280 is rendered at 72x128
JPEG_QUALITY = 80


@dataclass(frozen=True)
class Look:
    """A snapshot's visual signature."""

    palette: tuple[tuple[int, int, int], ...]
    shape_count: int
    drift: float


LOOKS = (
    Look(palette=((224, 122, 95), (61, 64, 91), (129, 178, 154), (242, 204, 143)), shape_count=3, drift=0.06),
    Look(palette=((38, 70, 83), (42, 157, 143), (233, 196, 106), (231, 111, 81)), shape_count=5, drift=0.11),
    Look(palette=((17, 17, 17), (120, 0, 180), (0, 200, 255), (255, 255, 255)), shape_count=2, drift=0.16),
)


@dataclass(frozen=True)
class RenderedVideo:
    video: bytes
    thumbnail: bytes


def _digest(*parts: object) -> int:
    text = "\x1f".join(str(part) for part in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _look_for(snapshot: str) -> Look:
    return LOOKS[_digest("look", snapshot) % len(LOOKS)]


def _render_size(size: str) -> tuple[int, int]:
    width, height = (int(side) for side in size.split("x"))
    return max(16, width // SCALE // 2 * 2), max(16, height // SCALE // 2 * 2)


def _frames(snapshot: str, prompt: str, seed: int, width: int, height: int, count: int) -> list[np.ndarray]:
    look = _look_for(snapshot)
    scene = np.random.default_rng(_digest("scene", prompt, seed))
    style = np.random.default_rng(_digest("style", snapshot, seed))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    ys, xs = ys / height, xs / width
    waves = scene.uniform(1.0, 4.0, size=(3, 2))
    phases = scene.uniform(0, 2 * np.pi, size=3)
    background = sum(
        np.sin(2 * np.pi * (fx * xs + fy * ys) + phase) for (fx, fy), phase in zip(waves, phases, strict=True)
    )
    background = (background - background.min()) / (np.ptp(background) or 1.0)
    low, high = np.array(look.palette[0], np.float32), np.array(look.palette[1], np.float32)
    base = low + background[..., None] * (high - low)
    starts = scene.uniform(0.15, 0.85, size=(look.shape_count, 2))
    headings = style.uniform(-1, 1, size=(look.shape_count, 2)) * look.drift
    radius = 0.12 + 0.04 * style.random()
    frames = []
    for index in range(count):
        frame = base.copy()
        for number, (start, heading) in enumerate(zip(starts, headings, strict=True)):
            cx, cy = (start + heading * index) % 1.0
            inside = (xs - cx) ** 2 + ((ys - cy) * height / width) ** 2 < radius**2
            frame[inside] = look.palette[2 + number % 2]
        frames.append(frame.astype(np.uint8))
    return frames


def _encode_mp4(frames: list[np.ndarray], width: int, height: int) -> bytes:
    output = io.BytesIO()
    with av.open(output, "w", format="mp4", options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream(
            "libx264", rate=FRAMES_PER_SECOND, options={"preset": "ultrafast", "crf": "28", "threads": "1"}
        )
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.flags |= av.codec.context.Flags.bitexact
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return output.getvalue()


def _encode_jpeg(frame: np.ndarray) -> bytes:
    output = io.BytesIO()
    av.VideoFrame.from_ndarray(frame, format="rgb24").to_image().save(output, "JPEG", quality=JPEG_QUALITY)
    return output.getvalue()


@functools.lru_cache(maxsize=64)
def render(*, snapshot: str, prompt: str, seed: int, size: str, seconds: int) -> RenderedVideo:
    """A clip of `seconds` seconds and its thumbnail (the first frame); cached, as the bytes never change."""
    width, height = _render_size(size)
    frames = _frames(snapshot, prompt, seed, width, height, max(1, seconds * FRAMES_PER_SECOND))
    return RenderedVideo(video=_encode_mp4(frames, width, height), thumbnail=_encode_jpeg(frames[0]))
