"""The review: four-eyes rules, resets on edit, and the state machine up to approval."""

import datetime as dt

import pytest

from governance.audit.models import AuditEvent
from governance.notifications.models import Notification
from governance.snapshot_migrations import services
from governance.snapshot_migrations.models import MigrationPlan, SignOff
from governance.snapshot_migrations.services import PlanRefused
from tests.factories import NEW, OLD
from tests.snapshot_migrations.conftest import approved, brought_to, sign_all

State = MigrationPlan.State


def refused_events(plan):
    return AuditEvent.objects.filter(action="migration.refused", object_id=str(plan.pk))


def test_a_new_plan_is_a_draft_from_the_pinned_snapshot_with_the_default_checklist(plan):
    assert plan.state == State.DRAFT
    assert (plan.from_snapshot, plan.to_snapshot) == (OLD, NEW)
    assert [s.title for s in plan.steps.all()] == [
        "Prompt compatibility tests",
        "Performance benchmark",
        "Business acceptance",
        "Gradual rollout plan",
    ]
    assert plan.stages == [10, 50, 100]
    assert plan.observation_window == dt.timedelta(hours=24)
    assert AuditEvent.objects.filter(action="migration.plan_created", object_id=str(plan.pk)).exists()


def test_it_refuses_a_plan_to_the_snapshot_already_running(production, people):
    with pytest.raises(Exception, match="already runs"):
        services.create_plan(environment=production, to_snapshot=OLD, reason="x", author=people["author"])


def test_submitting_for_review_notifies_those_who_can_sign(plan, people):
    services.submit_for_review(plan=plan, user=people["author"])
    plan.refresh_from_db()
    assert plan.state == State.IN_REVIEW
    told = set(Notification.objects.filter(kind="migration").values_list("recipient__username", flat=True))
    assert {people["approver"].username, people["lead"].username, people["admin"].username} <= told
    assert people["author"].username not in told
    assert people["developer"].username not in told


def test_nobody_signs_off_their_own_plan_and_the_attempt_is_audited(plan, people):
    services.submit_for_review(plan=plan, user=people["author"])
    step = plan.steps.first()
    with pytest.raises(PlanRefused) as refusal:
        services.sign_off(plan=plan, step=step, user=people["author"], decision="approve", comment="mine")
    assert refusal.value.code == "own_plan"
    assert not step.sign_offs.exists()
    assert refused_events(plan).get().payload["code"] == "own_plan"


def test_one_person_cannot_give_two_of_the_sign_offs_a_step_needs(plan, people):
    services.submit_for_review(plan=plan, user=people["author"])
    acceptance = plan.steps.get(title="Business acceptance")
    services.sign_off(plan=plan, step=acceptance, user=people["approver"], decision="approve", comment="ok")
    with pytest.raises(PlanRefused) as refusal:
        services.sign_off(plan=plan, step=acceptance, user=people["approver"], decision="approve", comment="again")
    assert refusal.value.code == "already_signed"
    assert not services.step_done(acceptance)
    assert refused_events(plan).count() == 1


def test_a_step_needs_its_required_role(plan, people):
    services.submit_for_review(plan=plan, user=people["author"])
    rollout_step = plan.steps.get(title="Gradual rollout plan")
    with pytest.raises(PlanRefused) as refusal:
        services.sign_off(plan=plan, step=rollout_step, user=people["approver"], decision="approve", comment="ok")
    assert refusal.value.code == "role"
    with pytest.raises(PlanRefused):
        services.sign_off(
            plan=plan, step=plan.steps.first(), user=people["developer"], decision="approve", comment="ok"
        )


def test_a_step_with_named_approvers_takes_only_them(plan, people):
    services.submit_for_review(plan=plan, user=people["author"])
    step = plan.steps.first()
    step.approvers.set([people["lead"]])
    with pytest.raises(PlanRefused) as refusal:
        services.sign_off(plan=plan, step=step, user=people["approver"], decision="approve", comment="ok")
    assert refusal.value.code == "not_named"
    services.sign_off(plan=plan, step=step, user=people["lead"], decision="approve", comment="ok")


def test_a_sign_off_needs_a_comment(plan, people):
    services.submit_for_review(plan=plan, user=people["author"])
    with pytest.raises(PlanRefused) as refusal:
        services.sign_off(plan=plan, step=plan.steps.first(), user=people["approver"], decision="approve", comment=" ")
    assert refusal.value.code == "comment_required"


def test_no_sign_off_before_review(plan, people):
    with pytest.raises(PlanRefused) as refusal:
        services.sign_off(plan=plan, step=plan.steps.first(), user=people["approver"], decision="approve", comment="x")
    assert refusal.value.code == "not_in_review"


def test_the_last_needed_approval_approves_the_plan(plan, people):
    plan = approved(plan, people)
    assert plan.state == State.APPROVED
    changes = AuditEvent.objects.filter(action="migration.state_changed", object_id=str(plan.pk))
    assert [e.payload["state_to"] for e in changes.order_by("sequence")] == [State.IN_REVIEW, State.APPROVED]


def test_a_rejection_rejects_the_plan(plan, people):
    services.submit_for_review(plan=plan, user=people["author"])
    services.sign_off(plan=plan, step=plan.steps.first(), user=people["lead"], decision="reject", comment="broken")
    plan.refresh_from_db()
    assert plan.state == State.REJECTED
    assert Notification.objects.filter(recipient=people["author"], title__contains="rejected").exists()


