"""Benchmark archiving a completed generation's video: fetch, sign, hash, store, step by step, against plain copies.

    .venv/bin/python bench/archiving.py [--size-mb 200] [--backends local,s3]

Needs the project with its test extras (moto's server mode for S3). Everything goes in a
temporary directory.

1. Makes a valid MP4 of about --size-mb (bench/content_signing.py's noise-frame H.264) and serves
   it as the provider's link: bench/download_floor_app.py under gunicorn on loopback.
2. In this process (Django on SQLite, a development signing identity), for each archive backend
   (the folder, or a bucket of a moto server on loopback through the `ARCHIVE_S3_*` settings), runs
   the worker's own `archive.archive_generation` for a completed generation, with an adapter whose
   `open_media` streams the link as `ProviderAdapter.open_media` does (httpx, the same chunk size).
3. Times each step (the fetch, the SHA-256s, signing, perceptual hashes, storing) and, as floors
   measured in the same run, `shutil.copyfile` of the video (the fetch's floor and the folder's)
   and boto3's `upload_file` of it to the same moto server (the bucket's).
4. Prints MB/s of each step, the fetch's and the store's ratio to their floors, the total, and
   this process's peak RSS (VmHWM).
"""

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from content_signing import make_video, peak_rss_mb  # noqa: E402
from downloads import start_gunicorn, start_moto, stop  # noqa: E402

TIMED = ("_download", "webp_of", "sha256_of", "_sign", "_pictures", "_store")


class LinkAdapter:
    """The provider's side of archiving: the video at a link, no thumbnail (one is made from the video)."""

    def __init__(self, url: str):
        self.url = url

    @contextlib.contextmanager
    def open_media(self, generation, variant, job=None):
        import httpx

        from governance.generations.providers.base import CHUNK_SIZE

        if variant != "video":
            yield None
            return
        with httpx.Client(timeout=120) as client, client.stream("GET", self.url) as response:
            yield response.iter_bytes(CHUNK_SIZE), "video/mp4"


def timed(module, seconds: dict) -> None:
    """Wrap the archive module's steps so that each adds its wall time to `seconds`."""
    for name in TIMED:
        function = getattr(module, name)

        def wrapper(*args, _function=function, _name=name, **kwargs):
            started = time.perf_counter()
            try:
                return _function(*args, **kwargs)
            finally:
                seconds[_name] += time.perf_counter() - started

        setattr(module, name, wrapper)


def archive_once(url: str) -> tuple[dict, float]:
    from governance.generations import archive
    from governance.generations.models import Generation
    from governance.projects.models import ApiKey

    key = ApiKey.objects.latest("pk")
    generation = Generation.objects.create(
        project=key.environment.project,
        environment=key.environment,
        api_key=key,
        status=Generation.Status.COMPLETED,
        prompt="bench archiving",
        requested_model="sora-2",
        resolved_snapshot="sora-2-2025-12-08",
    )
    seconds = defaultdict(float)
    originals = {name: getattr(archive, name) for name in TIMED}
    timed(archive, seconds)
    try:
        started = time.perf_counter()
        files = archive.archive_generation(generation, LinkAdapter(url))
        total = time.perf_counter() - started
    finally:
        for name, function in originals.items():
            setattr(archive, name, function)
    assert files[0].signed, files[0].unsigned_reason
    return seconds, total


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--backends", default="local,s3")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-archiving-") as tmp:
        os.environ.update(
            {
                "DJANGO_SETTINGS_MODULE": "governance.settings",
                "GOVERNANCE_DATA_DIR": str(Path(tmp) / "data"),
                "SECRET_KEY": "bench-only-secret-key-not-the-development-default-0123456789",
                "LOG_LEVEL": "WARNING",
            }
        )
        for name in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "ARCHIVE_S3_BUCKET", "ARCHIVE_DIR"):
            os.environ.pop(name, None)
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.test.utils import override_settings

        from governance.settings import _s3_storage

        call_command("migrate", "--noinput", verbosity=0)
        with contextlib.redirect_stdout(open(os.devnull, "w")):
            call_command("seed_demo")
            call_command("create_api_key", "demo", "development", "--name", "bench")
            call_command("create_signing_identity", verbosity=0)

        video = Path(tmp) / "video.mp4"
        make_video(video, options.size_mb)
        size_mb = video.stat().st_size / 1024 / 1024
        provider, port = start_gunicorn(
            "download_floor_app:application", {**os.environ, "BENCH_FILE": str(video)}, ROOT / "bench"
        )
        moto = None
        print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; video {size_mb:.1f} MB (noise-frame H.264)\n")
        try:
            for backend in options.backends.split(","):
                if backend == "s3":
                    env = {}
                    moto, client = start_moto(env)
                    os.environ.update(env)
                    storages = {"archive": _s3_storage("ARCHIVE")}
                else:
                    storages = {
                        "archive": {
                            "BACKEND": "django.core.files.storage.FileSystemStorage",
                            "OPTIONS": {"location": str(Path(tmp) / "archive"), "allow_overwrite": True},
                        }
                    }
                copy_started = time.perf_counter()
                shutil.copyfile(video, Path(tmp) / "copy.mp4")
                copy = time.perf_counter() - copy_started
                if backend == "s3":
                    upload_started = time.perf_counter()
                    client.upload_file(str(video), "bench-archive", "floor.mp4")
                    store_floor = time.perf_counter() - upload_started
                else:
                    store_floor = copy
                with override_settings(STORAGES={**settings.STORAGES, **storages}):
                    seconds, total = archive_once(f"http://127.0.0.1:{port}/")
                print(f"{backend}: archive_generation {total:.1f} s for {size_mb:.0f} MB ({size_mb / total:.0f} MB/s)")
                rows = [
                    ("fetch (httpx, 64 KiB)", seconds["_download"] - seconds["webp_of"], copy, "shutil.copyfile"),
                    ("thumbnail's WebP", seconds["webp_of"], None, ""),
                    (
                        "store",
                        seconds["_store"],
                        store_floor,
                        "copyfile" if backend == "local" else "boto3 upload_file",
                    ),
                    ("sign (c2pa)", seconds["_sign"], None, ""),
                    ("SHA-256 x2", seconds["sha256_of"], None, ""),
                    ("pictures (one decode)", seconds["_pictures"], None, ""),
                ]
                for label, spent, floor, floor_label in rows:
                    ratio = f"  {floor / spent:.2f} of {floor_label} ({size_mb / floor:.0f} MB/s)" if floor else ""
                    print(f"  {label:<22}{spent:>7.2f} s {size_mb / spent:>7.0f} MB/s{ratio}")
                stop(moto)
                moto = None
        finally:
            stop(moto)
            stop(provider)
        print(f"\npeak RSS of this process (Django, PyAV, the archiving): {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
