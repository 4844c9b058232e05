"""A client deleting its unfinished video stops the job: health gates and the benchmark do not count it as failed."""

import datetime as dt

import pytest

from governance.generations.models import Generation
from governance.policies.engine import ARM_CANARY
from governance.snapshot_migrations import selectors
from governance.snapshot_migrations.health import judge
from governance.snapshot_migrations.models import MigrationPlan
from tests.dashboard.builders import make_generation
from tests.factories import NEW, OLD
from tests.snapshot_migrations.conftest import START

pytestmark = pytest.mark.django_db


def log(environment, snapshot: str, *, completed: int, deleted_by_client: int = 0, arm: str = "") -> None:
    for _ in range(completed):
        make_generation(
            environment,
            resolved_snapshot=snapshot,
            canary_arm=arm,
            created_at=START - dt.timedelta(minutes=30),
            completed_at=START - dt.timedelta(minutes=29),
        )
    for _ in range(deleted_by_client):
        make_generation(
            environment,
            resolved_snapshot=snapshot,
            canary_arm=arm,
            status=Generation.Status.FAILED,
            error_code="deleted",
            created_at=START - dt.timedelta(minutes=30),
            completed_at=START - dt.timedelta(minutes=29),
            deleted_at=START - dt.timedelta(minutes=29),
        )


def test_a_canary_whose_clients_delete_videos_stays_healthy(plan, production):
    MigrationPlan.objects.filter(pk=plan.pk).update(
        rollout_started_at=START - dt.timedelta(hours=1), stage_started_at=START - dt.timedelta(hours=1)
    )
    plan.refresh_from_db()
    log(production, OLD, completed=plan.minimum_samples)
    log(production, NEW, completed=plan.minimum_samples, deleted_by_client=plan.minimum_samples, arm=ARM_CANARY)

    judgement = judge(plan, START)

    assert judgement.status == MigrationPlan.Health.HEALTHY
    assert judgement.figures["candidate"]["finished"] == plan.minimum_samples
    assert judgement.figures["candidate"]["failure_rate"] == 0.0


def test_the_benchmark_leaves_out_videos_the_client_deleted(plan, production):
    log(production, NEW, completed=2, deleted_by_client=2)

    figures = selectors.benchmark(plan)["Generation log"][NEW]

    assert (figures["finished"], figures["failed"], figures["success_rate"]) == (2, 0, 1.0)
