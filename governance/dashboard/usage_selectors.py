"""Reads behind the usage page: volume, failures, latency and cost over time, computed in the database.

Counts and cost are grouped by hour or day in SQL. Latency percentiles use
PostgreSQL's percentile_cont; SQLite has none, so there they are computed in
Python over at most LATENCY_SAMPLE_LIMIT of the newest completed generations.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import Aggregate, Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncHour

from governance.dashboard.selectors import visible_generations
from governance.generations.models import Generation, LogFilters
from governance.lib import charts
from governance.projects.models import Project

LATENCY_SAMPLE_LIMIT = 20_000


@dataclass(frozen=True)
class Period:
    key: str
    label: str
    buckets: int
    step: dt.timedelta
    trunc: type
    label_format: str


PERIODS = {
    "24h": Period("24h", "Last 24 hours", 24, dt.timedelta(hours=1), TruncHour, "%H:00"),
    "7d": Period("7d", "Last 7 days", 7, dt.timedelta(days=1), TruncDay, "%a %d"),
    "30d": Period("30d", "Last 30 days", 30, dt.timedelta(days=1), TruncDay, "%b %d"),
}
DEFAULT_PERIOD = "24h"


@dataclass(frozen=True)
class UsageFilters:
    project: Project | None = None
    environment: str = ""
    snapshot: str = ""
    period: str = DEFAULT_PERIOD


@dataclass(frozen=True)
class UsageStats:
    """Generations in one period or group; refusals are counted apart and are not failures."""

    accepted: int = 0
    completed: int = 0
    failed: int = 0
    refused: int = 0
    filtered: int = 0  # the provider's safety filter refused the video: not a failure of the snapshot
    quota_errors: int = 0  # failed because the provider account's quota ran out (counted among failures)
    cost: Decimal = Decimal(0)
    p50_seconds: float | None = None
    p95_seconds: float | None = None

    @property
    def failure_percent(self) -> float | None:
        finished = self.completed + self.failed
        return round(100 * self.failed / finished, 1) if finished else None


@dataclass(frozen=True)
class UsageBucket:
    start: dt.datetime
    label: str
    stats: UsageStats


@dataclass(frozen=True)
class UsageGroup:
    project_slug: str
    environment: str
    snapshot: str
    stats: UsageStats


@dataclass(frozen=True)
class Usage:
    period: Period
    since: dt.datetime
    buckets: list[UsageBucket]
    groups: list[UsageGroup]

    @property
    def is_empty(self) -> bool:
        return not self.groups

    @property
    def charts(self) -> list[charts.Chart]:
        return usage_charts(self)


class Percentile(Aggregate):
    """PostgreSQL's percentile_cont over an interval, e.g. the median latency."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()

    def __init__(self, expression, *, fraction: float, **extra) -> None:
        super().__init__(expression, fraction=float(fraction), **extra)


LATENCY = ExpressionWrapper(F("completed_at") - F("created_at"), output_field=DurationField())


def usage(user, filters: UsageFilters, *, now: dt.datetime) -> Usage:
    """The user's visible generations in the period, by time bucket and by project/environment/snapshot."""
    period = PERIODS[filters.period]
    since = _bucket_start(now, period) - period.step * (period.buckets - 1)
    log_filters = LogFilters(
        project=filters.project, environment=filters.environment, snapshot=filters.snapshot, since=since
    )
    generations = visible_generations(user).in_log(log_filters)

    by_bucket = generations.annotate(bucket=period.trunc("created_at", tzinfo=dt.UTC))
    bucket_stats = _stats(by_bucket, ["bucket"])
    buckets = []
    for index in range(period.buckets):
        start = since + period.step * index
        stats = bucket_stats.get((start,), UsageStats())
        buckets.append(UsageBucket(start=start, label=f"{start:{period.label_format}}", stats=stats))

    group_keys = ["project__slug", "environment__name", "resolved_snapshot"]
    groups = [
        UsageGroup(project_slug=key[0], environment=key[1], snapshot=key[2], stats=stats)
        for key, stats in sorted(_stats(generations, group_keys).items())
    ]
    return Usage(period=period, since=since, buckets=buckets, groups=groups)


def _bucket_start(now: dt.datetime, period: Period) -> dt.datetime:
    start = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return start.replace(hour=0) if period.step >= dt.timedelta(days=1) else start


