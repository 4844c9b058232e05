"""Perceptual hashes of a video: the same eight frames however the video is laid out, without decoding all of it."""

import io

import av
import imagehash
import numpy as np

from governance.content_credentials.fingerprints import FRAMES_PER_VIDEO, perceptual_hashes


def moving_picture(seconds: float, *, keyframe_every: int, b_frames: int, container_format: str = "mp4") -> bytes:
    """Frames that each look different, in short groups of pictures, with B-frames (decoded out of order)."""
    output = io.BytesIO()
    with av.open(output, "w", format=container_format) as container:
        options = {"preset": "veryfast", "g": str(keyframe_every), "x264-params": f"bframes={b_frames}:b-adapt=0"}
        stream = container.add_stream("libx264", rate=24, options=options)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        columns, rows = np.arange(160)[None, :, None], np.arange(96)[:, None, None]
        for number in range(round(seconds * 24)):
            pixels = ((columns * (number % 5 + 1) + rows * (number % 3) + 7 * number) % 256).repeat(3, axis=2)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels.astype(np.uint8), format="rgb24")))
        container.mux(stream.encode())
    return output.getvalue()


def damaged_from_frame(video: bytes, number: int) -> bytes:
    """The video with the data of every frame from `number` on zeroed, as a damaged download would have it."""
    damaged = bytearray(video)
    with av.open(io.BytesIO(video)) as container:
        packets = sorted((packet.pts, packet.pos, packet.size) for packet in container.demux(video=0) if packet.size)
    for _, position, size in packets[number:]:
        damaged[position : position + size] = bytes(size)
    return bytes(damaged)


def first_frames(video: bytes, count: int) -> list:
    with av.open(io.BytesIO(video)) as container:
        return [frame.to_image() for _, frame in zip(range(count), container.decode(video=0), strict=False)]


def every_eighth_by_decoding_it_all(video: bytes) -> list[str]:
    with av.open(io.BytesIO(video)) as container:
        stream = container.streams.video[0]
        wanted = {int(index * stream.frames / FRAMES_PER_VIDEO) for index in range(FRAMES_PER_VIDEO)}
        frames = [frame.to_image() for number, frame in enumerate(container.decode(stream)) if number in wanted]
    return [str(imagehash.phash(frame)) for frame in frames]


def test_a_long_video_is_hashed_at_the_same_eight_frames_as_decoding_it_all():
    video = moving_picture(20, keyframe_every=12, b_frames=3)
    hashes = perceptual_hashes(io.BytesIO(video), "video/mp4")
    assert len(hashes) == FRAMES_PER_VIDEO and len(set(hashes)) > 1
    assert hashes == every_eighth_by_decoding_it_all(video)


def test_a_video_in_one_group_of_pictures_is_hashed_at_the_same_frames():
    video = moving_picture(4, keyframe_every=250, b_frames=0)
    assert perceptual_hashes(io.BytesIO(video), "video/mp4") == every_eighth_by_decoding_it_all(video)


def test_a_video_shorter_than_eight_frames_is_hashed_once_per_frame():
    video = moving_picture(3 / 24, keyframe_every=12, b_frames=0)
    hashes = perceptual_hashes(io.BytesIO(video), "video/mp4")
    assert len(hashes) == 3 and hashes == every_eighth_by_decoding_it_all(video)


def test_a_container_that_does_not_count_its_frames_is_hashed_from_its_first_keyframe_on():
    video = moving_picture(2, keyframe_every=12, b_frames=0, container_format="matroska")
    with av.open(io.BytesIO(video)) as container:
        assert container.streams.video[0].frames == 0
        first = next(container.decode(video=0)).to_image()
    hashes = perceptual_hashes(io.BytesIO(video), "video/x-matroska")
    assert 1 < len(hashes) <= FRAMES_PER_VIDEO and hashes[0] == str(imagehash.phash(first))


def test_a_video_damaged_after_its_first_frames_is_hashed_at_the_frames_that_decode():
    video = moving_picture(5, keyframe_every=250, b_frames=0)
    hashes = perceptual_hashes(io.BytesIO(damaged_from_frame(video, 3)), "video/mp4")
    first, _, last_decoded = first_frames(video, 3)
    assert hashes == [str(imagehash.phash(first)), str(imagehash.phash(last_decoded))]
