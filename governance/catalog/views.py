from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_safe

from governance.catalog import catalog_page
from governance.catalog.forms import CompareForm


@require_safe
@login_required
def catalog(request: HttpRequest) -> HttpResponse:
    """Readable by every signed-in user: the catalog belongs to no project."""
    now = timezone.now()
    form = CompareForm(request.GET)
    chosen = form.snapshots()
    comparison = catalog_page.compare(*chosen, now=now) if chosen else None
    template = "catalog/catalog.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#comparison"
        context = {"form": form, "comparison": comparison}
    else:
        context = {
            "form": form,
            "comparison": comparison,
            "providers": catalog_page.catalog(now=now),
            "alias_history": catalog_page.alias_history(),
            "alias_drifts": catalog_page.alias_drifts(),
        }
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response
