"""Staged rollout: stages write canary revisions, windows hold, completion pins, rollback restores."""

import datetime as dt

import pytest
from django.test import Client

from governance.audit.models import AuditEvent
from governance.policies.selectors import current_revision
from governance.policies.services import ProtectedEnvironmentError
from governance.snapshot_migrations import services
from governance.snapshot_migrations.models import MigrationPlan
from governance.snapshot_migrations.services import PlanRefused
from tests.factories import NEW, OLD, revise
from tests.snapshot_migrations.conftest import add_evidence, approved

State = MigrationPlan.State
DAY = dt.timedelta(hours=24)


@pytest.fixture
def rolling(plan, people, clock):
    plan = approved(plan, people)
    return services.start_rollout(plan=plan, user=people["admin"])


def policy(environment):
    revision = current_revision(environment)
    return revision.default_model, revision.allowed_snapshots, revision.canary_snapshot, revision.canary_percent


def test_starting_the_rollout_sends_the_first_stage_to_the_candidate(rolling, production):
    assert rolling.state == State.ROLLING_OUT
    assert policy(production) == (OLD, [OLD], NEW, 10)
    revision = current_revision(production)
    assert revision.reason.startswith(f"Migration plan #{rolling.pk}")


def test_only_an_approved_plan_may_start(plan, people, clock):
    with pytest.raises(PlanRefused) as refusal:
        services.start_rollout(plan=plan, user=people["admin"])
    assert refusal.value.code == "wrong_state"


def test_only_an_admin_starts_or_advances(plan, people, clock):
    plan = approved(plan, people)
    with pytest.raises(PlanRefused) as refusal:
        services.start_rollout(plan=plan, user=people["approver"])
    assert refusal.value.code == "role"


def test_advancing_waits_for_the_observation_window(rolling, people, clock, production):
    clock.shift(DAY - dt.timedelta(minutes=1))
    with pytest.raises(PlanRefused) as refusal:
        services.advance_rollout(plan=rolling, user=people["admin"])
    assert refusal.value.code == "window_open"
    assert policy(production)[3] == 10
    assert AuditEvent.objects.filter(action="migration.refused", payload__code="window_open").exists()

    clock.shift(dt.timedelta(minutes=1))
    services.advance_rollout(plan=rolling, user=people["admin"])
    assert policy(production) == (OLD, [OLD], NEW, 50)


def test_an_admin_may_override_the_window_with_a_reason_which_is_audited(rolling, people, production):
    services.advance_rollout(plan=rolling, user=people["admin"], override_reason="Incident fix needs it now")
    assert policy(production)[3] == 50
    override = AuditEvent.objects.get(action="migration.window_overridden")
    assert override.payload["reason"] == "Incident fix needs it now"
    assert override.actor_label == people["admin"].username


def test_the_full_rollout_ends_pinned_to_the_new_snapshot(rolling, people, clock, production):
    for percent in (50, 100):
        clock.shift(DAY)
        services.advance_rollout(plan=rolling, user=people["admin"])
        assert policy(production)[3] == percent
    clock.shift(DAY)
    plan = services.advance_rollout(plan=rolling, user=people["admin"])
    assert plan.state == State.COMPLETED
    assert policy(production) == (NEW, [NEW], "", 0)
    states = AuditEvent.objects.filter(action="migration.state_changed", object_id=str(plan.pk)).order_by("sequence")
    assert [e.payload["state_to"] for e in states] == ["in_review", "approved", "rolling_out", "completed"]


def test_rollback_at_any_stage_restores_the_from_snapshot_and_clears_the_canary(rolling, people, clock, production):
    clock.shift(DAY)
    services.advance_rollout(plan=rolling, user=people["admin"])
    plan = services.roll_back(plan=rolling, user=people["approver"], reason="Customers saw artefacts")
    assert plan.state == State.ROLLED_BACK
    assert policy(production) == (OLD, [OLD], "", 0)
    assert AuditEvent.objects.filter(action="migration.state_changed", payload__state_to="rolled_back").exists()


def test_a_developer_cannot_roll_back(rolling, people):
    with pytest.raises(PlanRefused):
        services.roll_back(plan=rolling, user=people["developer"], reason="no")


def test_a_protected_environment_refuses_direct_changes(production):
    with pytest.raises(ProtectedEnvironmentError):
        revise(production, canary_snapshot=NEW, canary_percent=10)


def test_a_plan_that_is_not_approved_cannot_change_the_policy(plan, production):
    with pytest.raises(ProtectedEnvironmentError):
        revise(production, canary_snapshot=NEW, canary_percent=10, through_plan=plan)


def test_one_plan_cannot_change_another_environments_policy(rolling, project):
    from tests.factories import make_environment

    staging = make_environment(project, "staging", protected=True)
    with pytest.raises(ProtectedEnvironmentError):
        revise(staging, canary_snapshot=NEW, canary_percent=10, through_plan=rolling)


def test_a_plan_made_stale_by_another_migration_cannot_start(plan, people, production, clock):
    other = services.create_plan(environment=production, to_snapshot=NEW, reason="Parallel", author=people["lead"])
    add_evidence(other, people)
    plan = approved(plan, people)
    services.submit_for_review(plan=other, user=people["lead"])
    steps = list(other.steps.all())
    for step in steps[:3]:
        services.sign_off(plan=other, step=step, user=people["approver"], decision="approve", comment="ok")
    services.sign_off(plan=other, step=steps[2], user=people["author"], decision="approve", comment="ok")
    services.sign_off(plan=other, step=steps[3], user=people["admin"], decision="approve", comment="ok")
    services.start_rollout(plan=other, user=people["admin"])
    with pytest.raises(PlanRefused) as refusal:
        services.start_rollout(plan=plan, user=people["admin"])
    assert refusal.value.code == "another_rollout"

    for _ in range(3):
        clock.shift(DAY)
        services.advance_rollout(plan=other, user=people["admin"])
    with pytest.raises(PlanRefused) as refusal:
        services.start_rollout(plan=plan, user=people["admin"])
    assert refusal.value.code == "stale_plan"


def test_admins_are_told_once_when_a_stage_window_is_over(rolling, people, clock):
    from governance.notifications.models import Notification

    services.check_rollouts()
    assert not Notification.objects.filter(title__contains="ready to advance").exists()
    clock.shift(DAY)
    services.check_rollouts()
    services.check_rollouts()
    told = Notification.objects.filter(title__contains="ready to advance")
    assert list(told.values_list("recipient", flat=True)) == [people["admin"].pk]


def test_people_read_observation_windows_in_hours_and_minutes(rolling, people, clock):
    from governance.notifications.models import Notification

    started = Notification.objects.get(recipient=people["author"], title__startswith="Rollout started")
    assert started.body == "Observed for 24 h 0 min."
    clock.shift(dt.timedelta(hours=2, seconds=30.5))
    services.advance_rollout(plan=rolling, user=people["admin"], override_reason="Incident fix needs it now")
    override = AuditEvent.objects.get(action="migration.window_overridden")
    assert override.payload["left"] == "21 h 59 min"
    client = Client()
    client.force_login(people["author"])
    timeline = client.get(f"/projects/shop/migrations/{rolling.pk}/").content.decode()
    assert "overrode the observation window (21 h 59 min left): Incident fix needs it now" in timeline

    clock.shift(DAY)
    services.check_rollouts()
    told = Notification.objects.get(title__contains="ready to advance")
    assert told.body.startswith("The 50% stage was observed for 24 h 0 min; health:")
