from django import template

from governance.projects import permissions
from governance.projects.models import Membership
from governance.projects.permissions import can_see_all_projects

register = template.Library()

SHOWN_IN_HEADER = 4


@register.simple_tag
def header_roles(user) -> dict:
    """The signed-in user's role per project for the header, in one query; site-wide powers named first."""
    if not user.is_authenticated:
        return {}
    memberships = list(Membership.objects.filter(user=user).select_related("project").order_by("project__slug"))
    site_wide = "superuser" if user.is_superuser else "auditor, all projects" if can_see_all_projects(user) else ""
    return {
        "site_wide": site_wide,
        "shown": memberships[:SHOWN_IN_HEADER],
        "more": memberships[SHOWN_IN_HEADER:],
    }


@register.simple_tag
def may_generate(user) -> bool:
    """Whether the playground is open to the user: the developer role or higher in some project."""
    return permissions.may_anywhere(user, permissions.GENERATE)
