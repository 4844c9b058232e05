"""The Audit pages: the chain's state, verification on request, the events, and exports with their manifests.

Open to auditors (the `auditors` group) and superusers, and to project admins, whose
exports hold only their own projects' records. Every view checks this on the server.
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST, require_safe

from governance.audit.selectors import EventPage, event_page
from governance.audit.services import Actor
from governance.audit.verification import chain_state, verify_and_record
from governance.exports import exports
from governance.exports.forms import (
    EXPORT_FORMS,
    AuditExportForm,
    EventFilterForm,
    ExportForm,
    GenerationExportForm,
)
from governance.lib.converters import number_or_none
from governance.projects.permissions import AuditAccess, audit_access, record_refused_visit

PAGE = "exports/audit.html"
EVENTS_PAGE = "exports/events.html"


def auditors_only(view):
    """Sign-in first; then auditors, superusers and project admins pass, everyone else gets a readable 403."""

    @wraps(view)
    @login_required
    def checked(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        access = audit_access(request.user)
        if access is None:
            record_refused_visit(
                user=request.user, path=request.path, method=request.method, reason="not an auditor or project admin"
            )
            return render(request, "exports/forbidden.html", status=403)
        return view(request, access, *args, **kwargs)

    return checked


@require_GET
@auditors_only
def audit(request: HttpRequest, access: AuditAccess) -> HttpResponse:
    return render(request, PAGE, page_context(request, access))


@require_safe
@auditors_only
def events(request: HttpRequest, access: AuditAccess) -> HttpResponse:
    """The chain's events, newest first, filtered as the audit export is; a project admin sees their projects'."""
    form = EventFilterForm(request.GET, projects=access.projects)
    before = number_or_none(request.GET.get("before", ""))
    page = event_page(form.filters, before=before) if form.is_valid() else EventPage([], None)
    template = EVENTS_PAGE
    if request.htmx and not request.htmx.history_restore_request:
        template += "#rows"
    filtered = any(value for name, value in request.GET.items() if name != "before")
    response = render(request, template, {"access": access, "form": form, "page": page, "filtered": filtered})
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_POST
@auditors_only
def verify(request: HttpRequest, access: AuditAccess) -> HttpResponse:
    verify_and_record(actor=Actor.for_user(request.user))
    if request.htmx:
        return render(request, PAGE + "#chain", {"chain": chain_state()})
    return redirect("exports:audit")


@require_POST
@auditors_only
def export(request: HttpRequest, access: AuditAccess, kind: str) -> HttpResponse:
    if kind not in EXPORT_FORMS:
        raise Http404("No such export.")
    form = EXPORT_FORMS[kind](request.POST, projects=access.projects)
    if not form.is_valid():
        return render(request, PAGE, page_context(request, access, invalid=form), status=400)
    made = exports.Export(
        kind=kind, format=form.cleaned_data["format"], filters=form.filters, actor=Actor.for_user(request.user)
    )
    response = StreamingHttpResponse(made.stream(), content_type=made.content_type)
    response["Content-Disposition"] = f'attachment; filename="{made.filename}"'
    response["Cache-Control"] = "no-store"
    response["X-Export-Id"] = made.export_id
    return response


@require_GET
@auditors_only
def manifest(request: HttpRequest, access: AuditAccess, export_id: str) -> HttpResponse:
    found = exports.find_manifest(export_id, made_by=_whose_exports(access, request.user))
    if found is None:
        raise Http404("No export with that id among the ones you may see.")
    response = HttpResponse(exports.manifest_json(found), content_type="application/json")
    filename = f"{found['kind']}-{export_id}.{found['format']}.manifest.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def page_context(request: HttpRequest, access: AuditAccess, *, invalid: ExportForm | None = None) -> dict:
    forms = {
        kind: invalid if invalid is not None and invalid.kind == kind else form_class(projects=access.projects)
        for kind, form_class in ((exports.GENERATIONS, GenerationExportForm), (exports.AUDIT, AuditExportForm))
    }
    return {
        "access": access,
        "chain": chain_state(),
        "generation_form": forms[exports.GENERATIONS],
        "audit_form": forms[exports.AUDIT],
        "recent_exports": exports.recent_exports(made_by=_whose_exports(access, request.user)),
    }


def _whose_exports(access: AuditAccess, user):
    """Whose exports the user may list and download: everyone's (None), or only their own."""
    return None if access.sees_everything else user
