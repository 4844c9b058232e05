"""The address of the client a request came from, behind as many proxies of our own as configured.

With TRUSTED_PROXY_COUNT = 0 (the default) that is REMOTE_ADDR: X-Forwarded-For is whatever
the client wrote, and trusting it would let anyone choose the address they are counted under.
Behind N proxies of ours, each appending the address it received the request from to
X-Forwarded-For, the client is the N-th address from the right; anything further left was
written by the client itself.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest | None) -> str:
    """The client's IP address as our outermost proxy saw it, or REMOTE_ADDR; "" without a request."""
    if request is None:
        return ""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    if not proxies:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if not hops:
        return remote
    candidate = hops[-proxies] if len(hops) >= proxies else hops[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:  # not an address: a proxy that writes something else, or a misconfigured count
        return remote
