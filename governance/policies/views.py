"""The Policy editor and the revision diff: an environment's policy, read and revised.

Viewers read the diff; admins revise a policy. A protected environment's policy changes only
through an approved migration plan, so its editor is read-only and a sent form is refused.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods, require_safe

from governance.audit.services import Actor
from governance.catalog.models import Provider
from governance.catalog.selectors import CatalogRows
from governance.lib.converters import number_or_none
from governance.policies import descriptions
from governance.policies.engine import ALIAS_REFUSE
from governance.policies.forms import PolicyForm
from governance.policies.models import PolicyRevision
from governance.policies.selectors import file_origin
from governance.policies.services import ProtectedEnvironmentError, revise_policy
from governance.projects import permissions
from governance.projects.models import Environment, Project
from governance.projects.permissions import record_refused_visit, requires

EDITOR_PAGE = "policies/policy_editor.html"


@require_safe
@requires(permissions.VIEW_PROJECT)
def revision_diff(request: HttpRequest, project: Project, role: str, environment_name: str) -> HttpResponse:
    """Two revisions of one environment compared; the page's `diff` partial when htmx asks."""
    environment = get_object_or_404(
        Environment.objects.select_related("project"), project=project, name=environment_name
    )
    revisions = list(descriptions.revisions_of(environment))
    by_number = {revision.number: revision for revision in revisions}
    newer = by_number.get(number_or_none(request.GET.get("to", ""))) or (revisions[0] if revisions else None)
    older = by_number.get(number_or_none(request.GET.get("from", ""))) or (
        revisions[1] if len(revisions) > 1 else newer
    )
    diff = descriptions.revision_diff(older, newer) if newer is not None else None
    context = {"project": project, "role": role, "environment": environment, "diff": diff, "revisions": revisions}
    template = "policies/revision_diff.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#diff"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_http_methods(["GET", "POST"])
@requires(permissions.EDIT_POLICY)
def policy_editor(request: HttpRequest, project: Project, role: str, environment_name: str) -> HttpResponse:
    environment = get_object_or_404(
        Environment.objects.select_related("project"), project=project, name=environment_name
    )
    revisions = list(descriptions.revisions_of(environment))
    current = revisions[0] if revisions else None
    provider = _chosen_provider(request, current.provider if current else None)
    context = {"project": project, "role": role, "environment": environment, "current": current}
    context["file_origin"] = file_origin(revisions)
    context["providers"] = Provider.objects.order_by("name")
    context["provider"] = provider
    if provider is None:
        context["sentences"] = []
        return render(request, EDITOR_PAGE, context)
    catalog = CatalogRows.load(provider.pk)
    if current is not None:
        current_catalog = catalog if current.provider_id == provider.pk else CatalogRows.load(current.provider_id)
        context["sentences"] = descriptions.describe_policy(environment, current, current_catalog)
    else:
        context["sentences"] = []
    if environment.protected and current is not None:
        if request.method == "POST":
            return _refuse_protected_edit(request, project, environment, context)
        return render(request, EDITOR_PAGE, context)
    now = timezone.now()
    if request.method == "GET":
        if current is None:
            initial = {"alias_requests": ALIAS_REFUSE}
        else:
            initial = PolicyForm.initial_from(current, same_provider=provider == current.provider)
        context["form"] = PolicyForm(
            initial=initial, catalog=catalog, now=now, other_catalogs=_other_catalogs(provider)
        )
        context["saved_diff"] = _saved_diff(request, environment, current) if current else None
        return render(request, EDITOR_PAGE, context)
    form = PolicyForm(request.POST, catalog=catalog, now=now, other_catalogs=_other_catalogs(provider))
    context["form"] = form
    if form.is_valid():
        try:
            revision = revise_policy(
                environment=environment,
                provider=provider,
                actor=Actor.for_user(request.user),
                reason=form.cleaned_data["reason"],
                created_by=request.user,
                **form.policy_values(),
            )
        except ProtectedEnvironmentError:
            return _refuse_protected_edit(request, project, environment, context)
        except ValidationError as error:
            _add_service_errors(form, error)
        else:
            messages.success(request, f"Saved revision {revision.number} of {environment}.")
            url = reverse("policies:policy_editor", args=[project.slug, environment.name])
            return redirect(f"{url}?saved={revision.number}")
    return render(request, EDITOR_PAGE, context, status=400)


def _other_catalogs(provider: Provider) -> dict[Provider, CatalogRows]:
    """Every other provider's catalog, for a canary across providers."""
    others = {other.pk: other for other in Provider.objects.exclude(pk=provider.pk)}
    return {others[pk]: rows for pk, rows in CatalogRows.load_many(others).items()}


def _chosen_provider(request: HttpRequest, current: Provider | None) -> Provider | None:
    """The provider whose catalog the new revision uses: the one the admin picked, else the current one.

    An environment's first policy defaults to the first provider by name.
    """
    providers = Provider.objects.order_by("name")
    slug = request.POST.get("provider") or request.GET.get("provider")
    return (providers.filter(slug=slug).first() if slug else None) or current or providers.first()


def _saved_diff(request: HttpRequest, environment: Environment, current: PolicyRevision):
    """After a save, the new revision compared with the one before it."""
    if number_or_none(request.GET.get("saved", "")) != current.number or current.number < 2:
        return None
    previous = environment.policy_revisions.filter(number=current.number - 1).first()
    return descriptions.revision_diff(previous, current) if previous else None


def _add_service_errors(form: PolicyForm, error: ValidationError) -> None:
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, field_errors in error.error_dict.items():
        form.add_error(field if field in form.fields else None, field_errors)


def _refuse_protected_edit(request, project: Project, environment: Environment, context: dict) -> HttpResponse:
    record_refused_visit(
        user=request.user,
        path=request.path,
        method=request.method,
        reason=f"{environment} is protected: its policy changes only through an approved migration plan",
        project=project,
        environment=environment,
    )
    return render(request, EDITOR_PAGE, {**context, "refused": True}, status=403)
