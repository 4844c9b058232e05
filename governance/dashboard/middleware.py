"""The page around an htmx fragment stays true: header counts and messages come with the fragment.

An htmx action (sign-off, rollout step, marking notifications read, ...) swaps one part of the
page; the header's Approvals and Inbox counts and the messages area are outside it. Every htmx
response to an action carries them as out-of-band swaps, rendered from the partials base.html
itself shows, so a view does nothing for it and the fragment and the page cannot drift apart.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

PAGE_FRAME_UPDATES = "base.html#page-frame-updates"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Headers after which htmx leaves the page (or reloads it): the next page shows the counts and messages.
NAVIGATING_HEADERS = ("HX-Redirect", "HX-Refresh", "HX-Location")


class PageFrameUpdatesMiddleware:
    """Append the header counts and the messages to htmx answers to actions.

    Reads are left alone: every message comes from an action, and a read (a row's poll every 2 s, say)
    that showed one would take it from the page it was left for, when a poll fires between an action's
    redirect and the next page's load, or in another tab.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.method not in SAFE_METHODS and _swapped_in_place(request, response):
            response.content += render_to_string(PAGE_FRAME_UPDATES, request=request).encode(response.charset)
        return response


def _swapped_in_place(request: HttpRequest, response: HttpResponse) -> bool:
    """An htmx fragment that htmx will swap into the page it is on (it swaps 2xx answers only)."""
    htmx = getattr(request, "htmx", None)  # absent on the APIs, which leave before django-htmx
    if not htmx or htmx.history_restore_request or not request.user.is_authenticated:
        return False
    return (
        200 <= response.status_code < 300
        and response.status_code != 204  # no content: nothing to swap, and no body allowed
        and not response.streaming
        and response.get("Content-Type", "").startswith("text/html")
        and not any(header in response for header in NAVIGATING_HEADERS)
    )
