"""The middleware only the dashboard needs, passed over by the Videos API and the management API.

`/v1/` and `/api/v1/` requests authenticate with a bearer key or token, send no cookies, render no template
and carry their own fixed Content-Security-Policy. Users, messages, django-csp's
policy, htmx details, static files and slash redirects mean nothing to them, yet cost
about a tenth of a `POST /v1/videos` (callgrind: 5.97 M instructions with them, 5.4 M
without). Each class here is the library's own, subclassed so an API request goes
straight through; the rest of MIDDLEWARE (request ids, metrics, security headers,
sessions, CSRF, X-Frame-Options) runs for every request, as is, since Django's deploy
checks look for those by name. The admin's checks accept these subclasses.
"""

from csp.middleware import CSPMiddleware as LibraryCSPMiddleware
from django.contrib.auth.middleware import AuthenticationMiddleware as LibraryAuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware as LibraryMessageMiddleware
from django.http import HttpRequest, HttpResponse
from django.middleware.common import CommonMiddleware as LibraryCommonMiddleware
from django_htmx.middleware import HtmxMiddleware as LibraryHtmxMiddleware
from whitenoise.middleware import WhiteNoiseMiddleware as LibraryWhiteNoiseMiddleware

API_PREFIXES = ("/v1/", "/api/v1/")  # the Videos API, and the management API, whose tokens are never cookies


def is_api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIXES)


class SkippedByTheApi:
    """Pass an API request straight on to the next middleware; run as the library's for every other."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_request(request):
            return self.get_response(request)
        return super().__call__(request)


class WhiteNoiseMiddleware(SkippedByTheApi, LibraryWhiteNoiseMiddleware):
    pass


class CommonMiddleware(SkippedByTheApi, LibraryCommonMiddleware):
    pass


class AuthenticationMiddleware(SkippedByTheApi, LibraryAuthenticationMiddleware):
    pass


class MessageMiddleware(SkippedByTheApi, LibraryMessageMiddleware):
    pass


class CSPMiddleware(SkippedByTheApi, LibraryCSPMiddleware):
    pass


class HtmxMiddleware(SkippedByTheApi, LibraryHtmxMiddleware):
    pass
