"""A sign-off stops counting when its signer leaves the project, or loses the step's role, before the rollout."""

import pytest
from django.test import Client
from django.urls import reverse

from governance.audit.models import AuditEvent
from governance.notifications.models import Notification
from governance.projects.models import Membership, Role
from governance.projects.services import change_member_role
from governance.snapshot_migrations import services
from governance.snapshot_migrations.models import MigrationPlan, SignOff
from governance.snapshot_migrations.services import PlanRefused
from tests.factories import SYSTEM, make_member
from tests.snapshot_migrations.conftest import approved

State = MigrationPlan.State


def as_admin(people) -> Client:
    client = Client()
    client.force_login(people["admin"])
    return client


def membership_id(project, user) -> int:
    return Membership.objects.get(project=project, user=user).pk


def counted(plan, user) -> list[str]:
    return list(
        SignOff.objects.filter(step__plan=plan, user=user, reset_at__isnull=True).values_list("step__title", flat=True)
    )


def test_removing_a_signer_sends_an_approved_plan_back_to_review_and_tells_its_people(plan, people, project):
    plan = approved(plan, people)
    approver = people["approver"]

    response = as_admin(people).post(
        reverse("dashboard:member_remove", args=["shop", membership_id(project, approver)])
    )

    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.state == State.IN_REVIEW
    assert counted(plan, approver) == []
    assert not services.step_done(plan.steps.get(title="Prompt compatibility tests"))
    withdrawn = AuditEvent.objects.filter(action="migration.sign_off_withdrawn", object_id=str(plan.pk))
    assert sorted(withdrawn.values_list("payload__step", flat=True)) == [
        "Business acceptance",
        "Performance benchmark",
        "Prompt compatibility tests",
    ]
    assert {event.actor_label for event in withdrawn} == {people["admin"].username}
    assert withdrawn.first().payload["why"] == f"{approver.username} left shop"
    back = AuditEvent.objects.get(
        action="migration.state_changed", payload__state_to="in_review", payload__state_from="approved"
    )
    assert back.sequence > AuditEvent.objects.get(action="member.removed").sequence
    told = Notification.objects.filter(title__startswith="A sign-off no longer counts")
    assert {people["author"], people["lead"], people["admin"]} <= {n.recipient for n in told}
    assert approver not in {n.recipient for n in told}
    assert "The plan is back in review" in told.first().body
    with pytest.raises(PlanRefused) as refusal:
        services.start_rollout(plan=plan, user=people["admin"])
    assert refusal.value.code == "wrong_state"
    page = as_admin(people).get(f"/projects/shop/migrations/{plan.pk}/").content.decode()
    assert f"(no longer counts: {approver.username} left shop)" in page


def test_demoting_a_signer_below_the_steps_role_withdraws_their_sign_off(plan, people, project):
    services.submit_for_review(plan=plan, user=people["author"])
    acceptance = plan.steps.get(title="Business acceptance")
    services.sign_off(plan=plan, step=acceptance, user=people["lead"], decision="approve", comment="accepted")

    response = as_admin(people).post(
        reverse("dashboard:member_change", args=["shop", membership_id(project, people["lead"])]), {"role": "developer"}
    )

    assert response.status_code == 302
    assert counted(plan, people["lead"]) == []
    reset = SignOff.objects.get(step=acceptance, user=people["lead"])
    assert reset.reset_reason == (
        f"no longer counts: {people['lead'].username} is now developer, below the approver role the step needs"
    )
    plan.refresh_from_db()
    assert plan.state == State.IN_REVIEW
    assert Notification.objects.filter(
        recipient=people["author"], title__startswith="A sign-off no longer counts"
    ).exists()


def test_a_demoted_signer_keeps_the_sign_offs_their_new_role_still_allows(plan, people, project):
    make_member(project, Role.ADMIN)  # the project keeps an admin
    services.submit_for_review(plan=plan, user=people["author"])
    acceptance, rollout = plan.steps.get(title="Business acceptance"), plan.steps.get(title="Gradual rollout plan")
    for step in (acceptance, rollout):
        services.sign_off(plan=plan, step=step, user=people["admin"], decision="approve", comment="fine")

    membership = Membership.objects.get(project=project, user=people["admin"])

    change_member_role(membership=membership, role=Role.APPROVER, actor=SYSTEM)

    assert counted(plan, people["admin"]) == ["Business acceptance"]


def test_once_the_rollout_has_started_the_sign_offs_stay_on_record(plan, people, project, clock):
    plan = approved(plan, people)
    services.start_rollout(plan=plan, user=people["admin"])

    as_admin(people).post(reverse("dashboard:member_remove", args=["shop", membership_id(project, people["approver"])]))

    plan.refresh_from_db()
    assert plan.state == State.ROLLING_OUT
    assert len(counted(plan, people["approver"])) == 3
    assert not AuditEvent.objects.filter(action="migration.sign_off_withdrawn").exists()
