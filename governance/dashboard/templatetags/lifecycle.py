from django import template

from governance.dashboard.selectors import visible_projects
from governance.lifecycle.selectors import open_alerts
from governance.lifecycle.services import migration_plan_url as plan_url
from governance.lifecycle.services import recovery_advice as advice
from governance.projects.models import Environment

register = template.Library()


@register.simple_tag
def migration_plan_url(project_slug: str, environment_name: str, to_snapshot: str = "") -> str:
    return plan_url(project_slug, environment_name, to_snapshot or "")


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


@register.simple_tag
def migration_plan_form_action(project_slug: str, environment_name: str) -> str:
    """The plan form's path alone, for a GET form whose fields add `environment` and `to`."""
    return plan_url(project_slug, environment_name).split("?", 1)[0]


@register.simple_tag
def recovery_advice(snapshot) -> str:
    return advice(snapshot)


@register.filter
def environment_count(alerts: dict) -> int:
    return len(alerts)
