"""Decoded video frames as RGB pictures: the ones wanted, found in one pass, converted with one scaler per video.

PyAV's `VideoFrame.to_image()` gives every frame a new libswscale context (a third of a millisecond
for a small frame, more than decoding it); the frames of one video share their size and pixel format,
so one reformatter converts them all, to the same pixels.
"""

from collections.abc import Sequence

import av
from av.container import InputContainer
from av.video.reformatter import VideoReformatter
from av.video.stream import VideoStream
from PIL import Image


class Pictures:
    """Call with each frame of one video, in turn: its RGB picture, as `frame.to_image()` gives it."""

    def __init__(self) -> None:
        self._reformatter = VideoReformatter()

    def __call__(self, frame: av.VideoFrame) -> Image.Image:
        return self._reformatter.reformat(frame, format="rgb24").to_image()


def frames_numbered(container: InputContainer, stream: VideoStream, numbers: Sequence[int]) -> dict[int, Image.Image]:
    """The pictures of frames `numbers` in presentation order (past the end: the last frame), decoding only the
    groups of pictures they are in; a frame that cannot be decoded is left out.

    Reading the packets (no decoding) gives every frame's timestamp and the keyframes; where a
    keyframe lies between the last frame decoded and the next one wanted, seeking to it skips
    what lies between. A long video then costs a short decode per frame wanted, not decoding it to the end.
    """
    packets = [(packet.pts, packet.is_keyframe) for packet in container.demux(stream) if packet.pts is not None]
    if not packets:
        return {}
    presentation = sorted(pts for pts, _ in packets)
    keyframes = sorted(pts for pts, keyframe in packets if keyframe)
    target_of = {number: presentation[min(number, len(presentation) - 1)] for number in numbers}
    found, frames, last_decoded, picture = {}, None, None, Pictures()
    for target in sorted(set(target_of.values())):
        keyframe = max((pts for pts in keyframes if pts <= target), default=None)
        if frames is None or (keyframe is not None and last_decoded is not None and keyframe > last_decoded):
            container.seek(target, stream=stream, backward=True)  # to the keyframe at or before `target`
            frames = container.decode(stream)
        for frame in frames:
            last_decoded = frame.pts
            if frame.pts is not None and frame.pts >= target:
                found[target] = picture(frame)
                break
    return {number: found[target] for number, target in target_of.items() if target in found}


def pictures_at(
    container: InputContainer, stream: VideoStream, shares: Sequence[float]
) -> list[Image.Image | None] | None:
    """The picture at each share of the video's frames (0 the first, 0.1 a tenth of the way in), decoded in one
    pass; None when the container does not say how many frames the video has."""
    if not stream.frames:
        return None
    numbers = [int(share * stream.frames) for share in shares]
    pictures = frames_numbered(container, stream, numbers)
    return [pictures.get(number) for number in numbers]
