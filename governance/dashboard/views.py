import mimetypes

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_http_methods, require_safe
from django_htmx.http import HttpResponseClientRefresh

from governance.dashboard import selectors
from governance.dashboard.forms import GenerationFilterForm, PlaygroundForm
from governance.generations.content import ArchiveUnreadable, stream_content
from governance.generations.errors import status_for
from governance.generations.models import Generation
from governance.generations.services import PlaygroundRateLimited, submit_from_playground
from governance.generations.upstream import UpstreamError
from governance.lib.converters import number_or_none
from governance.projects import permissions
from governance.projects.models import Environment
from governance.projects.permissions import record_refused_visit

HTMX_STOP_POLLING = 286
DASHBOARD_VARIANTS = ("video", "thumbnail")


@require_safe  # HEAD too, as uptime checks send it: answered like GET (sign-in redirect or page), without a body
@login_required
def overview(request: HttpRequest) -> HttpResponse:
    matrix = selectors.overview_matrix(request.user, now=timezone.now())
    # The page's own box names these environments; the site-wide banner leaves them out here.
    covered = {cell.environment.pk for cell in matrix.problems}
    return render(request, "dashboard/overview.html", {"matrix": matrix, "lifecycle_banner_covered": covered})


@require_safe
@cache_control(max_age=86400)
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on every site: send them to our SVG icon (a temporary redirect, cached a day)."""
    return redirect(static("favicon.svg"))


@require_safe
@login_required
def generation_list(request: HttpRequest) -> HttpResponse:
    form = GenerationFilterForm(
        request.GET, projects=permissions.visible_projects(request.user), snapshots=selectors.snapshot_names()
    )
    filters = form.filters()
    page = selectors.generation_page(request.user, filters) if filters else selectors.GenerationPage([], None)
    template = "dashboard/generation_list.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#rows"
    context = {
        "form": form,
        "page": page,
        "filtered": _is_filtered(request),
        "search_window": f"{selectors.TEXT_SEARCH_WINDOW:,}",
    }
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _is_filtered(request: HttpRequest) -> bool:
    return any(value for name, value in request.GET.items() if name != "before")


@require_safe
@login_required
def generation_row(request: HttpRequest, video_id: str) -> HttpResponse:
    """One log row, polled while its generation runs; 286 tells htmx to stop polling once it is finished."""
    generation = _visible_generation(request, video_id, selectors.log_row)
    response = render(request, "dashboard/generation_list.html#row", {"generation": generation})
    if generation.is_finished:
        response.status_code = HTMX_STOP_POLLING
    return response


@require_safe
@login_required
def generation_detail(request: HttpRequest, video_id: str) -> HttpResponse:
    generation = _visible_generation(request, video_id, selectors.generation_detail)
    if request.htmx and not request.htmx.history_restore_request:
        if generation.is_finished:  # the whole page changes: timeline, latency, cost, the video
            return HttpResponseClientRefresh()
        return render(request, "dashboard/generation_detail.html#progress", {"generation": generation})
    context = {
        "generation": generation,
        "timeline": selectors.timeline_entries(generation),
        "lineage": selectors.lineage(request.user, generation),
        "character": selectors.character_made_by(generation),
        "archived_files": list(generation.archived_files.all()),
    }
    response = render(request, "dashboard/generation_detail.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_safe
@login_required
def generation_content(request: HttpRequest, video_id: str, variant: str) -> HttpResponse:
    """The video or its thumbnail, streamed from our archive like the gateway's content endpoint."""
    generation = _visible_generation(request, video_id, selectors.generation_detail)
    if generation.operation == Generation.Operation.CHARACTER:
        raise Http404("A character has no video of its own; videos that feature it have.")
    if variant not in DASHBOARD_VARIANTS or generation.status != Generation.Status.COMPLETED:
        raise Http404("This generation has no such content (it exists once completed).")
    try:
        response = stream_content(generation, variant)
    except ArchiveUnreadable as error:
        return HttpResponse(error.message, status=status_for(error.code), content_type="text/plain; charset=utf-8")
    except UpstreamError as error:
        status = 404 if error.status == 404 else 502
        message = f"The provider could not deliver this {variant}: {error.message}"
        return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    # A saved file is named after its generation, not the browser's "download.mp4".
    extension = mimetypes.guess_extension(response["Content-Type"].split(";")[0]) or ""
    response["Content-Disposition"] = f'inline; filename="{generation.video_id}{extension}"'
    return response


