"""Reads behind the Project page: projects, environments and their policies, members, keys and characters."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from governance.catalog.selectors import CatalogRows
from governance.dashboard.selectors import ENVIRONMENT_ORDER
from governance.generations.budget_leases import month_spend
from governance.generations.models import Character
from governance.policies.descriptions import describe_policy, revision_diff
from governance.policies.models import PolicyRevision
from governance.policies.selectors import FileOrigin, file_origin
from governance.projects.models import ApiKey, Environment, Membership, Project, Role
from governance.projects.permissions import visible_projects

# Projects


@dataclass(frozen=True)
class ProjectSummary:
    project: Project
    role: str | None
    environments: list[Environment]


def project_summaries(user, *, role_of) -> list[ProjectSummary]:
    """The projects a user may see, with their environments and the user's role in each."""
    projects = list(visible_projects(user).order_by("name").prefetch_related("environments"))
    return [
        ProjectSummary(project=project, role=role_of(project), environments=sorted_environments(project))
        for project in projects
    ]


def sorted_environments(project: Project) -> list[Environment]:
    return sorted(project.environments.all(), key=lambda environment: ENVIRONMENT_ORDER.index(environment.name))


# A policy in plain words


@dataclass(frozen=True)
class HistoryEntry:
    revision: PolicyRevision
    changed: list[str]  # labels of the fields that differ from the revision before


@dataclass(frozen=True)
class EnvironmentPolicy:
    environment: Environment
    revision: PolicyRevision | None
    sentences: list[str]
    spent: Decimal
    revisions: list[PolicyRevision]

    @property
    def history(self) -> list[HistoryEntry]:
        """Newest first, each revision with what it changed."""
        entries = []
        for newer, older in zip(self.revisions, [*self.revisions[1:], None], strict=True):
            changed = [change.label for change in revision_diff(older, newer).changes] if older else ["first policy"]
            entries.append(HistoryEntry(revision=newer, changed=changed))
        return entries

    @property
    def file_origin(self) -> FileOrigin | None:
        """Whether a policy file set this policy, and whether it was changed outside the file since (drift)."""
        return file_origin(self.revisions)

    @property
    def budget_percent(self) -> int | None:
        if self.revision is None or self.revision.monthly_budget is None:
            return None
        if not self.revision.monthly_budget:
            return 100  # a zero budget is all spent: every priced request is refused
        return min(100, round(100 * self.spent / self.revision.monthly_budget))


def characters_of(project: Project) -> dict[int, list[Character]]:
    """Each environment's characters, newest first: they are usable only where they were made."""
    by_environment: dict[int, list[Character]] = {}
    characters = Character.objects.filter(project=project).select_related("api_key", "created_by", "generation")
    for character in characters.order_by("-created_at", "-pk"):
        by_environment.setdefault(character.environment_id, []).append(character)
    return by_environment


def environment_policies(project: Project, *, now: dt.datetime) -> list[EnvironmentPolicy]:
    environments = sorted_environments(project)
    revisions_by_environment: dict[int, list[PolicyRevision]] = {environment.pk: [] for environment in environments}
    revisions = PolicyRevision.objects.filter(environment__in=environments).select_related("created_by", "provider")
    for revision in revisions.order_by("-number"):
        revisions_by_environment[revision.environment_id].append(revision)
    spent = month_spend([environment.pk for environment in environments], now=now)
    current_revisions = [history[0] for history in revisions_by_environment.values() if history]
    catalogs = CatalogRows.load_many({revision.provider_id for revision in current_revisions})
    policies = []
    for environment in environments:
        history = revisions_by_environment[environment.pk]
        current = history[0] if history else None
        sentences = []
        if current is not None:
            sentences = describe_policy(environment, current, catalogs[current.provider_id])
        policies.append(
            EnvironmentPolicy(
                environment=environment,
                revision=current,
                sentences=sentences,
                spent=spent.get(environment.pk, Decimal("0")),
                revisions=history,
            )
        )
    return policies


# Members and keys


def members_of(project: Project) -> list[Membership]:
    memberships = Membership.objects.filter(project=project).select_related("user")
    return sorted(memberships, key=lambda membership: (-Role.rank(membership.role), membership.user.get_username()))


def api_keys_of(project: Project) -> dict[int, list[ApiKey]]:
    """Each environment's keys, newest first; metadata only (the hash never leaves the database)."""
    keys: dict[int, list[ApiKey]] = {}
    for key in (
        ApiKey.objects.filter(environment__project=project)
        .select_related("created_by")
        .defer("key_hash")
        .order_by("-created_at", "-pk")
    ):
        keys.setdefault(key.environment_id, []).append(key)
    return keys
