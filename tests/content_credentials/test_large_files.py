"""Signing a large video: the file goes from disk to disk and memory does not grow with it.

c2pa-rs keeps its working copies of the file in memory up to a threshold; we set it so that those of
a file above 32 MB go to temporary files (signing.BACKING_STORE_MEMORY_MB). Measured in a fresh process,
so that the peak is this signing's and nothing else's.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from governance.content_credentials.identity import trust_anchors
from governance.content_credentials.reading import ManifestState, read_manifest
from governance.content_credentials.signing import BACKING_STORE_MEMORY_MB
from governance.simulator.rendering import render

PADDING_MB = 48
assert PADDING_MB > BACKING_STORE_MEMORY_MB, "the file must be large enough for its copies to go to disk"

SIGN_IN_A_FRESH_PROCESS = """
import json, sys
from pathlib import Path
from governance.content_credentials.identity import SigningIdentity
from governance.content_credentials.signing import sign

directory, small, large, out = sys.argv[1:]
identity = SigningIdentity(
    chain_pem=(Path(directory) / "claim-signer-chain.pem").read_bytes(),
    key_pem=(Path(directory) / "claim-signer.key").read_bytes(),
)

def signed(path):
    with open(path, "rb") as source, open(out, "w+b") as dest:
        sign(source=source, dest=dest, content_type="video/mp4", title="large.mp4", facts={"n": 1}, identity=identity)

def peak_mb():  # VmHWM, this process's own peak (getrusage's maxrss carries the parent's over exec)
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024

signed(small)  # load the library and its allocations before measuring
before = peak_mb()
signed(large)
print(json.dumps({"grew_mb": peak_mb() - before}))
"""


def large_video(directory: Path, video: bytes) -> Path:
    """A real clip followed by a top-level `mdat` box of random bytes: a valid MP4 of about PADDING_MB."""
    path = directory / "large.mp4"
    size = PADDING_MB * 1024 * 1024
    with path.open("wb") as file:
        file.write(video)
        file.write((size + 8).to_bytes(4, "big") + b"mdat")
        for _ in range(PADDING_MB):
            file.write(os.urandom(1024 * 1024))
    return path


def test_a_large_video_signs_from_file_to_file_without_holding_copies_of_it(tmp_path, signing_identity):
    video = render(snapshot="sora-2-2025-10-06", prompt="a lighthouse", seed=0, size="720x1280", seconds=4).video
    (tmp_path / "small.mp4").write_bytes(video)
    large, out = large_video(tmp_path, video), tmp_path / "signed.mp4"

    done = subprocess.run(
        [sys.executable, "-c", SIGN_IN_A_FRESH_PROCESS, str(settings.CONTENT_SIGNING_DIR), str(tmp_path / "small.mp4")]
        + [str(large), str(out)],
        capture_output=True,
        text=True,
        check=True,
        cwd=settings.BASE_DIR,
    )

    # The library still reads the file in one chunk to hash it (up to 256 MB); what is gone are its two
    # in-memory working copies, which made the peak about three times the file.
    grew_mb = json.loads(done.stdout.strip().splitlines()[-1])["grew_mb"]
    assert grew_mb < 1.5 * PADDING_MB, f"signing a {PADDING_MB} MB video grew the process by {grew_mb:.0f} MB"
    with out.open("rb") as signed_file:
        report = read_manifest(signed_file, "video/mp4", trust_anchors=trust_anchors())
    assert report.state == ManifestState.TRUSTED and report.facts == {"n": 1}
    assert out.stat().st_size > large.stat().st_size
