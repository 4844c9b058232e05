from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from governance.dashboard import selectors
from governance.dashboard.forms import GenerationFilterForm
from governance.dashboard.services import record_refused_visit


@require_GET
@login_required
def overview(request: HttpRequest) -> HttpResponse:
    matrix = selectors.overview_matrix(request.user, now=timezone.now())
    return render(request, "dashboard/overview.html", {"matrix": matrix})


@require_GET
@login_required
def generation_list(request: HttpRequest) -> HttpResponse:
    form = GenerationFilterForm(request.GET, projects=selectors.visible_projects(request.user))
    filters = form.filters()
    page = selectors.generation_page(request.user, filters) if filters else selectors.GenerationPage([], None)
    template = "dashboard/generation_list.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#rows"
    response = render(request, template, {"form": form, "page": page})
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_GET
@login_required
def generation_detail(request: HttpRequest, video_id: str) -> HttpResponse:
    generation = selectors.generation_detail(request.user, video_id)
    if generation is None:
        hidden = selectors.generation_by_video_id(video_id)
        if hidden is not None:  # refused, but answered like a missing one so its existence stays hidden
            record_refused_visit(
                user=request.user,
                path=request.path,
                method=request.method,
                reason="not a member of the generation's project",
                target=hidden,
                project=hidden.project,
                environment=hidden.environment,
            )
        raise Http404("No such generation in your projects.")
    context = {"generation": generation, "timeline": selectors.timeline_entries(generation)}
    return render(request, "dashboard/generation_detail.html", context)
