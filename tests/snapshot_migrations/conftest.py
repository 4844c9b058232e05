import datetime as dt

import pytest
import time_machine

from governance.projects.models import Role
from governance.snapshot_migrations import services
from governance.snapshot_migrations.models import MigrationPlan
from tests.factories import OLD, make_environment, make_member, make_project

START = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def project(db):
    return make_project("shop")


@pytest.fixture
def production(project):
    return make_environment(
        project, "production", protected=True, default_model=OLD, allowed_snapshots=[OLD], alias_requests="refuse"
    )


@pytest.fixture
def people(project):
    """An author (approver), two more approvers and an admin, as in the demo."""
    return {
        "author": make_member(project, Role.APPROVER),
        "approver": make_member(project, Role.APPROVER),
        "lead": make_member(project, Role.APPROVER),
        "admin": make_member(project, Role.ADMIN),
        "developer": make_member(project, Role.DEVELOPER),
    }


@pytest.fixture
def plan(production, people):
    from tests.factories import NEW

    plan = services.create_plan(
        environment=production, to_snapshot=NEW, reason="Better motion", author=people["author"]
    )
    add_evidence(plan, people)
    return plan


def add_evidence(plan, people) -> None:
    """Evidence on every step, from the plan's author: nobody approves a step without any."""
    for step in plan.steps.all():
        services.update_evidence(plan=plan, step=step, user=plan.author, evidence=f"{step.title}: done", links="")


def sign_all(plan, people) -> None:
    """Every sign-off the default checklist needs, from the right people."""
    steps = list(plan.steps.all())
    for step in steps[:3]:
        services.sign_off(plan=plan, step=step, user=people["approver"], decision="approve", comment="checked")
    services.sign_off(plan=plan, step=steps[2], user=people["lead"], decision="approve", comment="accepted")
    services.sign_off(plan=plan, step=steps[3], user=people["admin"], decision="approve", comment="stages agreed")


def approved(plan, people):
    services.submit_for_review(plan=plan, user=people["author"])
    sign_all(plan, people)
    plan.refresh_from_db()
    return plan


def brought_to(plan, people, state: str) -> MigrationPlan:
    """The plan brought to `state` the way people do it."""
    if state == MigrationPlan.State.CANCELLED:
        return services.cancel_plan(plan=plan, user=people["author"], reason="not now")
    plan = approved(plan, people)
    services.start_rollout(plan=plan, user=people["admin"])
    if state == MigrationPlan.State.ROLLED_BACK:
        services.roll_back(plan=plan, user=people["admin"], reason="complaints")
    while state == MigrationPlan.State.COMPLETED and plan.state != MigrationPlan.State.COMPLETED:
        plan = services.advance_rollout(plan=plan, user=people["admin"], override_reason="staging proved it")
    plan.refresh_from_db()
    assert plan.state == state
    return plan
