"""Who may do what in a project: one table from action to minimum role, read by every check.

Viewer reads; developer also generates in the playground, reads API keys' metadata and
plans migrations; approver signs off checklist steps, judges comparisons and rolls back;
admin edits policies, keys, members, webhooks and the checklist, and runs rollouts.
Site-wide auditors read every project (as viewers) and superusers administer every
project. View decorators, services and template tags all read `MINIMUM_ROLE` (through
`requires`, `may`, `role_allows` and `allowed_actions`); none of them compares roles
itself, and refusals name the role with `role_needed`. A refused page is audited and
answered with a readable 403; a project the user may not see at all is a 404, so its
existence stays hidden.
"""

from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.db import models
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from governance.audit.services import Actor, record_event
from governance.projects.models import AUDITOR_GROUP, Membership, Project, Role

VIEW_PROJECT = "view_project"
READ_API_KEYS = "read_api_keys"
GENERATE = "generate"
PLAN_MIGRATION = "plan_migration"
ADD_EVIDENCE = "add_evidence"
RUN_COMPARISON = "run_comparison"
SIGN_OFF = "sign_off"
JUDGE_COMPARISON = "judge_comparison"
ROLL_BACK = "roll_back"
RUN_ROLLOUT = "run_rollout"
MANAGE_PLANS = "manage_plans"
EDIT_CHECKLIST = "edit_checklist"
EDIT_POLICY = "edit_policy"
MANAGE_API_KEYS = "manage_api_keys"
MANAGE_MEMBERS = "manage_members"
MANAGE_WEBHOOKS = "manage_webhooks"
EDIT_CONTENT_CREDENTIALS = "edit_content_credentials"
AUDIT_PROJECT = "audit_project"

MINIMUM_ROLE: dict[str, str] = {
    VIEW_PROJECT: Role.VIEWER,
    READ_API_KEYS: Role.DEVELOPER,
    GENERATE: Role.DEVELOPER,
    PLAN_MIGRATION: Role.DEVELOPER,  # create plans and edit one's own
    ADD_EVIDENCE: Role.DEVELOPER,
    RUN_COMPARISON: Role.DEVELOPER,
    SIGN_OFF: Role.APPROVER,  # and at least the role the step itself asks for
    JUDGE_COMPARISON: Role.APPROVER,
    ROLL_BACK: Role.APPROVER,
    RUN_ROLLOUT: Role.ADMIN,
    MANAGE_PLANS: Role.ADMIN,  # edit, submit or cancel another member's plan
    EDIT_CHECKLIST: Role.ADMIN,
    EDIT_POLICY: Role.ADMIN,
    MANAGE_API_KEYS: Role.ADMIN,
    MANAGE_MEMBERS: Role.ADMIN,
    MANAGE_WEBHOOKS: Role.ADMIN,
    EDIT_CONTENT_CREDENTIALS: Role.ADMIN,
    AUDIT_PROJECT: Role.ADMIN,  # its audit events and exports; site-wide auditors audit every project
}

REFUSED_ACCESS = "auth.refused"


def can_see_all_projects(user) -> bool:
    """Superusers and site-wide auditors see every project; everyone else only their own."""
    if not user.is_authenticated:
        return False
    return user.is_superuser or user.groups.filter(name=AUDITOR_GROUP).exists()


def visible_projects(user) -> QuerySet[Project]:
    if not user.is_authenticated:
        return Project.objects.none()
    if can_see_all_projects(user):
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user)


def project_role(user, project: Project) -> str | None:
    """The user's effective role in a project, or None when they may not see it."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return Role.ADMIN
    role = Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    if role is None and can_see_all_projects(user):
        return Role.VIEWER
    return role


def role_allows(role: str | None, action: str) -> bool:
    """Whether a role (None: no access) is enough for `action`, by the table."""
    return role is not None and Role.rank(role) >= Role.rank(MINIMUM_ROLE[action])


def roles_allowed(action: str) -> list[str]:
    """The roles that may do `action`, lowest first (for a query over memberships)."""
    return [role for role in Role.values if role_allows(role, action)]


def role_needed(action: str) -> str:
    """The table's answer in words, for refusals and hints: "the developer role or above"."""
    minimum = MINIMUM_ROLE[action]
    return f"the {minimum} role" if minimum == Role.ADMIN else f"the {minimum} role or above"


