"""Benchmark Content Credentials: signing throughput, the download path, and memory, per MB of video.

    .venv/bin/python bench/content_signing.py [--sizes 1,8,64]

Needs nothing but the project's dependencies: a temporary data directory holds a
development signing identity, the videos and the archive.

1. Encodes an H.264 MP4 of roughly each size (noise frames, which do not compress).
2. In a fresh process per size, signs it as the worker does when it archives a file
   (`content_credentials.signing.sign`, temporary file in, temporary file out, our
   governance assertion) and reports ms, MB/s and the process's peak RSS (VmHWM).
3. In a fresh process per size, streams the signed file out of the archive storage
   through `StreamingHttpResponse` in 64 KiB chunks as a download does, and, as the
   reference, streams the unsigned file the same way: the difference is what signing
   adds to a download (the manifest's bytes; no signing happens on the download path).
4. Prints one table. Aim (the audit issue's limit for exports): a download's peak RSS under
   150 MB whatever the file's size. Signing is not streamed inside c2pa-rs (its BMFF writer
   holds about twice the file in memory); the table shows it.
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
AIM_MEMORY_MB = 150
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
        stream = container.add_stream("libx264", rate=24, options={"preset": "ultrafast", "crf": "0"})
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        target = megabytes * 1024 * 1024
        while not path.exists() or path.stat().st_size < target:  # the muxer writes as it goes
            for _ in range(2):
                pixels = rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)
                container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())


def child_sign(source: str, dest: str) -> dict:
    from governance.content_credentials import signing
    from governance.content_credentials.identity import load_identity

    identity = load_identity()
    started = time.perf_counter()
    with open(source, "rb") as original, open(dest, "wb") as signed:
        signing.sign(
            source=original, dest=signed, content_type="video/mp4", title="bench.mp4", facts=FACTS, identity=identity
        )
    return {"seconds": time.perf_counter() - started, "peak_mb": peak_rss_mb()}


def child_stream(path: str) -> dict:
    from django.core.files.storage import FileSystemStorage
    from django.http import StreamingHttpResponse

    from governance.generations.content import _file_chunks

    storage = FileSystemStorage(location=str(Path(path).parent))
    started = time.perf_counter()
    response = StreamingHttpResponse(_file_chunks(storage.open(Path(path).name, "rb")))
    sent = sum(len(chunk) for chunk in response)
    return {"seconds": time.perf_counter() - started, "bytes": sent, "peak_mb": peak_rss_mb()}


def run_child(data_dir: str, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", data_dir, *args], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,8,64", help="Video sizes in MB.")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        data_dir, action, *paths = options.child
        setup_django(data_dir)
        print(json.dumps(child_sign(*paths) if action == "sign" else child_stream(*paths)))
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-signing-") as data_dir:
        setup_django(data_dir)
        from django.core.management import call_command

        call_command("create_signing_identity", verbosity=0)
        print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; each figure from a fresh process")
        headings = ("MB", "sign ms", "sign MB/s", "ms/MB", "sign peak", "+bytes", "dl ms/MB", "ref ms/MB", "dl peak")
        print("".join(f"{heading:>11}" for heading in headings))
        ok = True
        for megabytes in (int(size) for size in options.sizes.split(",")):
            source, signed = Path(data_dir) / f"{megabytes}.mp4", Path(data_dir) / f"{megabytes}-signed.mp4"
            make_video(source, megabytes)
            size_mb = source.stat().st_size / 1024 / 1024
            signing_run = run_child(data_dir, "sign", str(source), str(signed))
            download = run_child(data_dir, "stream", str(signed))
            reference = run_child(data_dir, "stream", str(source))
            ok &= download["peak_mb"] < AIM_MEMORY_MB
            row = (
                f"{size_mb:.1f}",
                f"{signing_run['seconds'] * 1000:.0f}",
                f"{size_mb / signing_run['seconds']:.0f}",
                f"{signing_run['seconds'] * 1000 / size_mb:.1f}",
                f"{signing_run['peak_mb']:.0f} MB",
                f"{signed.stat().st_size - source.stat().st_size}",
                f"{download['seconds'] * 1000 / size_mb:.2f}",
                f"{reference['seconds'] * 1000 / size_mb:.2f}",
                f"{download['peak_mb']:.0f} MB",
            )
            print("".join(f"{cell:>11}" for cell in row))
        print(f"\nDownloads stream within {AIM_MEMORY_MB} MB peak RSS: {'yes' if ok else 'NO'}")
        print("Signing happens once, in the worker, when a file is archived; c2pa-rs holds about twice the file.")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
