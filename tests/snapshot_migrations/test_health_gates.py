"""Health gates read the generation log: a candidate that fails rolls back by itself, queued ones are stopped.

Generations go through the real path: the gateway accepts them, the worker runs them
on the built-in simulator (in-process), whose per-snapshot failure rate the tests set.
"""

import datetime as dt

import pytest

from governance.audit.models import AuditEvent
from governance.generations import worker
from governance.generations.models import Generation
from governance.notifications.models import Notification
from governance.policies.selectors import current_revision
from governance.simulator import services as simulator
from governance.simulator.models import SimulatorProfile
from governance.snapshot_migrations import services
from governance.snapshot_migrations.models import MigrationPlan
from governance.snapshot_migrations.services import PlanRefused
from governance.snapshot_migrations.tasks import check_rollout_health
from tests.factories import NEW, OLD, make_api_key, revise
from tests.generations.conftest import Api
from tests.snapshot_migrations.conftest import add_evidence, approved
from tests.upstream_transport import simulator_transport, use_transport

State = MigrationPlan.State


@pytest.fixture(autouse=True)
def simulator_in_process():
    simulator.rolls.seed(7)
    with use_transport(simulator_transport()):
        yield


@pytest.fixture
def api(production) -> Api:
    return Api(make_api_key(production))


@pytest.fixture
def rolling(plan, people, clock):
    MigrationPlan.objects.filter(pk=plan.pk).update(stages=[50, 100], minimum_samples=10)
    plan.refresh_from_db()
    plan = approved(plan, people)
    return services.start_rollout(plan=plan, user=people["admin"])


def profiles(*, old_failures: float, new_failures: float) -> None:
    SimulatorProfile.objects.create(snapshot=OLD, latency_seconds=10, failure_rate=old_failures)
    SimulatorProfile.objects.create(snapshot=NEW, latency_seconds=10, failure_rate=new_failures)


def send(api: Api, count: int, prefix: str = "caller") -> list[Generation]:
    ids = [
        api.post("videos", {"prompt": "a lighthouse"}, headers={"X-Governance-Subject": f"{prefix}-{n}"}).json()["id"]
        for n in range(count)
    ]
    return list(Generation.objects.filter(video_id__in=ids))


def run_all(generations: list[Generation], clock) -> None:
    for generation in generations:
        worker.advance(generation.pk)
    clock.shift(11)
    for generation in generations:
        while worker.advance(generation.pk).countdown is not None:
            clock.shift(1)


def test_a_failing_candidate_rolls_back_by_itself_and_tells_the_plans_people(api, rolling, clock, production, people):
    profiles(old_failures=0.0, new_failures=1.0)
    generations = send(api, 40)
    assert {g.canary_arm for g in generations} == {"canary", "control"}
    run_all(generations, clock)
    waiting = send(api, 10, prefix="late")  # accepted on the canary, still queued when the gate fails
    queued_canary = [g for g in waiting if g.canary_arm == "canary"]
    assert queued_canary

    assert check_rollout_health() == 1

    plan = MigrationPlan.objects.get(pk=rolling.pk)
    assert plan.state == State.ROLLED_BACK
    revision = current_revision(production)
    assert (revision.default_model, revision.canary_snapshot, revision.canary_percent) == (OLD, "", 0)
    assert Notification.objects.filter(recipient=people["author"], title__contains="rolled back").exists()
    for generation in queued_canary:
        worker.advance(generation.pk)
        stopped = Generation.objects.get(pk=generation.pk)
        assert (stopped.status, stopped.error_code) == ("failed", "snapshot_no_longer_allowed")


def test_a_failing_gate_does_not_roll_back_a_plan_a_later_plan_has_superseded(api, rolling, clock, production, people):
    profiles(old_failures=0.0, new_failures=1.0)
    run_all(send(api, 40), clock)
    later = services.create_plan(
        environment=production, to_snapshot="sora-2-pro-2025-10-06", reason="Pro quality", author=people["author"]
    )
    add_evidence(later, people)
    later = approved(later, people)
    # The policy service lets an approved plan write its environment's policy: the later plan moves it on.
    written = revise(production, canary_snapshot="sora-2-pro-2025-10-06", canary_percent=5, through_plan=later)

    assert check_rollout_health() == 1

    plan = MigrationPlan.objects.get(pk=rolling.pk)
    assert (plan.state, plan.health) == (State.ROLLING_OUT, MigrationPlan.Health.FAILING)
    assert current_revision(production).pk == written.pk
    skipped = AuditEvent.objects.get(action="migration.rollback_skipped", object_id=str(plan.pk))
    assert skipped.payload["why"].startswith(f"Plan #{later.pk} ({OLD} → sora-2-pro-2025-10-06) has moved")
    told = Notification.objects.get(recipient=people["author"], title__startswith="Automatic rollback not done")
    assert f"rolling plan #{plan.pk} back would silently undo it" in told.body


def test_a_healthy_candidate_keeps_rolling_out(api, rolling, clock):
    profiles(old_failures=0.0, new_failures=0.0)
    run_all(send(api, 30), clock)
    check_rollout_health()
    plan = MigrationPlan.objects.get(pk=rolling.pk)
    assert (plan.state, plan.health) == (State.ROLLING_OUT, MigrationPlan.Health.HEALTHY)
    assert plan.health_figures["candidate"]["failure_rate"] == 0


def test_without_automatic_rollback_a_failing_gate_blocks_advancing(api, rolling, clock, people):
    MigrationPlan.objects.filter(pk=rolling.pk).update(auto_rollback=False)
    profiles(old_failures=0.0, new_failures=1.0)
    run_all(send(api, 40), clock)
    check_rollout_health()
    plan = MigrationPlan.objects.get(pk=rolling.pk)
    assert (plan.state, plan.health) == (State.ROLLING_OUT, MigrationPlan.Health.FAILING)
    clock.shift(dt.timedelta(hours=25))
    with pytest.raises(PlanRefused) as refusal:
        services.advance_rollout(plan=plan, user=people["admin"])
    assert refusal.value.code == "health_gate_failing"


def test_the_same_subject_stays_in_its_arm_as_the_canary_grows(api, rolling, clock, people):
    first = [g.canary_arm for g in sorted(send(api, 30), key=lambda g: g.pk)]
    again = [g.canary_arm for g in sorted(send(api, 30), key=lambda g: g.pk)]
    assert first == again and {"canary", "control"} == set(first)
    clock.shift(dt.timedelta(hours=24))
    services.advance_rollout(plan=rolling, user=people["admin"])
    assert all(g.canary_arm == "canary" for g in send(api, 30))


def test_the_plan_page_charts_both_arms(api, rolling, clock, people):
    from django.test import Client

    profiles(old_failures=0.0, new_failures=1.0)
    MigrationPlan.objects.filter(pk=rolling.pk).update(auto_rollback=False)
    run_all(send(api, 20), clock)
    client = Client()
    client.force_login(people["developer"])
    page = client.get(f"/projects/shop/migrations/{rolling.pk}/").content.decode()
    assert "Failure rate per hour" in page and "p95 latency per hour" in page
    assert f"Candidate {NEW}" in page and f"Baseline {OLD}" in page
    assert "100.0%" in page  # the candidate's failure rate, in the chart's table
