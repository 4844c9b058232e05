from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_safe

from governance.dashboard import usage_selectors
from governance.dashboard.usage_forms import UsageFilterForm
from governance.projects import permissions


@require_safe
@login_required
def usage(request: HttpRequest) -> HttpResponse:
    """Usage and health of the user's own projects; no project is named that the user may not see."""
    projects = permissions.visible_projects(request.user)
    form = UsageFilterForm(request.GET, projects=projects)
    filters = form.filters()
    report = usage_selectors.usage(request.user, filters, now=timezone.now()) if filters else None
    template = "dashboard/usage/usage.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#report"
    context = {"form": form, "usage": report, "has_projects": projects.exists()}
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response