def _stats(generations: QuerySet[Generation], keys: list[str]) -> dict[tuple, UsageStats]:
    """Counts, cost and latency percentiles per group, in two queries."""
    status = Generation.Status
    counts = (
        generations.values(*keys)
        .annotate(
            accepted=Count("pk", filter=~Q(status=status.REFUSED)),
            completed=Count("pk", filter=Q(status=status.COMPLETED)),
            failed=Count("pk", filter=Generation.COUNTS_AS_FAILURE),
            refused=Count("pk", filter=Q(status=status.REFUSED)),
            filtered=Count("pk", filter=Generation.FILTERED),
            quota_errors=Count("pk", filter=Generation.OUT_OF_QUOTA),
            cost=Sum("estimated_cost", filter=Q(status=status.COMPLETED)),
        )
        .order_by()
    )
    latencies = _latency_percentiles(generations, keys)
    stats = {}
    for row in counts:
        key = tuple(_normalised(row[name]) for name in keys)
        p50, p95 = latencies.get(key, (None, None))
        stats[key] = UsageStats(
            accepted=row["accepted"],
            completed=row["completed"],
            failed=row["failed"],
            refused=row["refused"],
            filtered=row["filtered"],
            quota_errors=row["quota_errors"],
            cost=row["cost"] or Decimal(0),
            p50_seconds=p50,
            p95_seconds=p95,
        )
    return stats


def _latency_percentiles(generations: QuerySet[Generation], keys: list[str]) -> dict[tuple, tuple[float, float]]:
    """Median and 95th percentile of created → completed, in seconds, per group of completed generations."""
    completed = generations.filter(status=Generation.Status.COMPLETED, completed_at__isnull=False)
    if connection.vendor == "postgresql":
        rows = (
            completed.values(*keys)
            .annotate(p50=Percentile(LATENCY, fraction=0.5), p95=Percentile(LATENCY, fraction=0.95))
            .order_by()
        )
        return {
            tuple(_normalised(row[name]) for name in keys): (
                row["p50"].total_seconds(),
                row["p95"].total_seconds(),
            )
            for row in rows
        }
    samples: dict[tuple, list[float]] = defaultdict(list)
    newest = completed.order_by("-pk").values_list(*keys, "created_at", "completed_at")[:LATENCY_SAMPLE_LIMIT]
    for *key, created_at, completed_at in newest:
        samples[tuple(_normalised(value) for value in key)].append((completed_at - created_at).total_seconds())
    return {key: (percentile(values, 0.5), percentile(values, 0.95)) for key, values in samples.items()}


def percentile(values: list[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks, as PostgreSQL's percentile_cont does."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def _normalised(value):
    """Bucket moments in UTC, so SQLite's and PostgreSQL's answers compare equal to ours."""
    return value.astimezone(dt.UTC) if isinstance(value, dt.datetime) else value


def usage_charts(usage: Usage) -> list[charts.Chart]:
    labels = [bucket.label for bucket in usage.buckets]
    stats = [bucket.stats for bucket in usage.buckets]
    period = usage.period.label.lower()
    return [
        charts.bar_chart(
            slug="volume",
            title="Volume",
            description=f"Generations per period, {period}: accepted and refused, stacked.",
            labels=labels,
            series=[
                charts.Series("Accepted", "series-accepted", [s.accepted for s in stats]),
                charts.Series("Refused", "series-refused", [s.refused for s in stats]),
            ],
        ),
        charts.line_chart(
            slug="failure-rate",
            title="Failure rate",
            description=f"Failed generations as a share of finished ones, {period}.",
            labels=labels,
            series=[charts.Series("Failure rate", "series-failed", [s.failure_percent for s in stats])],
            unit="%",
        ),
        charts.line_chart(
            slug="latency",
            title="Latency (p50 and p95)",
            description=f"Seconds from request to completed video, median and 95th percentile, {period}.",
            labels=labels,
            series=[
                charts.Series("p50", "series-p50", [s.p50_seconds for s in stats]),
                charts.Series("p95", "series-p95", [s.p95_seconds for s in stats]),
            ],
            unit="s",
        ),
        charts.bar_chart(
            slug="cost",
            title="Cost",
            description=f"Estimated cost of completed generations in US dollars, {period}.",
            labels=labels,
            series=[charts.Series("Cost", "series-cost", [float(s.cost) for s in stats])],
            unit="$",
        ),
    ]
