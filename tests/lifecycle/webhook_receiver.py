"""A small HTTP server standing in for a project's webhook endpoint; it verifies each signature as a receiver would."""

import http.server
import json
import threading

from governance.lifecycle.signing import verify


class WebhookReceiver:
    def __init__(self, secret: str = "", status: int = 200):
        self.secret = secret
        self.status = status
        self.received: list[dict] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {name.lower(): value for name, value in self.headers.items()}
                receiver.received.append(
                    {
                        "headers": headers,
                        "payload": json.loads(body),
                        "verified": bool(receiver.secret) and verify(receiver.secret, headers, body),
                    }
                )
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/lifecycle"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "WebhookReceiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
