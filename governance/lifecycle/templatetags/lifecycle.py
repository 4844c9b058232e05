from django import template

from governance.lifecycle.selectors import open_alerts
from governance.lifecycle.services import migration_plan_url as plan_url
from governance.lifecycle.services import recovery_advice as advice
from governance.projects import permissions
from governance.projects.models import Environment
from governance.projects.permissions import project_admins, project_role, visible_projects

register = template.Library()


@register.simple_tag
def migration_plan_url(project_slug: str, environment_name: str, to_snapshot: str = "") -> str:
    return plan_url(project_slug, environment_name, to_snapshot or "")


@register.simple_tag(takes_context=True)
def may_plan_migration(context, project) -> bool:
    """Whether to offer "Plan migration" in `project`; a page asks once per project per request."""
    roles = _cached(context, "_project_roles")
    if project.pk not in roles:
        roles[project.pk] = project_role(context["request"].user, project)
    role = roles[project.pk]
    return permissions.role_allows(role, permissions.PLAN_MIGRATION)


@register.simple_tag(takes_context=True)
def may_plan_any_migration(context, alerts_by_environment: list[list]) -> bool:
    """Whether the user may plan a migration for one of these environments (the banner's alerts)."""
    return any(may_plan_migration(context, alerts[0].environment.project) for alerts in alerts_by_environment)


@register.inclusion_tag("lifecycle/_planning_needs_role.html", takes_context=True)
def planning_needs_role(context, project) -> dict:
    """Instead of a plan button the user could not use: the role it needs, and whom to ask."""
    admins = _cached(context, "_project_admins")
    if project.pk not in admins:
        admins[project.pk] = project_admins(project)
    return {
        "project": project,
        "role": permissions.MINIMUM_ROLE[permissions.PLAN_MIGRATION],
        "admins": admins[project.pk],
    }


def _cached(context, name: str) -> dict:
    request = context["request"]
    if not hasattr(request, name):
        setattr(request, name, {})
    return getattr(request, name)


@register.simple_tag(takes_context=True)
def lifecycle_alerts(context) -> dict[int, list]:
    """Open shutdown alerts of the user's environments, by environment id; computed once per request."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    if not hasattr(request, "_lifecycle_alerts"):
        environments = Environment.objects.filter(project__in=visible_projects(user))
        request._lifecycle_alerts = open_alerts(environments)
    return request._lifecycle_alerts


@register.filter
def alerts_for(alerts: dict, environment_id: int) -> list:
    return alerts.get(environment_id, [])


@register.filter
def by_environment(alerts: dict) -> list[list]:
    """Each environment's alerts together, soonest shutdown first, so the banner names an environment once."""
    grouped = [sorted(found, key=lambda alert: alert.shutdown_on) for found in alerts.values() if found]
    return sorted(grouped, key=lambda found: (found[0].shutdown_on, found[0].environment_id))


@register.simple_tag(takes_context=True)
def lifecycle_banner_alerts(context) -> list[list]:
    """The site-wide banner's alerts by environment, without those the page names in its own main box.

    A page sets `lifecycle_banner_covered` (environment ids) so the banner does not say again what the
    page says just below it.
    """
    covered = context.get("lifecycle_banner_covered") or set()
    return [alerts for alerts in by_environment(lifecycle_alerts(context)) if alerts[0].environment_id not in covered]


@register.simple_tag
def migration_plan_form_action(project_slug: str, environment_name: str) -> str:
    """The plan form's path alone, for a GET form whose fields add `environment` and `to`."""
    return plan_url(project_slug, environment_name).split("?", 1)[0]


@register.simple_tag
def recovery_advice(snapshot) -> str:
    return advice(snapshot)
