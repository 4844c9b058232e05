"""The upstream behind LiteLLM's proxy in `bench/submit.py --litellm`: OpenAI's `POST /v1/videos`, as cheap as it gets.

A bare ASGI app (no framework), served by Granian (HTTP in Rust, installed with `litellm[proxy]`)
from LiteLLM's own virtualenv, one process. It reads the create request as OpenAI's API takes it
(LiteLLM forwards it as multipart/form-data; JSON works too), checks the bearer key, the prompt
and the model, counts it, and answers OpenAI's `video` object (status `queued`), as the real API
and the product's simulator do.
It stores nothing: LiteLLM's figures should be LiteLLM's, so its upstream costs as little
as possible (its CPU is measured apart), and `GET /received` tells the bench how many
creates it accepted, to check that LiteLLM forwarded every request it answered with a 200.
"""

from __future__ import annotations

import json
import os
import secrets
import time

MODEL = os.environ.get("BENCH_UPSTREAM_MODEL", "sora-2-2025-12-08")
API_KEY = os.environ.get("BENCH_UPSTREAM_KEY", "")
received = {"created": 0, "refused": 0}


async def app(scope, receive, send):
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    if scope["method"] == "GET" and scope["path"] == "/received":
        await answer(send, 200, received)
    elif scope["method"] == "POST" and scope["path"] == "/v1/videos":
        status, payload = create_video(headers, body)
        received["created" if status == 200 else "refused"] += 1
        await answer(send, status, payload)
    else:
        await answer(send, 404, error(f"Invalid URL ({scope['method']} {scope['path']}).", "not_found"))


def create_video(headers: dict[str, str], body: bytes) -> tuple[int, dict]:
    if headers.get("authorization") != f"Bearer {API_KEY}":
        return 401, error("Incorrect API key provided.", "invalid_api_key")
    fields = read_fields(headers.get("content-type", ""), body)
    if not str(fields.get("prompt", "")).strip():
        return 400, error("Missing required parameter: 'prompt'.", "missing_required_parameter")
    if fields.get("model") != MODEL:
        return 400, error(f"Invalid value for 'model': {fields.get('model')!r}.", "invalid_value")
    return 200, {
        "id": "video_" + secrets.token_hex(16),
        "object": "video",
        "model": MODEL,
        "status": "queued",
        "progress": 0,
        "created_at": int(time.time()),
        "completed_at": None,
        "expires_at": None,
        "prompt": fields["prompt"],
        "seconds": str(fields.get("seconds", "4")),
        "size": fields.get("size", "720x1280"),
        "remixed_from_video_id": None,
        "error": None,
    }


def read_fields(content_type: str, body: bytes) -> dict:
    if content_type.startswith("application/json"):
        fields = json.loads(body or b"{}")
        return fields if isinstance(fields, dict) else {}
    if content_type.startswith("multipart/form-data"):
        return multipart_fields(content_type, body)
    return {}


def multipart_fields(content_type: str, body: bytes) -> dict:
    """The text fields of a multipart/form-data body (files left out), without a framework's parser."""
    boundary = content_type.partition("boundary=")[2].strip('"').encode("latin-1")
    fields = {}
    for part in body.split(b"--" + boundary)[1:-1]:
        head, _, value = part.removeprefix(b"\r\n").removesuffix(b"\r\n").partition(b"\r\n\r\n")
        disposition = head.decode("latin-1")
        name = disposition.partition('name="')[2].partition('"')[0]
        if name and "filename=" not in disposition:
            fields[name] = value.decode()
    return fields


def error(message: str, code: str) -> dict:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}


async def answer(send, status: int, payload: dict) -> None:
    content = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