def may_read_api_keys(user, role: str | None) -> bool:
    """Key metadata (never a secret): whoever the table allows, and site-wide auditors, who read everything."""
    return role_allows(role, READ_API_KEYS) or can_see_all_projects(user)


def allowed_actions(role: str | None) -> dict[str, bool]:
    """Every action of the table and whether `role` may do it: what a page offers (`may.sign_off` in a template)."""
    return {action: role_allows(role, action) for action in MINIMUM_ROLE}


def may(user, project: Project, action: str) -> bool:
    return role_allows(project_role(user, project), action)


def has_role(user, project: Project, minimum: str) -> bool:
    """Whether the user has at least `minimum` (for a step's own required role, which the table cannot know)."""
    role = project_role(user, project)
    return role is not None and Role.rank(role) >= Role.rank(minimum)


def may_anywhere(user, action: str) -> bool:
    """Whether some project allows the user `action`, in one query (for the header and links).

    The same rule as `project_role`: superusers administer everything; auditors only read.
    """
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return Membership.objects.filter(user=user, role__in=roles_allowed(action)).exists()


def projects_where(user, action: str) -> list[Project]:
    """The projects where the user may do `action`, by the same rule as every other check."""
    return [project for project in visible_projects(user).order_by("name") if may(user, project, action)]


def project_admins(project: Project) -> list[str]:
    """The usernames of a project's admins: whom to ask for a role."""
    admins = Membership.objects.filter(project=project, role=Role.ADMIN, user__is_active=True)
    return list(admins.order_by("user__username").values_list("user__username", flat=True))


@dataclass(frozen=True)
class AuditAccess:
    """What one user may audit: every project (`projects` is None) or the projects they administer."""

    projects: QuerySet[Project] | None

    @property
    def sees_everything(self) -> bool:
        return self.projects is None


def audit_access(user) -> AuditAccess | None:
    """Auditors and superusers audit everything; a project admin audits their own projects; others nothing."""
    if not user.is_authenticated:
        return None
    if can_see_all_projects(user):
        return AuditAccess(projects=None)
    administered = Project.objects.filter(memberships__user=user, memberships__role__in=roles_allowed(AUDIT_PROJECT))
    return AuditAccess(projects=administered) if administered.exists() else None


def record_refused_visit(
    *, user, path: str, method: str, reason: str, target: models.Model | None = None, project=None, environment=None
) -> None:
    """Audit a signed-in user refused a page, whatever answer (403 or 404) they were given."""
    record_event(
        action=REFUSED_ACCESS,
        actor=Actor.for_user(user),
        target=target,
        project=project,
        environment=environment,
        payload={"path": path, "method": method, "reason": reason},
    )


def requires(action: str):
    """For views taking `project_slug`: sign in, find the project, check the table; the view gets `project` and `role`.

    The view is called as `view(request, project, role, **other_kwargs)`.
    """
    minimum = MINIMUM_ROLE[action]

    def decorator(view):
        @wraps(view)
        @login_required
        def checked(request: HttpRequest, project_slug: str, *args, **kwargs) -> HttpResponse:
            project = Project.objects.filter(slug=project_slug).first()
            role = project_role(request.user, project) if project is not None else None
            if role is None:
                raise Http404("No such project among yours.")
            if not role_allows(role, action):
                record_refused_visit(
                    user=request.user,
                    path=request.path,
                    method=request.method,
                    reason=f"needs the {minimum} role in {project.slug}; has {role}",
                    project=project,
                )
                context = {"project": project, "role": role, "needed": minimum}
                return render(request, "projects/forbidden.html", context, status=403)
            return view(request, project, role, *args, **kwargs)

        return checked

    return decorator
