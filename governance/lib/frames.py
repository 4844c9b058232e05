"""Decoded video frames as RGB pictures: the ones wanted, found in one pass, converted with one scaler per video.

PyAV's `VideoFrame.to_image()` gives every frame a new libswscale context (a third of a millisecond
for a small frame, more than decoding it); the frames of one video share their size and pixel format,
so one reformatter converts them all, to the same pixels.
"""

from collections.abc import Iterator, Sequence

import av
from av.container import InputContainer
from av.video.reformatter import VideoReformatter
from av.video.stream import VideoStream
from PIL import Image


class Pictures:
    """Call with each frame of one video, in turn: its RGB picture, as `frame.to_image()` gives it; the same
    picture again when called again with the same frame."""

    def __init__(self) -> None:
        self._reformatter = VideoReformatter()
        self._last: tuple[av.VideoFrame, Image.Image] | None = None

    def __call__(self, frame: av.VideoFrame) -> Image.Image:
        if self._last is None or self._last[0] is not frame:
            self._last = (frame, self._reformatter.reformat(frame, format="rgb24").to_image())
        return self._last[1]


def frames_numbered(container: InputContainer, stream: VideoStream, numbers: Sequence[int]) -> dict[int, Image.Image]:
    """The pictures of frames `numbers` in presentation order (past the end: the last frame), decoding only the
    groups of pictures they are in.

    Where decoding stops before a frame wanted (the data is damaged or cut short), that frame is the last one
    decoded before it, as a player would show: a video that plays for a while still has pictures.

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
    found, frames, last_frame, picture = {}, None, None, Pictures()
    for target in sorted(set(target_of.values())):
        keyframe = max((pts for pts in keyframes if pts <= target), default=None)
        last_decoded = last_frame.pts if last_frame is not None else None
        if frames is None or (keyframe is not None and last_decoded is not None and keyframe > last_decoded):
            container.seek(target, stream=stream, backward=True)  # to the keyframe at or before `target`
            frames = _decoded(container, stream)
        for frame in frames:
            last_frame = frame
            if frame.pts is not None and frame.pts >= target:
                found[target] = picture(frame)
                break
        else:  # decoding stopped before `target`
            if last_frame is not None:
                found[target] = picture(last_frame)
    return {number: found[target] for number, target in target_of.items() if target in found}


def _decoded(container: InputContainer, stream: VideoStream) -> Iterator[av.VideoFrame]:
    """The stream's frames from where the container stands, ending where the decoder refuses the data."""
    try:
        yield from container.decode(stream)
    except av.FFmpegError:
        return


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
