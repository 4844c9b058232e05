"""A project as the Project pages' tests use it: a protected production, an open staging, a member of each role.

Each test module wraps `make_shop()` in its own `shop` fixture.
"""

from dataclasses import dataclass

from governance.projects.models import Environment, Project, Role
from tests.factories import OLD, make_environment, make_member, make_project

ROLES = [Role.VIEWER, Role.DEVELOPER, Role.APPROVER, Role.ADMIN]


@dataclass
class Shop:
    project: Project
    production: Environment
    staging: Environment
    users: dict


def make_shop() -> Shop:
    project = make_project("shop")
    production = make_environment(
        project, "production", protected=True, default_model=OLD, allowed_snapshots=[OLD], alias_requests="refuse"
    )
    staging = make_environment(project, "staging")
    users = {role: make_member(project, role) for role in ROLES}
    return Shop(project=project, production=production, staging=staging, users=users)
