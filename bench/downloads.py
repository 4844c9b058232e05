"""Benchmark downloads of an archived video: `GET /v1/videos/{id}/content` against a plain copy, same run.

    .venv/bin/python bench/downloads.py [--size-mb 200] [--rounds 3] [--backends local,s3]

Needs nothing but the project's dependencies with the test extras (moto's server mode for S3).
Everything lives in a temporary directory: an SQLite database, the archive, the files copied.

1. Makes a valid MP4 of about --size-mb (bench/content_signing.py's noise-frame H.264) and
   records it as the archived video of a completed generation (`ArchivedFile`), in the archive
   folder (local) or in a bucket of a moto server started on loopback (s3, through the same
   `ARCHIVE_S3_*` settings a deployment uses).
2. Starts gunicorn (1 sync worker, DEBUG=0) on loopback and downloads once to warm it up.
3. Each round, one after the other: the floor (local: `shutil.copyfile` of the archived file;
   s3: boto3's `download_fileobj` of the same object from the moto server, into a file), a
   reference (local: curl from a bare WSGI app under the same gunicorn that sends the file with
   the server's file wrapper; s3: one `get_object`, its body streamed into a file), then ours:
   the real view's response streamed into a file with the API key, by curl and by httpx.
   Every download is checked byte for byte (SHA-256) against the archived file.
4. Prints MB/s of each, the ratios ours (curl) / floor and / reference, and the serving
   worker's peak RSS (VmHWM, read from /proc after the downloads). The aim (>= 0.80 of the
   floor in every round) is judged with curl: httpx's own reading (about 300-400 MB/s on a
   2-core host) caps it below the server.

Figures are ratios from one run on one host; absolute MB/s vary with the machine.
"""

import argparse
import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from processes import stop_process_group  # noqa: E402  (bench/processes.py, on the path just above)

AIM = 0.80
FLOOR, REFERENCE = "floor", "reference"
BUCKET = "bench-archive"
CHUNK = 1024 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with code {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise SystemExit(f"{what} did not listen within 60 s")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def manage(env: dict, *command: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *command], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


RECORD_ARCHIVED_VIDEO = """
import hashlib, os
from django.core.files import File
from governance.generations.archive import archive_storage
from governance.generations.models import ArchivedFile, Generation
from governance.projects.models import ApiKey

path, size = os.environ["BENCH_VIDEO"], int(os.environ["BENCH_VIDEO_SIZE"])
key = ApiKey.objects.latest("pk")
generation = Generation.objects.create(
    project=key.environment.project, environment=key.environment, api_key=key, status="completed",
    prompt="bench download", requested_model="sora-2", resolved_snapshot="sora-2-2025-12-08",
)
digest = hashlib.sha256()
with open(path, "rb") as file:
    while chunk := file.read(1 << 20):
        digest.update(chunk)
    file.seek(0)
    name = archive_storage().save(f"{generation.video_id}/video.mp4", File(file))
ArchivedFile.objects.create(
    generation=generation, variant="video", name=name, content_type="video/mp4", size=size,
    sha256=digest.hexdigest(), upstream_sha256=digest.hexdigest(), upstream_size=size,
)
print(generation.video_id, name)
"""


def prepare(env: dict, video: Path) -> tuple[str, str, str]:
    """Migrate, make a project, environment and key, and record `video` as an archived generation's file."""
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "seed_demo")
    key = manage(env, "create_api_key", "demo", "development", "--name", "bench").split()[-1]
    record = manage(env, "shell", "-c", RECORD_ARCHIVED_VIDEO)
    video_id, name = record.split()[-2:]
    return key, video_id, name


