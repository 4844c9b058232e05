"""The download bench's spliced client delivers the body byte for byte, and refuses what it cannot measure."""

import hashlib
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.downloads import spliced

pytestmark = pytest.mark.skipif(not hasattr(os, "splice"), reason="splice(2) is Linux only")

BODY = os.urandom(3 * 1024 * 1024 + 17)  # more than one chunk, not a whole number of them


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.headers.get("Authorization") != "Bearer sgk_test":
            self.send_error(401)
            return
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_the_file_written_is_the_body_sent(server_url, tmp_path):
    destination = tmp_path / "copy.bin"

    seconds = spliced(f"{server_url}/video", "sgk_test", destination)

    assert hashlib.sha256(destination.read_bytes()).digest() == hashlib.sha256(BODY).digest()
    assert seconds > 0


def test_an_answer_other_than_200_is_an_error_naming_it(server_url, tmp_path):
    with pytest.raises(OSError, match="401"):
        spliced(f"{server_url}/video", "sgk_wrong", tmp_path / "copy.bin")


def test_a_body_without_a_length_is_refused(server_url, tmp_path):
    with pytest.raises(OSError, match="Content-Length"):
        spliced(f"{server_url}/chunked", "sgk_test", tmp_path / "copy.bin")
