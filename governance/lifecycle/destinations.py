"""Where outgoing webhooks may go, and for how long: public addresses only, unless the operator allows private networks.

A project admin types a webhook's URL; without this rule they could make our
servers POST to anything our servers can reach (the database, Redis, a cloud
metadata service). The host is resolved when the webhook is saved and again
before every delivery, so a name later re-pointed at an inside address is still
refused. A delivery connects only to an address checked at the moment of
connecting (`delivery_transport`): a name that answers a public address to the
check and an inside one to the connection (DNS rebinding) reaches nothing. Set
WEBHOOK_ALLOW_PRIVATE_NETWORKS=1 where receivers live on a private network (and
in tests that run a receiver on loopback).

An attempt also ends by its deadline (`delivery_transport`): httpx's timeouts apply
to each read, so a receiver answering a byte at a time would otherwise hold a worker
as long as it liked.
"""

import ipaddress
import logging
import socket
import time
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import httpcore
import httpx
from django.conf import settings

logger = logging.getLogger(__name__)


class PrivateDestinationError(ValueError):
    pass


def refuse_private_destination(url: str) -> None:
    """Raise PrivateDestinationError if the URL's host is, or resolves to, an address that is not public.

    A host that does not resolve now is let through: the delivery will fail and say so.
    """
    if settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS:
        return
    host = urlsplit(url).hostname or ""
    _refuse_any_private(host, _addresses(host))


def _refuse_any_private(host: str, addresses: list) -> None:
    """Refuse a host with any address that is not public, naming the address in the server log only.

    The refusal reaches a project admin (the webhook form, the delivery log), who must not learn from it
    what a name resolves to inside our network.
    """
    for address in addresses:
        if not address.is_global:
            logger.warning("webhook destination %s refused: it resolves to %s, which is not public", host, address)
            raise PrivateDestinationError(
                f"{host} is not an allowed address. Webhooks go to public endpoints only, unless the operator "
                "sets WEBHOOK_ALLOW_PRIVATE_NETWORKS=1."
            )


def _addresses(host: str) -> list:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


class _PublicAddressesOnly(httpcore.NetworkBackend):
    """httpcore's own sockets, opened only to the addresses this backend resolved and checked itself.

    TLS still names and verifies the URL's host: httpcore passes the host, not the address, to the handshake.
    """

    def __init__(self) -> None:
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        addresses = _addresses(host)
        if not addresses:
            raise httpcore.ConnectError(f"{host} does not resolve.")
        _refuse_any_private(host, addresses)
        for address in addresses:  # each checked address in turn, as the socket module would try them
            try:
                return self._sockets.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except httpcore.ConnectError as error:
                failed = error
        raise failed

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("Webhooks are not delivered over Unix sockets.")

    def sleep(self, seconds: float) -> None:
        self._sockets.sleep(seconds)


def delivery_transport(url: str, *, deadline: float) -> httpx.HTTPTransport:
    """The transport for one delivery attempt to `url`, which connects, writes and reads only until `deadline`.

    `deadline` is a `time.monotonic()` instant. Unless private networks are allowed, it connects to checked
    public addresses only. Where the environment names a proxy for the URL's scheme (HTTPS_PROXY and the like)
    and NO_PROXY does not exempt its host, the proxy connects and the check before sending still applies.
    Either way the choice is made here, for this URL: a client given a transport ignores the environment,
    so no setting (NO_PROXY alone, a proxy for http only) can send a delivery straight out unchecked.
    """
    if proxy := _environment_proxy(url):
        transport, backend = httpx.HTTPTransport(proxy=proxy, retries=0), httpcore.SyncBackend()
    else:
        transport = httpx.HTTPTransport(retries=0)
        backend = httpcore.SyncBackend() if settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS else _PublicAddressesOnly()
    # httpx builds its connection pool without a way to name the network backend; the pool takes one.
    transport._pool._network_backend = _Deadline(backend, deadline)
    return transport


class _Deadline(httpcore.NetworkBackend):
    """Another backend's connections, each connect, read and write given only the time left until `deadline`."""

    def __init__(self, backend: httpcore.NetworkBackend, deadline: float) -> None:
        self._backend, self._deadline = backend, deadline

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        options = {"local_address": local_address, "socket_options": socket_options}
        connect = self._backend.connect_tcp
        stream = _within(self._deadline, timeout, httpcore.ConnectTimeout, connect, host, port, **options)
        return _DeadlineStream(stream, self._deadline)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("Webhooks are not delivered over Unix sockets.")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream, deadline: float) -> None:
        self._stream, self._deadline = stream, deadline

    def read(self, max_bytes: int, timeout=None) -> bytes:
        return _within(self._deadline, timeout, httpcore.ReadTimeout, self._stream.read, max_bytes)

    def write(self, buffer: bytes, timeout=None) -> None:
        _within(self._deadline, timeout, httpcore.WriteTimeout, self._stream.write, buffer)

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> "_DeadlineStream":
        start_tls = self._stream.start_tls
        stream = _within(self._deadline, timeout, httpcore.ConnectTimeout, start_tls, ssl_context, server_hostname)
        return _DeadlineStream(stream, self._deadline)

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


def _within(deadline: float, timeout, late: type[httpcore.TimeoutException], operation, *args, **kwargs):
    """`operation(*args, timeout=...)` with no more time than is left; past the deadline, `late` says so."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise late(_too_long())
    try:
        return operation(*args, timeout=left if timeout is None else min(timeout, left), **kwargs)
    except httpcore.TimeoutException as error:
        if time.monotonic() >= deadline:
            raise late(_too_long()) from error
        raise


def _too_long() -> str:
    return f"The endpoint did not answer within {settings.WEBHOOK_ATTEMPT_SECONDS:g} s."


def _environment_proxy(url: str) -> str | None:
    """The proxy the environment names for `url`, if any (urllib's reading of the *_PROXY variables)."""
    proxies = getproxies()
    parts = urlsplit(url)
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or proxy_bypass(parts.netloc.rpartition("@")[2]):
        return None
    return proxy
