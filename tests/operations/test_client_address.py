"""Which address a request came from: REMOTE_ADDR, or X-Forwarded-For read from the right past our own proxies."""

import pytest
from django.test import RequestFactory

from governance.infra.client_address import client_address


@pytest.mark.parametrize(
    "proxies, forwarded_for, expected",
    [
        (0, "192.0.2.1", "10.0.0.9"),  # no proxy of ours: the header is the client's own words
        (1, "", "10.0.0.9"),
        (1, "192.0.2.1", "192.0.2.1"),
        (1, "198.51.100.7, 192.0.2.1", "192.0.2.1"),  # the left one was written by the client
        (2, "198.51.100.7, 192.0.2.1, 10.1.1.1", "192.0.2.1"),
        (2, "192.0.2.1", "192.0.2.1"),  # fewer hops than proxies: the farthest known
        (1, "not-an-address", "10.0.0.9"),
        (1, "2001:db8::1", "2001:db8::1"),
    ],
)
def test_the_client_address(settings, proxies, forwarded_for, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR=forwarded_for)

    assert client_address(request) == expected
