"""A bare WSGI app that sends one file through the server's file wrapper (gunicorn: sendfile(2)).

bench/downloads.py serves the archived video with it under the same gunicorn, as the reference
for what any WSGI app can do over loopback on this host: no Django, no database, no checks.
"""

import os

PATH = os.environ.get("BENCH_FILE", "")


def application(environ, start_response):
    file = open(PATH, "rb")  # closed by the server's file wrapper
    start_response("200 OK", [("Content-Type", "video/mp4"), ("Content-Length", str(os.path.getsize(PATH)))])
    return environ["wsgi.file_wrapper"](file, 1024 * 1024)
