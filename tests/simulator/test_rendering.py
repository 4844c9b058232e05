"""The simulator renders real, small H.264 clips whose look depends on snapshot, prompt and seed."""

import io

import av
from PIL import Image

from governance.simulator.rendering import render

OLD, NEW = "sora-2-2025-10-06", "sora-2-2025-12-08"


def clip(snapshot=OLD, prompt="a lighthouse at dusk", seed=0, size="720x1280", seconds=4):
    return render(snapshot=snapshot, prompt=prompt, seed=seed, size=size, seconds=seconds)


def test_a_clip_is_a_valid_h264_mp4_of_the_requested_length_and_shape():
    with av.open(io.BytesIO(clip().video)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        assert stream.codec_context.name == "h264"
        assert (stream.width, stream.height) == (72, 128)  # 720x1280 at a tenth
        assert float(stream.duration * stream.time_base) == 4.0
    assert len(frames) == 8
    assert Image.open(io.BytesIO(clip().thumbnail)).format == "JPEG"


def test_the_same_inputs_give_the_same_bytes():
    first = clip()
    render.cache_clear()
    assert clip() == first


def test_two_snapshots_give_different_videos_for_the_same_prompt_and_seed():
    assert clip(OLD).video != clip(NEW).video
    assert clip(OLD).thumbnail != clip(NEW).thumbnail


def test_prompt_and_seed_change_the_picture():
    assert clip(prompt="a red fox").thumbnail != clip().thumbnail
    assert clip(seed=1).video != clip().video
