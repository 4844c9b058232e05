"""Decoded video frames as RGB pictures, converted with one scaler per video.

PyAV's `VideoFrame.to_image()` gives every frame a new libswscale context (a third of a millisecond
for a small frame, more than decoding it); the frames of one video share their size and pixel format,
so one reformatter converts them all, to the same pixels.
"""

import av
from av.video.reformatter import VideoReformatter
from PIL import Image


class Pictures:
    """Call with each frame of one video, in turn: its RGB picture, as `frame.to_image()` gives it."""

    def __init__(self) -> None:
        self._reformatter = VideoReformatter()

    def __call__(self, frame: av.VideoFrame) -> Image.Image:
        return self._reformatter.reformat(frame, format="rgb24").to_image()
