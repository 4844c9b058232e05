"""Who may do what on a project's pages: one rule, checked on the server by every view.

Viewer reads; developer also uses the playground and reads API keys' metadata;
approver signs off migration plans; admin edits policies, keys and members.
Site-wide auditors read every project (as viewers) and superusers administer
every project. A refusal is audited and answered with a readable 403 page; a
project the user may not see at all is a 404, so its existence stays hidden.
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from governance.dashboard.selectors import can_see_all_projects, visible_projects
from governance.dashboard.services import record_refused_visit
from governance.projects.models import Membership, Project, Role


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


def has_role(user, project: Project, minimum: str) -> bool:
    role = project_role(user, project)
    return role is not None and Role.rank(role) >= Role.rank(minimum)


def has_role_anywhere(user, minimum: str) -> bool:
    """Whether some project gives the user at least `minimum`, in one query (for the header and links).

    The same rule as `project_role`: superusers administer everything; auditors only read.
    """
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    enough = [role for role in Role.values if Role.rank(role) >= Role.rank(minimum)]
    return Membership.objects.filter(user=user, role__in=enough).exists()


def project_admins(project: Project) -> list[str]:
    """The usernames of a project's admins: whom to ask for a role."""
    admins = Membership.objects.filter(project=project, role=Role.ADMIN, user__is_active=True)
    return list(admins.order_by("user__username").values_list("user__username", flat=True))


def projects_with_role(user, minimum: str) -> list[Project]:
    """The projects where the user has at least `minimum`, by the same rule as every other check."""
    return [project for project in visible_projects(user).order_by("name") if has_role(user, project, minimum)]


def requires_project_role(minimum: str):
    """For views taking `project_slug`: sign in, find the project, check the role; the view gets `project` and `role`.

    The view is called as `view(request, project, role, **other_kwargs)`.
    """

    def decorator(view):
        @wraps(view)
        @login_required
        def checked(request: HttpRequest, project_slug: str, *args, **kwargs) -> HttpResponse:
            project = Project.objects.filter(slug=project_slug).first()
            role = project_role(request.user, project) if project is not None else None
            if role is None:
                raise Http404("No such project among yours.")
            if Role.rank(role) < Role.rank(minimum):
                record_refused_visit(
                    user=request.user,
                    path=request.path,
                    method=request.method,
                    reason=f"needs the {minimum} role in {project.slug}; has {role}",
                    project=project,
                )
                context = {"project": project, "role": role, "needed": minimum}
                return render(request, "dashboard/forbidden.html", context, status=403)
            return view(request, project, role, *args, **kwargs)

        return checked

    return decorator
