"""Health charts of a rollout: failure rate and p95 latency per hour, baseline arm against candidate arm."""

import datetime as dt

from governance.generations.models import Generation
from governance.lib.charts import Chart, Series, line_chart
from governance.policies.engine import ARM_CANARY
from governance.snapshot_migrations.health import SAMPLE_LIMIT, percentile, sides

MAX_HOURS = 72


def health_charts(plan, now: dt.datetime) -> list[Chart]:
    """Two line charts over the rollout so far (at most its last 72 hours); none before it starts."""
    if plan.rollout_started_at is None:
        return []
    end = min(now, plan.finished_at or now)
    start = max(plan.rollout_started_at, end - dt.timedelta(hours=MAX_HOURS))
    hours = [start + dt.timedelta(hours=n) for n in range(int((end - start).total_seconds() // 3600) + 1)]
    arms = {
        "baseline": _hourly(plan, start, end, candidate=False),
        "candidate": _hourly(plan, start, end, candidate=True),
    }
    labels = [hour.strftime("%d %H:00") for hour in hours]
    failure = {name: [_failure_percent(rows.get(i, [])) for i in range(len(hours))] for name, rows in arms.items()}
    latency = {name: [_p95(rows.get(i, [])) for i in range(len(hours))] for name, rows in arms.items()}
    return [
        line_chart(
            slug=f"plan-{plan.pk}-failures",
            title="Failure rate per hour",
            description=f"Share of finished jobs that failed, {plan.from_snapshot} (baseline) and {plan.to_snapshot}.",
            labels=labels,
            series=_series(plan, failure),
            unit="%",
        ),
        line_chart(
            slug=f"plan-{plan.pk}-latency",
            title="p95 latency per hour",
            description="95th percentile seconds from acceptance to a finished job, both arms.",
            labels=labels,
            series=_series(plan, latency),
            unit="s",
        ),
    ]


def _series(plan, values: dict) -> list[Series]:
    return [
        Series(f"Baseline {plan.from_snapshot}", "series-accepted", values["baseline"]),
        Series(f"Candidate {plan.to_snapshot}", "series-cost", values["candidate"]),
    ]


def _hourly(plan, start: dt.datetime, end: dt.datetime, *, candidate: bool) -> dict[int, list[dict]]:
    rows = (
        Generation.objects.health_outcomes()
        .filter(environment_id=plan.environment_id, created_at__gte=start, created_at__lte=end)
        .exclude(purpose=Generation.PURPOSE_COMPARISON)
        .filter(**sides(plan)[1 if candidate else 0][1])
    )
    if candidate and not plan.crosses_providers:  # across providers, everything the new provider ran
        rows = rows.filter(canary_arm=ARM_CANARY)
    buckets: dict[int, list[dict]] = {}
    for row in rows.order_by("-pk").values("status", "created_at", "completed_at")[:SAMPLE_LIMIT]:
        buckets.setdefault(int((row["created_at"] - start).total_seconds() // 3600), []).append(row)
    return buckets


def _failure_percent(rows: list[dict]) -> float | None:
    if not rows:
        return None
    return round(100 * sum(1 for row in rows if row["status"] == Generation.Status.FAILED) / len(rows), 1)


def _p95(rows: list[dict]) -> float | None:
    latencies = sorted(
        (row["completed_at"] - row["created_at"]).total_seconds()
        for row in rows
        if row["status"] == Generation.Status.COMPLETED and row["completed_at"]
    )
    return percentile(latencies, 95)
