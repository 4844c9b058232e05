"""Where outgoing webhooks may go: public addresses only, unless the operator allows private networks.

A project admin types a webhook's URL; without this rule they could make our
servers POST to anything our servers can reach (the database, Redis, a cloud
metadata service). The host is resolved when the webhook is saved and again
before every delivery, so a name later re-pointed at an inside address is still
refused. Set WEBHOOK_ALLOW_PRIVATE_NETWORKS=1 where receivers live on a private
network (and in tests that run a receiver on loopback).
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class PrivateDestinationError(ValueError):
    pass


def refuse_private_destination(url: str) -> None:
    """Raise PrivateDestinationError if the URL's host is, or resolves to, an address that is not public.

    A host that does not resolve now is let through: the delivery will fail and say so.
    """
    if settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS:
        return
    host = urlsplit(url).hostname or ""
    for address in _addresses(host):
        if not address.is_global:
            raise PrivateDestinationError(
                f"{host} is {address}, an address inside a private network. Webhooks go to public endpoints "
                "only, unless the operator sets WEBHOOK_ALLOW_PRIVATE_NETWORKS=1."
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
