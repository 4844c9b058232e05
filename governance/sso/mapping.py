"""Which roles a user's groups grant: the mappings in the admin and those of OIDC_ROLE_MAP, together.

OIDC_ROLE_MAP is `group=project:role` or `group=auditor`, entries separated by `;` or new lines;
a group may appear in several entries. The group is everything before the last `=`, so a
distinguished name (`cn=devs,ou=groups,dc=example,dc=com=shop:developer`) works as it is.
Where several groups grant roles in one project, the highest counts.
"""

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from governance.projects.models import Project, Role
from governance.sso.models import AUDITOR, GroupRoleMapping

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoleGrant:
    group: str
    project_slug: str | None  # None for the site-wide auditor role
    role: str


@dataclass
class GrantedRoles:
    """What a set of groups grants: a role per project (by id, with the project), and whether auditor."""

    projects: dict[int, tuple[Project, str]] = field(default_factory=dict)
    auditor: bool = False


def parse_role_map(text: str) -> list[RoleGrant]:
    """OIDC_ROLE_MAP's entries; a malformed one stops the start with the entry and what is wrong."""
    grants = []
    for entry in text.replace("\n", ";").split(";"):
        if entry.strip():
            grants.append(_parse_entry(entry.strip()))
    return grants


def _parse_entry(entry: str) -> RoleGrant:
    group, equals, target = entry.rpartition("=")
    group, target = group.strip(), target.strip()
    if not equals or not group:
        raise _bad(entry, "write it as group=project:role or group=auditor")
    if target == AUDITOR:
        return RoleGrant(group=group, project_slug=None, role=AUDITOR)
    slug, colon, role = (part.strip() for part in target.partition(":"))
    if not colon or not slug:
        raise _bad(entry, "write it as group=project:role or group=auditor")
    if role not in Role.values:
        raise _bad(entry, f"{role!r} is not a role; the roles are {', '.join(Role.values)}, and auditor site-wide")
    return RoleGrant(group=group, project_slug=slug, role=role)


def _bad(entry: str, why: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"OIDC_ROLE_MAP entry {entry!r}: {why}.")


def all_grants() -> list[RoleGrant]:
    """Every mapping, from OIDC_ROLE_MAP and from the admin."""
    stored = GroupRoleMapping.objects.select_related("project")
    return [
        *parse_role_map(settings.OIDC_ROLE_MAP),
        *(RoleGrant(m.group, m.project.slug if m.project else None, m.role) for m in stored),
    ]


def granted_roles(groups: list[str]) -> GrantedRoles:
    """The roles that these groups grant now; a mapping to a project that does not exist grants nothing."""
    grants = [grant for grant in all_grants() if grant.group in set(groups)]
    slugs = {grant.project_slug for grant in grants if grant.project_slug}
    projects = {project.slug: project for project in Project.objects.filter(slug__in=slugs)}
    granted = GrantedRoles(auditor=any(grant.role == AUDITOR for grant in grants))
    for grant in grants:
        project = projects.get(grant.project_slug or "")
        if project is None:
            if grant.project_slug:
                logger.warning(
                    "Group %r is mapped to project %r, which does not exist.", grant.group, grant.project_slug
                )
            continue
        _, role = granted.projects.get(project.pk, (project, None))
        if role is None or Role.rank(grant.role) > Role.rank(role):
            granted.projects[project.pk] = (project, grant.role)
    return granted