def _visible_generation(request: HttpRequest, video_id: str, find) -> Generation:
    generation = find(request.user, video_id)
    if generation is not None:
        return generation
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


@require_http_methods(["GET", "POST"])
@login_required
def playground(request: HttpRequest) -> HttpResponse:
    projects = permissions.projects_where(request.user, permissions.GENERATE)
    if not projects:
        needed = permissions.MINIMUM_ROLE[permissions.GENERATE]
        return _playground_refused(request, f"needs the {needed} role in at least one project")
    if request.method == "GET":
        return _playground_page(request, Environment.objects.filter(project__in=projects))
    offered = selectors.playground_choices()  # the policy decides a submission, whatever the form offered
    # Any visible environment is accepted here, so a viewer's post is refused by the role check, not hidden.
    environments = Environment.objects.filter(project__in=permissions.visible_projects(request.user))
    form = PlaygroundForm(request.POST, environments=environments, offered=offered)
    if not form.is_valid():
        return render(request, "dashboard/playground.html", {"form": form}, status=400)
    environment = form.cleaned_data["environment"]
    if not permissions.may(request.user, environment.project, permissions.GENERATE):
        needed = permissions.MINIMUM_ROLE[permissions.GENERATE]
        return _playground_refused(request, f"needs the {needed} role in {environment.project.slug}", environment)
    try:
        generation = submit_from_playground(user=request.user, environment=environment, fields=form.request_fields())
    except PlaygroundRateLimited as limited:
        form.add_error(None, str(limited))
        response = render(request, "dashboard/playground.html", {"form": form}, status=429)
        response["Retry-After"] = str(limited.retry_after)
        return response
    if generation.status != Generation.Status.REFUSED:
        return redirect("dashboard:generation_detail", video_id=generation.video_id)
    form = PlaygroundForm(
        initial=form.cleaned_data,
        environments=Environment.objects.filter(project__in=projects),
        offered=offered,
        accepted=selectors.playground_choices_for(environment),
    )
    context = {"form": form, "refused": generation, "environment": environment}
    return render(request, "dashboard/playground.html", context, status=200)


def _playground_page(request: HttpRequest, environments) -> HttpResponse:
    """The form for the chosen environment (`?environment=`), its choices grouped by what its policy accepts.

    Changing the environment asks htmx for the choices alone, from the same template.
    """
    environments = environments.select_related("project").order_by("project__name", "name")
    environment_id = number_or_none(request.GET.get("environment", ""))
    chosen = environments.filter(pk=environment_id).first() if environment_id is not None else None
    chosen = chosen or environments.first()
    form = PlaygroundForm(
        environments=environments,
        initial={"environment": chosen},
        offered=selectors.playground_choices(),
        accepted=selectors.playground_choices_for(chosen) if chosen else None,
    )
    context = {"form": form, "environment": chosen}
    template = "dashboard/playground.html#choices" if request.htmx else "dashboard/playground.html"
    return render(request, template, context)


def _playground_refused(request: HttpRequest, reason: str, environment: Environment | None = None) -> HttpResponse:
    project = environment.project if environment is not None else None
    record_refused_visit(
        user=request.user,
        path=request.path,
        method=request.method,
        reason=reason,
        project=project,
        environment=environment,
    )
    role = permissions.project_role(request.user, project) if project is not None else None
    return render(request, "dashboard/playground_forbidden.html", {"project": project, "role": role}, status=403)