def test_editing_the_plan_after_sign_offs_resets_them_and_reopens_review(plan, people):
    plan = approved(plan, people)
    services.edit_plan(
        plan=plan,
        user=people["author"],
        reason="Better motion, slower rollout",
        to_snapshot=NEW,
        stages=[5, 25, 100],
        observation_window=dt.timedelta(hours=48),
        auto_rollback=True,
    )
    plan.refresh_from_db()
    assert plan.state == State.IN_REVIEW
    assert not any(services.step_done(step) for step in plan.steps.all())
    # The same people may sign again, on the new version.
    sign_all(plan, people)
    plan.refresh_from_db()
    assert plan.state == State.APPROVED


@pytest.mark.parametrize("state", [State.ROLLING_OUT, State.COMPLETED, State.ROLLED_BACK, State.CANCELLED])
def test_a_plan_that_started_or_ended_is_not_edited(plan, people, state):
    plan = brought_to(plan, people, state)

    with pytest.raises(PlanRefused) as refusal:
        services.edit_plan(
            plan=plan,
            user=people["admin"],
            reason="Try once more",
            to_snapshot=NEW,
            stages=[5, 100],
            observation_window=dt.timedelta(hours=1),
            auto_rollback=True,
        )

    assert refusal.value.code == "wrong_state"
    assert refusal.value.message == f"Cannot edit: the plan is {plan.get_state_display().lower()}."
    unchanged = MigrationPlan.objects.get(pk=plan.pk)
    assert (unchanged.state, unchanged.reason, unchanged.version) == (state, plan.reason, plan.version)
    assert refused_events(plan).filter(payload__attempt="edit", payload__code="wrong_state").exists()


def test_changing_a_steps_evidence_resets_that_steps_sign_offs(plan, people):
    plan = approved(plan, people)
    step = plan.steps.first()
    services.update_evidence(plan=plan, step=step, user=people["developer"], evidence="New runs", links="")
    plan.refresh_from_db()
    assert plan.state == State.IN_REVIEW
    assert not services.step_done(step)
    assert services.step_done(plan.steps.get(title="Business acceptance"))


def test_only_the_author_or_an_admin_edits_or_cancels(plan, people):
    with pytest.raises(PlanRefused):
        services.cancel_plan(plan=plan, user=people["approver"])
    services.cancel_plan(plan=plan, user=people["admin"], reason="not now")
    plan.refresh_from_db()
    assert plan.state == State.CANCELLED
    with pytest.raises(PlanRefused) as refusal:
        services.submit_for_review(plan=plan, user=people["author"])
    assert refusal.value.code == "wrong_state"


def test_a_step_without_evidence_cannot_be_approved_but_can_be_rejected(production, people):
    bare = services.create_plan(environment=production, to_snapshot=NEW, reason="No homework", author=people["author"])
    services.submit_for_review(plan=bare, user=people["author"])
    step = bare.steps.first()

    with pytest.raises(PlanRefused) as refusal:
        services.sign_off(plan=bare, step=step, user=people["approver"], decision="approve", comment="looks fine")
    assert refusal.value.code == "evidence_missing"
    assert refused_events(bare).get().payload["code"] == "evidence_missing"

    services.sign_off(plan=bare, step=step, user=people["approver"], decision="reject", comment="no evidence")
    bare.refresh_from_db()
    assert bare.state == bare.State.REJECTED


def test_whoever_edited_the_plan_does_not_sign_it_off_or_judge_its_pairs(plan, people):
    """An admin who rewrote the proposal is one of its authors: four-eyes needs someone else."""
    services.submit_for_review(plan=plan, user=people["author"])
    services.edit_plan(
        plan=plan,
        user=people["admin"],
        reason="Straight to everyone",
        to_snapshot=NEW,
        stages=[100],
        observation_window=dt.timedelta(0),
        auto_rollback=False,
    )
    pair = services.run_comparison(plan=plan, user=people["author"])[0]

    for step in plan.steps.all():
        with pytest.raises(PlanRefused) as refusal:
            services.sign_off(plan=plan, step=step, user=people["admin"], decision="approve", comment="mine now")
        assert refusal.value.code == "own_plan"
    with pytest.raises(PlanRefused):
        services.judge_pair(plan=plan, pair=pair, user=people["admin"], verdict="better")
    assert people["admin"] not in services.signers_needed(plan)
    assert not SignOff.objects.filter(step__plan=plan, reset_at__isnull=True).exists()
    assert {event.payload["code"] for event in refused_events(plan)} == {"own_plan", "role"}


def test_whoever_wrote_a_steps_evidence_does_not_sign_that_step_off(plan, people):
    services.submit_for_review(plan=plan, user=people["author"])
    step, other = list(plan.steps.all())[:2]
    services.update_evidence(plan=plan, step=step, user=people["approver"], evidence="Ran it myself", links="")

    with pytest.raises(PlanRefused) as refusal:
        services.sign_off(plan=plan, step=step, user=people["approver"], decision="approve", comment="looks fine")

    assert refusal.value.code == "own_evidence"
    assert not SignOff.objects.filter(step=step).exists()
    plan.refresh_from_db()
    assert services.sign_off_refusal(plan, other, people["approver"]) is None  # another step's evidence is not theirs
