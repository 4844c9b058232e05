"""The two APIs' requests leave the middleware chain early: the dashboard's middleware means nothing to them.

`/v1/` and `/api/v1/` requests authenticate with a bearer key or token, send no cookies, render no template
and carry their own fixed Content-Security-Policy. Sessions, CSRF, users, messages, django-csp's policy,
htmx details, static files, slash redirects and the page-frame updates mean nothing to them, yet going
through them cost a `POST /v1/videos` a tenth of its CPU (the WSGI handler called directly). So
`ApiRequestsMiddleware`, placed after the request id, the metrics and the security headers that every
response keeps, calls an API request's view itself, as Django's handler would; every other request goes on
down MIDDLEWARE, whose entries are the libraries' own, under the names Django's deploy checks look for.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import resolve

API_PREFIXES = ("/v1/", "/api/v1/")  # the Videos API, and the management API, whose tokens are never cookies


def is_api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIXES)


class ApiRequestsMiddleware:
    """Resolve and call an API request's view here; pass every other request on.

    An exception (a 404 of the resolver, say) becomes a response as it would below: Django wraps every
    middleware in the same conversion.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_api_request(request):
            return self.get_response(request)
        match = request.resolver_match = resolve(request.path_info)
        return match.func(request, *match.args, **match.kwargs)
