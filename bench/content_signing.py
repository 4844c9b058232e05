"""Benchmark Content Credentials: signing throughput and memory, per MB of video.

    .venv/bin/python bench/content_signing.py [--sizes 8,64,200,600]

Needs nothing but the project's dependencies: a temporary data directory holds a
development signing identity, the videos and the archive.

1. Encodes an H.264 MP4 of roughly each size (noise frames, which do not compress).
2. In a fresh process per size, signs it as the worker does when it archives a file
   (`content_credentials.signing.sign`, file in, file out, our governance assertion) and
   reports ms, MB/s, the process's peak RSS (VmHWM) and what signing added to it (the peak
   minus the process just before signing, with the library loaded by a small signing first).
3. Prints one table. Aim: what signing adds stays under MEMORY_BOUND_MB whatever the file's
   size. c2pa-rs keeps its working copies of a file above 32 MB on disk (signing.BACKING_STORE_MEMORY_MB);
   what remains is its hash buffer, up to two 256 MB chunks (docs/content-credentials.md#memory).

Downloads have their own bench: bench/downloads.py.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEMORY_BOUND_MB = 560  # two 256 MB hash chunks, and some slack
FACTS = {
    "generation_id": "video_bench",
    "provider": "simulator",
    "requested_model": "sora-2",
    "resolved_snapshot": "sora-2-2025-12-08",
    "project": "bench",
    "environment": "production",
    "policy_revision": 7,
    "canary_arm": None,
    "prompt_sha256": "0" * 64,
}


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def setup_django(data_dir: str) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "governance.settings",
            "GOVERNANCE_DATA_DIR": data_dir,
            "SECRET_KEY": "bench-only-secret-key-not-the-development-default-0123456789",
        }
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def make_video(path: Path, megabytes: int) -> None:
    import av
    import numpy as np

    rng = np.random.default_rng(megabytes)
    with av.open(str(path), "w", format="mp4") as container:
        # A keyframe every 2 s, as in video made for streaming (x264 would otherwise put one every 250 frames).
        options = {"preset": "ultrafast", "crf": "0", "g": "48"}
        stream = container.add_stream("libx264", rate=24, options=options)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        target = megabytes * 1024 * 1024
        while not path.exists() or path.stat().st_size < target:  # the muxer writes as it goes
            for _ in range(2):
                pixels = rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)
                container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())


def child_sign(small: str, source: str, dest: str) -> dict:
    from governance.content_credentials import signing
    from governance.content_credentials.identity import load_identity

    identity = load_identity()

    def sign(path: str) -> None:
        with open(path, "rb") as original, open(dest, "w+b") as signed:
            signing.sign(
                source=original,
                dest=signed,
                content_type="video/mp4",
                title="bench.mp4",
                facts=FACTS,
                identity=identity,
            )

    sign(small)  # loads the library and its allocations: what follows is signing's own
    before = peak_rss_mb()
    started = time.perf_counter()
    sign(source)
    return {"seconds": time.perf_counter() - started, "peak_mb": peak_rss_mb(), "added_mb": peak_rss_mb() - before}


def run_child(data_dir: str, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", data_dir, *args], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="8,64,200,600", help="Video sizes in MB.")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        data_dir, action, *paths = options.child
        setup_django(data_dir)
        print(json.dumps(child_sign(*paths)))
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-signing-") as data_dir:
        setup_django(data_dir)
        from django.core.management import call_command

        call_command("create_signing_identity", verbosity=0)
        print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; each figure from a fresh process")
        headings = ("MB", "sign ms", "sign MB/s", "ms/MB", "peak RSS", "added", "+bytes")
        print("".join(f"{heading:>11}" for heading in headings))
        small = Path(data_dir) / "small.mp4"
        make_video(small, 1)
        ok = True
        for megabytes in (int(size) for size in options.sizes.split(",")):
            source, signed = Path(data_dir) / f"{megabytes}.mp4", Path(data_dir) / f"{megabytes}-signed.mp4"
            make_video(source, megabytes)
            size_mb = source.stat().st_size / 1024 / 1024
            run = run_child(data_dir, "sign", str(small), str(source), str(signed))
            ok &= run["added_mb"] < MEMORY_BOUND_MB
            row = (
                f"{size_mb:.1f}",
                f"{run['seconds'] * 1000:.0f}",
                f"{size_mb / run['seconds']:.0f}",
                f"{run['seconds'] * 1000 / size_mb:.1f}",
                f"{run['peak_mb']:.0f} MB",
                f"{run['added_mb']:.0f} MB",
                f"{signed.stat().st_size - source.stat().st_size}",
            )
            print("".join(f"{cell:>11}" for cell in row), flush=True)
            source.unlink()
            signed.unlink()
        print(f"\nSigning adds under {MEMORY_BOUND_MB} MB whatever the file's size: {'yes' if ok else 'NO'}")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
