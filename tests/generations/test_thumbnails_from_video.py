"""A thumbnail made from the video (providers that give none): the frame a tenth of the way in, found quickly."""

import io

import av
from PIL import Image

from governance.lib.thumbnails import THUMBNAIL_WIDTH, thumbnail_picture, thumbnail_picture_of, webp_of
from tests.content_credentials.test_fingerprints import damaged_from_frame, first_frames, moving_picture


def tenth_by_decoding_from_the_start(video: bytes) -> bytes:
    with av.open(io.BytesIO(video)) as container:
        stream = container.streams.video[0]
        wanted = int(stream.frames * 0.1)
        for number, frame in enumerate(container.decode(stream)):
            if number >= wanted:
                return webp_of(thumbnail_picture(frame.to_image()))
    raise AssertionError("the video has fewer frames than it says")


def test_the_thumbnail_is_the_frame_a_tenth_of_the_way_into_a_long_video():
    video = moving_picture(30, keyframe_every=12, b_frames=3)
    thumbnail = webp_of(thumbnail_picture_of(io.BytesIO(video)))
    assert thumbnail == tenth_by_decoding_from_the_start(video)
    assert Image.open(io.BytesIO(thumbnail)).size == (160, 96)  # the video's own: narrower than a thumbnail


def test_a_wide_video_gives_a_thumbnail_at_the_thumbnails_width_in_its_proportions():
    picture = thumbnail_picture(Image.new("RGB", (1920, 1080), "teal"))
    assert picture.size == (THUMBNAIL_WIDTH, 270)


def test_a_narrow_video_gives_a_thumbnail_at_its_own_size_never_enlarged():
    assert thumbnail_picture(Image.new("RGB", (320, 180), "teal")).size == (320, 180)


def test_a_file_that_is_no_video_has_no_thumbnail():
    assert thumbnail_picture_of(io.BytesIO(b"not a video at all")) is None


def test_a_container_that_does_not_count_its_frames_gives_its_first_frame():
    video = moving_picture(2, keyframe_every=12, b_frames=0, container_format="matroska")
    with av.open(io.BytesIO(video)) as container:
        first = next(container.decode(video=0)).to_image()
    assert webp_of(thumbnail_picture_of(io.BytesIO(video))) == webp_of(thumbnail_picture(first))


def test_a_video_damaged_before_its_tenth_gives_the_last_frame_that_decodes():
    video = moving_picture(5, keyframe_every=250, b_frames=0)
    last_decoded = first_frames(video, 3)[-1]
    thumbnail = thumbnail_picture_of(io.BytesIO(damaged_from_frame(video, 3)))
    assert thumbnail is not None
    assert webp_of(thumbnail) == webp_of(thumbnail_picture(last_decoded))
