"""The Project page and what it manages in place: API keys, members, content credentials.

Viewer reads; developer also reads keys' metadata; admin edits keys, members and
signing. Every view checks the permission table on the server through `permissions.requires`.
The Policy editor is the policies app's page.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from governance.audit.services import Actor
from governance.dashboard import project_selectors as selectors
from governance.dashboard.project_forms import AddMemberForm, ApiKeyForm, MemberRoleForm
from governance.infra import sent_forms
from governance.projects import permissions
from governance.projects.models import ApiKey, Environment, Membership, Project, Role
from governance.projects.permissions import requires
from governance.projects.services import (
    LastAdminError,
    change_member_role,
    create_api_key,
    remove_member,
    revoke_api_key,
    set_content_credentials,
    set_membership,
)

PROJECT_PAGE = "dashboard/project/project.html"


@require_safe
@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    summaries = selectors.project_summaries(
        request.user, role_of=lambda project: permissions.project_role(request.user, project)
    )
    return render(request, "dashboard/project/project_list.html", {"summaries": summaries})


@require_safe
@requires(permissions.VIEW_PROJECT)
def project_detail(request: HttpRequest, project: Project, role: str) -> HttpResponse:
    return render(request, PROJECT_PAGE, project_context(request, project, role))


@require_http_methods(["GET", "POST"])
@requires(permissions.MANAGE_API_KEYS)
def api_key_create(request: HttpRequest, project: Project, role: str, environment_name: str) -> HttpResponse:
    environment = get_object_or_404(
        Environment.objects.select_related("project"), project=project, name=environment_name
    )
    form = ApiKeyForm(request.POST or None, initial={"form_token": sent_forms.new_token()})
    context = {"project": project, "role": role, "environment": environment, "form": form}
    if request.method == "POST" and form.is_valid():
        token = form.cleaned_data["form_token"]
        if (made := sent_forms.claim(request, "api_key", token)) is not None:
            return _key_form_sent_again(request, environment, made)
        with sent_forms.making(request, "api_key", token) as made:
            api_key, raw_key = create_api_key(
                environment=environment,
                name=form.cleaned_data["name"],
                actor=Actor.for_user(request.user),
                created_by=request.user,
            )
            made(api_key.pk)
        # The raw key exists only in this response: never stored, never cached, never shown again.
        response = render(
            request, "dashboard/project/api_key_created.html", {**context, "api_key": api_key, "raw_key": raw_key}
        )
        add_never_cache_headers(response)
        return response
    status = 400 if request.method == "POST" else 200
    return render(request, "dashboard/project/api_key_form.html", context, status=status)


def _key_form_sent_again(request: HttpRequest, environment: Environment, key_id: int) -> HttpResponse:
    """The browser resent a form that already made a key (a reload of the page that showed it, a double click)."""
    api_key = ApiKey.objects.filter(pk=key_id, environment=environment).first()
    if api_key is not None:
        messages.warning(
            request,
            f"No new key: the key “{api_key.name}” ({api_key.prefix}…) was created when this form was first sent, "
            "and its value was shown then, once. If nobody copied it, revoke it and create another.",
        )
    else:  # sent twice at once (a double click): the first sending is still making it
        messages.warning(request, "This form was sent twice; only one key is made, by the first sending.")
    url = reverse("dashboard:project_detail", args=[environment.project.slug])
    return redirect(f"{url}#keys-{environment.name}")


@require_http_methods(["GET", "POST"])
@requires(permissions.MANAGE_API_KEYS)
def api_key_revoke(request: HttpRequest, project: Project, role: str, key_id: int) -> HttpResponse:
    api_key = ApiKey.objects.select_related("environment").filter(pk=key_id, environment__project=project).first()
    if api_key is None:
        raise Http404("No such key in this project.")
    if request.method == "POST":
        revoke_api_key(api_key=api_key, actor=Actor.for_user(request.user))
        messages.success(request, f"Revoked the key “{api_key.name}” ({api_key.prefix}…). It no longer works.")
        return redirect(reverse("dashboard:project_detail", args=[project.slug]) + "#keys")
    context = {"project": project, "role": role, "api_key": api_key}
    return render(request, "dashboard/project/api_key_revoke.html", context)


@require_POST
@requires(permissions.EDIT_CONTENT_CREDENTIALS)
def content_credentials(request: HttpRequest, project: Project, role: str, environment_name: str) -> HttpResponse:
    """Switch signing of an environment's videos on or off, and whether manifests carry the prompt itself."""
    environment = get_object_or_404(
        Environment.objects.select_related("project"), project=project, name=environment_name
    )
    sign_content = request.POST.get("sign_content") == "on"
    prompt_in_credentials = sign_content and request.POST.get("prompt_in_credentials") == "on"
    set_content_credentials(
        environment=environment,
        sign_content=sign_content,
        prompt_in_credentials=prompt_in_credentials,
        actor=Actor.for_user(request.user),
    )
    if not sign_content:
        said = "not signed"
    elif prompt_in_credentials:
        said = "signed, with the prompt"
    else:
        said = "signed, with the prompt's SHA-256 only"
    messages.success(request, f"{environment.get_name_display()}: videos archived from now on are {said}.")
    return redirect(reverse("dashboard:project_detail", args=[project.slug]) + f"#environment-{environment.name}")


