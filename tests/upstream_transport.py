"""Sending the gateway's provider calls through a chosen httpx transport: the simulator in-process, or a mock."""

import contextlib
from collections.abc import Iterator

import httpx
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections

from governance.generations import upstream


@contextlib.contextmanager
def use_transport(transport: httpx.BaseTransport) -> Iterator[None]:
    """Route every upstream call made inside the block through `transport`."""
    previous, upstream.transport = upstream.transport, transport
    try:
        yield
    finally:
        upstream.transport = previous


def in_test_transaction(app):
    """A WSGI app served without closing the test's database connection, as Django's test client does."""

    def serve(environ, start_response):
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            response = app(environ, start_response)
            body = b"".join(response)
            response.close()
            return [body]
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)

    return serve


def simulator_transport() -> httpx.WSGITransport:
    """The whole app (and so the simulator's dialects) in-process, inside the test's transaction."""
    return httpx.WSGITransport(app=in_test_transaction(get_wsgi_application()))
