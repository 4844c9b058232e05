"""Reads behind the Project and Policy editor pages: policies in plain words, revision diffs, members, keys."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet

from governance.catalog.selectors import CatalogRows
from governance.dashboard.selectors import ENVIRONMENT_ORDER
from governance.generations.models import Character
from governance.policies import engine
from governance.policies.models import BudgetUsage, PolicyRevision
from governance.policies.selectors import month_start
from governance.projects.models import ApiKey, Environment, Membership, Project, Role
from governance.projects.permissions import visible_projects

FIELD_LABELS = {
    "provider": "Provider",
    "default_model": "Pinned snapshot or followed alias",
    "allowed_snapshots": "Allowed snapshots",
    "alias_requests": "Requests for an alias",
    "canary_snapshot": "Canary snapshot",
    "canary_percent": "Canary share of requests",
    "max_seconds": "Longest video",
    "allowed_sizes": "Allowed sizes",
    "allowed_features": "Allowed features",
    "monthly_budget": "Monthly budget",
    "allowed_operations": "Allowed operations",
}
LIST_FIELDS = {"allowed_snapshots", "allowed_sizes", "allowed_features", "allowed_operations"}


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


def environment_of(project: Project, name: str) -> Environment | None:
    return Environment.objects.filter(project=project, name=name).select_related("project").first()


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
    spent = dict(
        BudgetUsage.objects.filter(environment__in=environments, month=month_start(now)).values_list(
            "environment_id", "spent"
        )
    )
    catalogs: dict[int, CatalogRows] = {}
    policies = []
    for environment in environments:
        history = revisions_by_environment[environment.pk]
        current = history[0] if history else None
        sentences = []
        if current is not None:
            catalog = catalogs.setdefault(current.provider_id, CatalogRows.load(current.provider_id))
            sentences = describe_policy(environment, current, catalog)
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


def describe_policy(environment: Environment, revision: PolicyRevision, catalog: CatalogRows) -> list[str]:
    """The policy as a reader would explain it: what runs, what aliases do, canary, limits."""
    name = environment.get_name_display().lower()
    pinned = catalog.resolve(revision.default_model)
    others = sorted(set(revision.allowed_snapshots) - {pinned})
    if pinned is None:
        runs = f"{name} is pinned to '{revision.default_model}', which is not in the catalog"
    elif revision.default_model != pinned:
        runs = f"{name} follows the alias {revision.default_model} (now {pinned})"
    elif not others:
        runs = f"{name} runs only {pinned}"
    else:
        runs = f"{name} runs {pinned} by default"
    if others:
        runs += f"; requests may also name {_joined(others)}"
    sentences = [f"{runs[0].upper()}{runs[1:]}; {_alias_words(revision, pinned)}."]
    if revision.canary_snapshot:
        sentences.append(f"A canary sends {revision.canary_percent}% of requests to {revision.canary_snapshot}.")
    sentences.append(_limits_words(revision))
    return sentences


def _alias_words(revision: PolicyRevision, pinned: str | None) -> str:
    if revision.alias_requests == engine.ALIAS_REFUSE:
        return "requests for an alias are refused"
    if revision.alias_requests == engine.ALIAS_PIN:
        return f"requests for an alias of its family run on {pinned}"
    return "requests for an alias run on the alias's current snapshot, if allowed"


def _limits_words(revision: PolicyRevision) -> str:
    seconds = f"at most {revision.max_seconds} seconds" if revision.max_seconds else "any length the snapshot offers"
    sizes = f"sizes {_joined(revision.allowed_sizes)}" if revision.allowed_sizes else "any size"
    features = f"features {_joined(revision.allowed_features)}" if revision.allowed_features else "any feature"
    operations = (
        f"Operations: only {_joined(revision.allowed_operations)}."
        if revision.allowed_operations
        else "Every operation the snapshot supports."
    )
    return f"Videos of {seconds}, {sizes}, {features}. {operations}"


def _joined(values) -> str:
    values = [str(value) for value in values]
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " and " + values[-1]


# Revision diffs


@dataclass(frozen=True)
class FieldChange:
    field: str
    label: str
    before: str
    after: str
    added: list[str]
    removed: list[str]


@dataclass(frozen=True)
class RevisionDiff:
    older: PolicyRevision
    newer: PolicyRevision
    changes: list[FieldChange]

    @property
    def unchanged_count(self) -> int:
        return len(FIELD_LABELS) - len(self.changes)


def revision_diff(older: PolicyRevision, newer: PolicyRevision) -> RevisionDiff:
    """Field by field, what differs between two revisions of one environment, in words."""
    if older.number > newer.number:
        older, newer = newer, older
    changes = []
    for field, label in FIELD_LABELS.items():
        before, after = getattr(older, field), getattr(newer, field)
        if _comparable(field, before) == _comparable(field, after):
            continue
        added = removed = []
        if field in LIST_FIELDS:
            added = sorted(set(after or []) - set(before or []))
            removed = sorted(set(before or []) - set(after or []))
        changes.append(FieldChange(field, label, shown(field, before), shown(field, after), added, removed))
    return RevisionDiff(older=older, newer=newer, changes=changes)


def _comparable(field: str, value):
    if field in LIST_FIELDS:
        return sorted(value or [])
    if field == "canary_snapshot":
        return value or ""
    return value


def shown(field: str, value) -> str:
    """A policy field's value as the pages print it."""
    if field in LIST_FIELDS:
        if not value:
            return "none" if field == "allowed_snapshots" else "any the snapshot supports"
        return ", ".join(sorted(value))
    if field == "alias_requests":
        return PolicyRevision.AliasRequests(value).label if value in PolicyRevision.AliasRequests.values else value
    if field == "canary_snapshot":
        return value or "no canary"
    if field == "canary_percent":
        return f"{value}%"
    if field == "max_seconds":
        return f"{value} seconds" if value else "any length the snapshot supports"
    if field == "monthly_budget":
        return f"${value}" if value is not None else "no budget"
    return str(value)


def revisions_of(environment: Environment) -> QuerySet[PolicyRevision]:
    return environment.policy_revisions.select_related("created_by", "provider").order_by("-number")


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
