"""Who depends on which snapshot, and what that costs them: the reads behind alerts and the impact view."""

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, F, OuterRef, Q, Subquery

from governance.catalog.models import Snapshot
from governance.catalog.selectors import load_catalog_view
from governance.generations.models import Generation
from governance.lifecycle.models import ShutdownAlert
from governance.policies.models import PolicyRevision
from governance.projects.models import Environment


@dataclass(frozen=True)
class Dependency:
    """One environment's reliance on one snapshot, in the words the alert uses."""

    environment: Environment
    snapshot: str
    how: str  # "pinned", "allowed", "canary", or "follows alias sora-2"
    provider_id: int


def dependencies(environments=None) -> list[Dependency]:
    """Every (environment, snapshot) the current policies pin, allow or canary."""
    catalogs: dict[int, object] = {}
    found = []
    for revision in _current_revisions(environments):
        catalog = catalogs.setdefault(revision.provider_id, load_catalog_view(revision.provider_id))
        how: dict[str, str] = {name: "allowed" for name in revision.allowed_snapshots}
        if revision.canary_snapshot and revision.canary_provider_id:
            found.append(
                Dependency(
                    environment=revision.environment,
                    snapshot=revision.canary_snapshot,
                    how="canary",
                    provider_id=revision.canary_provider_id,
                )
            )
        elif revision.canary_snapshot:
            how[revision.canary_snapshot] = "canary"
        pinned = catalog.resolve(revision.default_model)
        if pinned:
            followed = revision.default_model if revision.default_model in catalog.aliases else None
            how[pinned] = f"follows alias {followed}" if followed else "pinned"
        found.extend(
            Dependency(environment=revision.environment, snapshot=name, how=kind, provider_id=revision.provider_id)
            for name, kind in how.items()
        )
    return found


def _current_revisions(environments=None) -> list[PolicyRevision]:
    newest = PolicyRevision.objects.filter(environment=OuterRef("environment")).order_by("-number").values("number")[:1]
    revisions = (
        PolicyRevision.objects.annotate(newest=Subquery(newest))
        .filter(number=F("newest"))
        .select_related("environment__project")
        .order_by("environment__project__name", "environment__name")
    )
    if environments is not None:
        revisions = revisions.filter(environment__in=environments)  # ids or rows
    return list(revisions)


def followers_of_alias(provider_id: int, alias_name: str) -> list[Environment]:
    """Environments whose policy in force follows `alias_name` as its default model."""
    return [
        revision.environment
        for revision in _current_revisions()
        if revision.provider_id == provider_id and revision.default_model == alias_name
    ]


@dataclass
class ImpactRow:
    dependency: Dependency
    generations_30d: int
    replacement: Snapshot | None


@dataclass
class SnapshotImpact:
    snapshot: Snapshot
    rows: list[ImpactRow] = field(default_factory=list)


def at_risk_snapshots(*, family: str = "", snapshot_id: int | None = None):
    """Snapshots with a deprecation or shutdown date (or the chosen family or snapshot), soonest shutdown first."""
    snapshots = Snapshot.objects.select_related("provider", "replacement").order_by("shutdown_on", "provider__slug")
    if snapshot_id is not None:
        return snapshots.filter(pk=snapshot_id)
    if family:
        return snapshots.filter(family=family)
    return snapshots.filter(Q(shutdown_on__isnull=False) | Q(deprecated_on__isnull=False))


def impact(*, environments, now: dt.datetime, family: str = "", snapshot_id: int | None = None) -> list[SnapshotImpact]:
    """For each snapshot at risk: the visible environments that depend on it and their last 30 days of generations."""
    snapshots = list(at_risk_snapshots(family=family, snapshot_id=snapshot_id))
    wanted = {(snapshot.provider_id, snapshot.name): SnapshotImpact(snapshot) for snapshot in snapshots}
    found = [d for d in dependencies(environments) if (d.provider_id, d.snapshot) in wanted]
    counts = _generation_counts(found, since=now - dt.timedelta(days=30))
    for dependency in found:
        entry = wanted[(dependency.provider_id, dependency.snapshot)]
        entry.rows.append(
            ImpactRow(
                dependency=dependency,
                generations_30d=counts.get((dependency.environment.pk, dependency.snapshot), 0),
                replacement=entry.snapshot.replacement,
            )
        )
    return list(wanted.values())


def _generation_counts(found: list[Dependency], *, since: dt.datetime) -> dict[tuple[int, str], int]:
    if not found:
        return {}
    rows = (
        Generation.objects.filter(
            environment_id__in={d.environment.pk for d in found},
            resolved_snapshot__in={d.snapshot for d in found},
            created_at__gte=since,
        )
        .values("environment_id", "resolved_snapshot")
        .annotate(count=Count("pk"))
    )
    return {(row["environment_id"], row["resolved_snapshot"]): row["count"] for row in rows}


def migration_targets() -> list[Snapshot]:
    """Every reviewed snapshot of every provider that is not shut down, for a migration without a named replacement."""
    today = dt.datetime.now(dt.UTC).date()
    return list(
        Snapshot.objects.filter(reviewed=True)
        .filter(Q(shutdown_on__isnull=True) | Q(shutdown_on__gt=today))
        .select_related("provider")
        .order_by("provider__name", "family", "name")
    )


def open_alerts(environments) -> dict[int, list]:
    """The tightest alert per (environment, snapshot) that still applies.

    An alert applies while the policy still depends on the snapshot and the alert counts towards the
    shutdown date in force. Keyed by environment id: an environment that migrated away no longer shows
    its old alerts, and alerts raised for a date the provider has since moved are no longer shown.
    """
    alerts = ShutdownAlert.objects.filter(environment__in=environments).select_related(
        "snapshot__replacement", "environment__project"
    )
    alerts = list(alerts.order_by("threshold_days", "-created_at"))
    if not alerts:
        return {}
    holding = {(d.environment.pk, d.snapshot) for d in dependencies({a.environment_id for a in alerts})}
    found: dict[int, list] = {}
    seen = set()
    for alert in alerts:
        key = (alert.environment_id, alert.snapshot_id)
        if key in seen or (alert.environment_id, alert.snapshot.name) not in holding:
            continue
        if alert.shutdown_on != alert.snapshot.shutdown_on:  # the provider moved or withdrew the date
            continue
        seen.add(key)
        found.setdefault(alert.environment_id, []).append(alert)
    return found