@require_POST
@requires(permissions.MANAGE_MEMBERS)
def member_add(request: HttpRequest, project: Project, role: str) -> HttpResponse:
    form = AddMemberForm(request.POST, project=project)
    if not form.is_valid():
        return _members_page(request, project, role, status=400, add_member_form=form)
    user = form.cleaned_data["username"]
    set_membership(project=project, user=user, role=form.cleaned_data["role"], actor=Actor.for_user(request.user))
    messages.success(request, f"Added {user.get_username()} as {form.cleaned_data['role']}.")
    return _to_members(project)


@require_POST
@requires(permissions.MANAGE_MEMBERS)
def member_change(request: HttpRequest, project: Project, role: str, membership_id: int) -> HttpResponse:
    membership = _membership_or_404(project, membership_id)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles: viewer, developer, approver or admin.")
        return _members_page(request, project, role, status=400)
    try:
        change_member_role(membership=membership, role=form.cleaned_data["role"], actor=Actor.for_user(request.user))
    except LastAdminError as error:
        messages.error(request, str(error))
        return _members_page(request, project, role, status=409)
    messages.success(request, f"{membership.user.get_username()} is now {form.cleaned_data['role']}.")
    return _to_members(project)


@require_POST
@requires(permissions.MANAGE_MEMBERS)
def member_remove(request: HttpRequest, project: Project, role: str, membership_id: int) -> HttpResponse:
    membership = _membership_or_404(project, membership_id)
    try:
        remove_member(membership=membership, actor=Actor.for_user(request.user))
    except LastAdminError as error:
        messages.error(request, str(error))
        return _members_page(request, project, role, status=409)
    messages.success(request, f"Removed {membership.user.get_username()} from {project.name}.")
    return _to_members(project)


# Helpers


def project_context(request: HttpRequest, project: Project, role: str, **extra) -> dict:
    # Key metadata (never a secret): developers and up, and site-wide auditors, who read everything.
    can_read_keys = permissions.may_read_api_keys(request.user, role)
    api_keys = selectors.api_keys_of(project) if can_read_keys else {}
    policies = selectors.environment_policies(project, now=timezone.now())
    characters = selectors.characters_of(project)
    return {
        "project": project,
        "role": role,
        "may": permissions.allowed_actions(role),
        "can_read_keys": can_read_keys,
        "environments": [
            (policy, api_keys.get(policy.environment.pk, []), characters.get(policy.environment.pk, []))
            for policy in policies
        ],
        "members": selectors.members_of(project),
        "roles": Role.choices,
        "add_member_form": extra.pop("add_member_form", None) or AddMemberForm(project=project),
        **extra,
    }


def _membership_or_404(project: Project, membership_id: int) -> Membership:
    membership = Membership.objects.select_related("user", "project").filter(pk=membership_id, project=project).first()
    if membership is None:
        raise Http404("No such member of this project.")
    return membership


def _to_members(project: Project) -> HttpResponse:
    return redirect(reverse("dashboard:project_detail", args=[project.slug]) + "#members")


def _members_page(request: HttpRequest, project: Project, role: str, *, status: int, **extra) -> HttpResponse:
    """The project page again, with the refusal (409) or the bad input (400) said in its messages and forms."""
    return render(request, PROJECT_PAGE, project_context(request, project, role, **extra), status=status)
