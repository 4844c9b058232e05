"""Projects, their environments and members: members read them, admins change the members."""

from django.contrib.auth import get_user_model

from governance.audit.services import Actor
from governance.management_api import schemas, serializers
from governance.management_api.endpoints import Call, operation
from governance.management_api.errors import ApiError
from governance.management_api.tokens import projects_in_reach
from governance.projects import permissions
from governance.projects.models import Environment, Membership, Project
from governance.projects.services import change_member_role, remove_member, set_membership

TAG = "Projects"
READ_ERRORS = (401, 403, 404)
WRITE_ERRORS = (400, 401, 403, 404, 409)


@operation(
    "GET",
    summary="The projects this token may act in, with your role in each",
    tag=TAG,
    response=schemas.listing("ProjectList", schemas.PROJECT_REF),
    errors=(401,),
)
def list_projects(call: Call) -> dict:
    projects = projects_in_reach(call.token).order_by("name")
    return {"data": [serializers.project_ref(p, permissions.project_role(call.user, p)) for p in projects]}


@operation(
    "GET",
    summary="A project: its environments with their policies in force, your role and what it allows",
    tag=TAG,
    response=schemas.PROJECT,
    action=permissions.VIEW_PROJECT,
    errors=READ_ERRORS,
)
def get_project(call: Call, project: Project) -> dict:
    return serializers.project(project, call.role)


@operation(
    "GET",
    summary="One environment and its policy in force",
    tag=TAG,
    response=schemas.ENVIRONMENT,
    action=permissions.VIEW_PROJECT,
    errors=READ_ERRORS,
)
def get_environment(call: Call, project: Project, environment: str) -> dict:
    return serializers.environment(environment_of(project, environment))


@operation(
    "GET",
    summary="The project's members and their roles",
    tag=TAG,
    response=schemas.listing("MemberList", schemas.MEMBER),
    action=permissions.VIEW_PROJECT,
    errors=READ_ERRORS,
)
def list_members(call: Call, project: Project) -> dict:
    memberships = Membership.objects.filter(project=project).select_related("user").order_by("user__username")
    return {"data": [serializers.member(m) for m in memberships]}


@operation(
    "PUT",
    summary="Add a member with a role, or change a member's role (admins)",
    tag=TAG,
    body=schemas.MEMBERSHIP,
    response=schemas.MEMBER,
    action=permissions.MANAGE_MEMBERS,
    errors=WRITE_ERRORS,
    description="The project keeps at least one admin: demoting the last one is refused (409 `last_admin`).",
)
def put_member(call: Call, project: Project, username: str) -> dict:
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ApiError.not_found(f"There is no active user named '{username}'.")
    actor = Actor.for_user(call.user)
    membership = Membership.objects.filter(project=project, user=user).first()
    if membership is None:
        membership = set_membership(project=project, user=user, role=call.body["role"], actor=actor)
    else:
        membership = change_member_role(membership=membership, role=call.body["role"], actor=actor)
    return serializers.member(membership)


@operation(
    "DELETE",
    summary="Take a member out of the project (admins)",
    tag=TAG,
    status=204,
    action=permissions.MANAGE_MEMBERS,
    errors=(401, 403, 404, 409),
)
def delete_member(call: Call, project: Project, username: str) -> None:
    membership = Membership.objects.filter(project=project, user__username=username).select_related("user").first()
    if membership is None:
        raise ApiError.not_found(f"{username} is not a member of {project.slug}.")
    remove_member(membership=membership, actor=Actor.for_user(call.user))


def environment_of(project: Project, name: str, *, field: str | None = None) -> Environment:
    """The project's environment of that name; a 404 when the path names it, a 400 when a body `field` does."""
    environment = Environment.objects.select_related("project").filter(project=project, name=name).first()
    if environment is None:
        message = f"{project.slug} has no {name} environment."
        raise ApiError(400, "invalid", message, field=field) if field else ApiError.not_found(message)
    return environment
