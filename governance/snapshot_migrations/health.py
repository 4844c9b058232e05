"""Figures for both arms of a rollout and the health gates' judgement, read from the generation log."""

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet

from governance.generations.models import Generation
from governance.policies.engine import ARM_CANARY
from governance.snapshot_migrations.models import MigrationPlan

# Enough rows for a stable p95 without reading a busy environment's whole window.
SAMPLE_LIMIT = 5000


@dataclass(frozen=True)
class Judgement:
    status: str
    figures: dict
    reason: str = ""


def arm_figures(generations: QuerySet) -> dict:
    """Finished, failed, failure rate, p50/p95 latency (s) and cost per second of video for one arm.

    Videos the client deleted before they finished are left out: stopping a job is not a failure. Nor is
    a provider's safety refusal: it is counted apart (`content_filtered`), as it says what was asked.
    """
    rows = list(
        generations.health_outcomes()
        .order_by("-pk")
        .values("status", "created_at", "completed_at", "estimated_cost", "seconds")[:SAMPLE_LIMIT]
    )
    filtered = generations.filter(Generation.FILTERED).count()
    completed = [row for row in rows if row["status"] == Generation.Status.COMPLETED]
    latencies = sorted(
        (row["completed_at"] - row["created_at"]).total_seconds() for row in completed if row["completed_at"]
    )
    seconds = sum(row["seconds"] or 0 for row in completed)
    cost = sum((row["estimated_cost"] for row in completed), Decimal("0"))
    failed = len(rows) - len(completed)
    return {
        "finished": len(rows),
        "failed": failed,
        "failure_rate": round(failed / len(rows), 4) if rows else None,
        "success_rate": round(len(completed) / len(rows), 4) if rows else None,
        "p50_seconds": percentile(latencies, 50),
        "p95_seconds": percentile(latencies, 95),
        "cost_per_second": str((cost / seconds).quantize(Decimal("0.0001"))) if seconds else None,
        "content_filtered": filtered,
    }


def percentile(values: list[float], percent: int) -> float | None:
    """Nearest-rank percentile of sorted values."""
    if not values:
        return None
    rank = max(math.ceil(percent / 100 * len(values)), 1)
    return round(values[rank - 1], 3)


def rollout_arms(plan, now: dt.datetime) -> tuple[dict, dict]:
    """(baseline, candidate) figures: the from-snapshot since a window before the rollout, the canary this stage."""
    log = (
        Generation.objects.filter(environment_id=plan.environment_id, created_at__lte=now)
        .exclude(purpose=Generation.PURPOSE_COMPARISON)
        .exclude(status=Generation.Status.REFUSED)
    )
    baseline_since = (plan.rollout_started_at or now) - plan.observation_window
    (_, baseline_side), (_, candidate_side) = sides(plan)
    baseline = log.filter(**baseline_side, created_at__gte=baseline_since)
    candidate = log.filter(**candidate_side, created_at__gte=plan.stage_started_at or now)
    if not plan.crosses_providers:
        # Within one provider the candidate is the canary arm; across providers, all the new provider ran since.
        candidate = candidate.filter(canary_arm=ARM_CANARY)
    return arm_figures(baseline), arm_figures(candidate)


def sides(plan) -> list[tuple[str, dict]]:
    """The plan's two snapshots as (label, generation log filter), from-snapshot first.

    Across providers, names may repeat: each side is filtered by its provider too and labelled `provider:snapshot`.
    """
    if not plan.crosses_providers:
        return [(name, {"resolved_snapshot": name}) for name in (plan.from_snapshot, plan.to_snapshot)]
    return [
        (f"{provider.slug}:{name}", {"resolved_snapshot": name, "provider_id": provider.pk})
        for provider, name in ((plan.from_provider, plan.from_snapshot), (plan.to_provider, plan.to_snapshot))
    ]


def judge(plan, now: dt.datetime) -> Judgement:
    """Healthy, failing or unknown (too few finished candidate generations yet), with the figures behind it."""
    baseline, candidate = rollout_arms(plan, now)
    figures = {"baseline": baseline, "candidate": candidate, "at": now.isoformat()}
    if candidate["finished"] < max(plan.minimum_samples, 1):
        return Judgement(MigrationPlan.Health.UNKNOWN, figures)
    base_rate = baseline["failure_rate"] or 0.0
    if candidate["failure_rate"] > base_rate + plan.max_failure_rate_increase:
        reason = (
            f"{plan.to_snapshot} failed {candidate['failure_rate']:.0%} of {candidate['finished']} jobs; "
            f"the baseline fails {base_rate:.0%} and the gate allows {plan.max_failure_rate_increase:.0%} more."
        )
        return Judgement(MigrationPlan.Health.FAILING, figures, reason)
    base_p95, cand_p95 = baseline["p95_seconds"], candidate["p95_seconds"]
    if base_p95 and cand_p95 and cand_p95 > base_p95 * plan.max_latency_ratio:
        reason = (
            f"{plan.to_snapshot}'s p95 latency is {cand_p95:.1f} s, more than {plan.max_latency_ratio}× "
            f"the baseline's {base_p95:.1f} s."
        )
        return Judgement(MigrationPlan.Health.FAILING, figures, reason)
    return Judgement(MigrationPlan.Health.HEALTHY, figures)


def benchmark_figures(plan) -> dict:
    """Both snapshots side by side: from the plan's comparison runs, and from the project's generation log."""
    run_ids = [pk for pair in plan.comparisons.values_list("baseline", "candidate") for pk in pair]
    runs = Generation.objects.filter(pk__in=run_ids)
    log = Generation.objects.filter(project_id=plan.project_id).exclude(status=Generation.Status.REFUSED)
    arms = sides(plan)
    return {
        "Comparison runs": {label: arm_figures(runs.filter(**arm)) for label, arm in arms},
        "Generation log": {label: arm_figures(log.filter(**arm)) for label, arm in arms},
    }


def figures_in_words(arm: dict) -> str:
    if not arm["finished"]:
        return "no finished jobs"
    return (
        f"{arm['finished']} finished, success {arm['success_rate']:.0%}, p50 {arm['p50_seconds']} s, "
        f"p95 {arm['p95_seconds']} s, ${arm['cost_per_second'] or '0'} per second"
    )
