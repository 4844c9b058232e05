"""The in-app inbox: a signed-in user's own notifications, and marking them read.

Every query is scoped to `request.user`, so nobody reads or marks another's.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from governance.lib.converters import number_or_none
from governance.notifications import selectors, services

INBOX_PAGE = "notifications/inbox.html"


@require_safe
@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    unread_only = request.GET.get("show") == "unread"
    return render(
        request,
        INBOX_PAGE,
        {"notifications": selectors.inbox(request.user, unread_only=unread_only), "unread_only": unread_only},
    )


@require_POST
@login_required
def mark_read(request: HttpRequest) -> HttpResponse:
    """Mark one notification read (`notification` in the form) or all of them."""
    notification_id = request.POST.get("notification", "")
    ids = None
    if notification_id:
        number = number_or_none(notification_id)
        if number is None:
            return HttpResponseBadRequest("No such notification.")
        ids = [number]
    services.mark_read(request.user, ids)
    if request.htmx:
        return render(
            request,
            f"{INBOX_PAGE}#inbox",
            {"notifications": selectors.inbox(request.user), "unread_only": False},
        )
    return redirect("notifications:inbox")