def ours(url: str, key: str, dest: Path) -> float:
    """httpx streams the response into a file, as a Python client of the API would."""
    import httpx

    started = time.perf_counter()
    with (
        httpx.stream("GET", url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as response,
        dest.open("wb") as file,
    ):
        response.raise_for_status()
        for chunk in response.iter_raw(CHUNK):
            file.write(chunk)
    return time.perf_counter() - started


def curl(url: str, key: str, dest: Path) -> float:
    """curl into a file: a client that is not itself the bottleneck (httpx tops out first)."""
    started = time.perf_counter()
    headers = ["--header", f"Authorization: Bearer {key}"] if key else []
    subprocess.run(["curl", "--silent", "--fail", "--output", str(dest), *headers, url], check=True)
    return time.perf_counter() - started


def floor_local(source: Path, dest: Path) -> float:
    started = time.perf_counter()
    shutil.copyfile(source, dest)
    return time.perf_counter() - started


def floor_s3(client, key: str, dest: Path) -> float:
    started = time.perf_counter()
    with dest.open("wb") as file:
        client.download_fileobj(BUCKET, key, file)
    return time.perf_counter() - started


def start_gunicorn(app: str, env: dict, chdir: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), app, "--chdir", str(chdir), "--bind", f"127.0.0.1:{port}", "--workers", "1"]
        + ["--log-level", "warning", "--no-control-socket", "--timeout", "300"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_for_port(port, process, "gunicorn")
    return process, port


def start_moto(env: dict):
    """moto_server on loopback with the archive's bucket; `env` gets the ARCHIVE_S3_* settings pointing at it."""
    import boto3

    port = free_port()
    moto = subprocess.Popen(
        [str(BIN / "moto_server"), "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_for_port(port, moto, "moto_server")
    endpoint = f"http://127.0.0.1:{port}"
    credentials = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    env.update(credentials, ARCHIVE_S3_BUCKET=BUCKET, ARCHIVE_S3_ENDPOINT_URL=endpoint, ARCHIVE_S3_REGION="us-east-1")
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    client.create_bucket(Bucket=BUCKET)
    return moto, client


def floor_s3_get(client, key: str, dest: Path) -> float:
    """One GET, its body streamed into a file: what serving the object can at best do."""
    started = time.perf_counter()
    body = client.get_object(Bucket=BUCKET, Key=key)["Body"]
    with dest.open("wb") as file:
        for chunk in body.iter_chunks(CHUNK):
            file.write(chunk)
    return time.perf_counter() - started


def run_backend(backend: str, video: Path, rounds: int, tmp: Path) -> dict:
    """Times per download kind, in the order they run each round, and the serving worker's peak RSS."""
    data = tmp / backend
    data.mkdir()
    env = {
        **os.environ,
        "SECRET_KEY": "bench-only-secret-key-not-the-development-default-0123456789",
        "DEBUG": "0",
        "GOVERNANCE_DATA_DIR": str(data),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "BENCH_VIDEO": str(video),
        "BENCH_VIDEO_SIZE": str(video.stat().st_size),
    }
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "ARCHIVE_S3_BUCKET", "ARCHIVE_DIR"):
        env.pop(name, None)
    processes = []
    try:
        if backend == "s3":
            moto, client = start_moto(env)
            processes.append(moto)
        key, video_id, name = prepare(env, video)
        gunicorn, port = start_gunicorn("governance.wsgi", env, ROOT)
        processes.append(gunicorn)
        if backend == "s3":
            object_key = f"archive/{name}"
            kinds = {
                FLOOR: lambda dest: floor_s3(client, object_key, dest),
                REFERENCE: lambda dest: floor_s3_get(client, object_key, dest),
            }
        else:
            source = data / "archive" / name
            bare, bare_port = start_gunicorn(
                "download_floor_app:application", {**env, "BENCH_FILE": str(source)}, ROOT / "bench"
            )
            processes.append(bare)
            kinds = {
                FLOOR: lambda dest: floor_local(source, dest),
                REFERENCE: lambda dest: curl(f"http://127.0.0.1:{bare_port}/", "", dest),
            }
        url = f"http://127.0.0.1:{port}/v1/videos/{video_id}/content"
        kinds["ours, curl"] = lambda dest: curl(url, key, dest)
        kinds["ours, httpx"] = lambda dest: ours(url, key, dest)
        ours(url, key, tmp / "warm-up.mp4")  # the worker imports the application on its first request
        expected, copy = sha256_file(video), tmp / "copy.mp4"
        times = {kind: [] for kind in kinds}
        for _ in range(rounds):
            for kind, download in kinds.items():
                times[kind].append(download(copy))
                assert sha256_file(copy) == expected, f"{kind}: the bytes differ from the archived file"
                copy.unlink()
        return {"times": times, "peak_mb": max(peak_rss_mb(pid) for pid in worker_pids(gunicorn.pid))}
    finally:
        for process in reversed(processes):
            stop_process_group(process)


LABELS = {
    "local": "floor = shutil.copyfile of the archived file; reference = curl from a bare WSGI app (sendfile)",
    "s3": "floor = boto3 download_fileobj from moto_server; reference = one get_object, its body streamed",
}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backends", default="local,s3")
    options = parser.parse_args()

    from content_signing import make_video

    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; floor and ours alternate in one run")
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-downloads-") as tmp:
        video = Path(tmp) / "video.mp4"
        make_video(video, options.size_mb)
        size_mb = video.stat().st_size / 1024 / 1024
        print(f"video: {size_mb:.1f} MB (H.264, noise frames)\n")
        for backend in options.backends.split(","):
            result = run_backend(backend, video, options.rounds, Path(tmp))
            times = result["times"]
            print(f"{backend}: {LABELS[backend]}")
            print(f"{'round':>7}" + "".join(f"{kind:>14}" for kind in times) + f"{'ours/floor':>12}{'ours/ref':>10}")
            for number in range(options.rounds):
                speeds = "".join(f"{size_mb / times[kind][number]:>9.0f} MB/s" for kind in times)
                ours_time = times["ours, curl"][number]
                floor, reference = times[FLOOR][number] / ours_time, times[REFERENCE][number] / ours_time
                ok &= floor >= AIM
                print(f"{number + 1:>7}{speeds}{floor:>12.2f}{reference:>10.2f}")
            print(f"serving worker's peak RSS after {options.rounds * 2 + 1} downloads: {result['peak_mb']:.0f} MB\n")
    print(f"ours (curl) at >= {AIM:.0%} of the floor in every round: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
