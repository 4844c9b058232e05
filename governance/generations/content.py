"""A completed generation's content, streamed from the provider: one way for the gateway and the dashboard."""

import contextlib

from django.http import StreamingHttpResponse

from governance.generations.models import Generation
from governance.generations.upstream import client_for

CONTENT_VARIANTS = {"video": "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}


def stream_content(generation: Generation, variant: str, *, headers: dict | None = None) -> StreamingHttpResponse:
    """Open the provider's content for a completed generation and pass it through; raises UpstreamError."""
    headers = dict(headers or {})
    stack = contextlib.ExitStack()
    try:
        upstream = stack.enter_context(client_for(generation.provider).stream_content(generation.upstream_id, variant))
    except BaseException:
        stack.close()
        raise
    if "Content-Length" in upstream.headers and "Content-Encoding" not in upstream.headers:
        headers["Content-Length"] = upstream.headers["Content-Length"]  # httpx decodes an encoded body
    return StreamingHttpResponse(
        _chunks(upstream, stack),
        content_type=upstream.headers.get("Content-Type", CONTENT_VARIANTS[variant]),
        headers=headers,
    )


def _chunks(upstream, stack: contextlib.ExitStack):
    with stack:
        yield from upstream.iter_bytes(64 * 1024)
