"""Environment policies: everyone in the project reads them; admins write new revisions of unprotected ones.

A new revision is checked by the Policy editor's own form and written by `revise_policy`, so it
meets the same rules and gets the same refusals: a protected environment's policy changes only
through an approved migration plan (403 `protected_environment`, audited as the page's refusal is).
"""

from django.core.exceptions import ValidationError
from django.utils import timezone

from governance.audit.services import Actor
from governance.catalog.models import Provider
from governance.catalog.selectors import CatalogRows
from governance.management_api import schemas, serializers
from governance.management_api.endpoints import Call, operation
from governance.management_api.errors import ApiError
from governance.management_api.views.projects import environment_of
from governance.policies import descriptions
from governance.policies.forms import PolicyForm
from governance.policies.services import revise_policy
from governance.projects import permissions
from governance.projects.models import Environment, Project

TAG = "Policies"
PROTECTED = "{environment} is protected: its policy changes only through an approved migration plan"
NOT_SENT = object()


@operation(
    "GET",
    summary="The environment's revisions, newest first (the first is in force)",
    tag=TAG,
    response=schemas.listing("PolicyRevisionList", schemas.POLICY),
    action=permissions.VIEW_PROJECT,
    errors=(401, 403, 404),
)
def list_revisions(call: Call, project: Project, environment: str) -> dict:
    revisions = descriptions.revisions_of(environment_of(project, environment))
    return {"data": [serializers.policy(revision) for revision in revisions]}


@operation(
    "GET",
    summary="One revision of the environment's policy",
    tag=TAG,
    response=schemas.POLICY,
    action=permissions.VIEW_PROJECT,
    errors=(401, 403, 404),
)
def get_revision(call: Call, project: Project, environment: str, number: int) -> dict:
    revision = descriptions.revisions_of(environment_of(project, environment)).filter(number=number).first()
    if revision is None:
        raise ApiError.not_found(f"{project.slug}/{environment} has no revision {number}.")
    return serializers.policy(revision)


@operation(
    "POST",
    summary="Write the environment's next policy revision (admins; unprotected environments)",
    tag=TAG,
    body=schemas.POLICY_REQUEST,
    response=schemas.POLICY,
    status=201,
    action=permissions.EDIT_POLICY,
    errors=(400, 401, 403, 404),
    description=(
        "Fields not sent keep the current revision's values. A protected environment is refused with 403 "
        "`protected_environment`: move it with a migration plan."
    ),
)
def create_revision(call: Call, project: Project, environment: str) -> dict:
    environment = environment_of(project, environment)
    current = descriptions.revisions_of(environment).first()
    if environment.protected and current is not None:
        refuse_protected(call, environment)
    provider = _provider(call.body.get("provider"), current)
    form = PolicyForm(
        _form_data(call.body, current, provider),
        catalog=CatalogRows.load(provider.pk),
        now=timezone.now(),
        other_catalogs=_other_catalogs(provider),
    )
    if not form.is_valid():
        raise ApiError.from_validation(ValidationError(form.errors.as_data()))
    revision = revise_policy(
        environment=environment,
        provider=provider,
        actor=Actor.for_user(call.user),
        reason=form.cleaned_data["reason"],
        created_by=call.user,
        **form.policy_values(),
    )
    return serializers.policy(revision)


def refuse_protected(call: Call, environment: Environment) -> None:
    reason = PROTECTED.format(environment=environment)
    permissions.record_refused_visit(
        user=call.user,
        path=call.request.path,
        method=call.request.method,
        reason=reason,
        project=environment.project,
        environment=environment,
    )
    raise ApiError(403, "protected_environment", reason + ".")


def _provider(slug: str | None, current) -> Provider:
    if slug:
        provider = Provider.objects.filter(slug=slug).first()
        if provider is None:
            raise ApiError(400, "invalid", f"No provider has the slug '{slug}'.", field="provider")
        return provider
    provider = current.provider if current is not None else Provider.objects.order_by("name").first()
    if provider is None:
        raise ApiError(409, "no_provider", "No provider is set up yet (load a catalog pack first).")
    return provider


def _form_data(body: dict, current, provider: Provider) -> dict:
    """The editor's form as a person would send it: the current values, with what the request changes."""
    same_provider = current is not None and current.provider_id == provider.pk
    data = PolicyForm.initial_from(current, same_provider=same_provider) if current is not None else {}
    data = {**data, **{name: value for name, value in body.items() if name not in ("provider", "canary_provider")}}
    if "canary_snapshot" in body or "canary_provider" in body:
        data["canary_snapshot"] = _canary_choice(body, current, provider)
    return {name: "" if value is None else value for name, value in data.items()}


def _canary_choice(body: dict, current, provider: Provider) -> str:
    """The form's spelling of a canary: `snapshot` at the policy's provider, `provider:snapshot` at another."""
    snapshot = body.get("canary_snapshot", NOT_SENT)
    if snapshot is NOT_SENT:
        snapshot = current.canary_snapshot if current is not None else ""
    other = body.get("canary_provider")
    return f"{other}:{snapshot}" if snapshot and other and other != provider.slug else snapshot


def _other_catalogs(provider: Provider) -> dict[Provider, CatalogRows]:
    others = {other.pk: other for other in Provider.objects.exclude(pk=provider.pk)}
    return {others[pk]: rows for pk, rows in CatalogRows.load_many(others).items()}
