"""Sending the gateway's provider calls through a chosen httpx transport: the simulator in-process, or a mock."""

import contextlib
from collections.abc import Iterator

import httpx

from governance.generations import upstream


@contextlib.contextmanager
def use_transport(transport: httpx.BaseTransport) -> Iterator[None]:
    """Route every upstream call made inside the block through `transport`."""
    previous, upstream.transport = upstream.transport, transport
    try:
        yield
    finally:
        upstream.transport = previous
