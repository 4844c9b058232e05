"""A policy in plain words: what a revision runs and limits, and what changed between two revisions.

The Project page, the Policy editor and the revision diff all read these, so they say the same thing.
"""

from dataclasses import dataclass

from django.db.models import QuerySet

from governance.catalog.selectors import CatalogRows
from governance.policies import engine
from governance.policies.models import PolicyRevision
from governance.projects.models import Environment

FIELD_LABELS = {
    "provider": "Provider",
    "default_model": "Pinned snapshot or followed alias",
    "allowed_snapshots": "Allowed snapshots",
    "alias_requests": "Requests for an alias",
    "canary_snapshot": "Canary snapshot",
    "canary_percent": "Canary share of requests",
    "canary_provider": "Canary's provider",
    "max_seconds": "Longest video",
    "allowed_sizes": "Allowed sizes",
    "allowed_features": "Allowed features",
    "monthly_budget": "Monthly budget",
    "allowed_operations": "Allowed operations",
}
LIST_FIELDS = {"allowed_snapshots", "allowed_sizes", "allowed_features", "allowed_operations"}


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
        at = f" at {revision.canary_provider.name}" if revision.canary_provider_id else ""
        sentences.append(f"A canary sends {revision.canary_percent}% of requests to {revision.canary_snapshot}{at}.")
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
    if field == "canary_provider":
        return str(value) if value else "the policy's own"
    if field == "max_seconds":
        return f"{value} seconds" if value else "any length the snapshot supports"
    if field == "monthly_budget":
        return f"${value}" if value is not None else "no budget"
    return str(value)


def revisions_of(environment: Environment) -> QuerySet[PolicyRevision]:
    return environment.policy_revisions.select_related("created_by", "provider", "canary_provider").order_by("-number")
