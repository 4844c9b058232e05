"""A plan superseded by a later plan of its environment does not roll back: that would silently undo the later one."""

import pytest
from django.test import Client

from governance.audit.models import AuditEvent
from governance.policies.selectors import current_revision
from governance.snapshot_migrations import services
from governance.snapshot_migrations.models import MigrationPlan
from governance.snapshot_migrations.services import PlanRefused
from tests.factories import NEW, OLD
from tests.snapshot_migrations.conftest import add_evidence, approved, brought_to

State = MigrationPlan.State
PRO = "sora-2-pro-2025-10-06"


@pytest.fixture
def moved_on(plan, people, production, clock) -> tuple[MigrationPlan, MigrationPlan]:
    """Plan 1 took production from OLD to NEW; plan 2, written after it, is rolling out from NEW to PRO."""
    first = brought_to(plan, people, State.COMPLETED)
    second = services.create_plan(
        environment=production, to_snapshot=PRO, reason="Pro quality", author=people["author"]
    )
    add_evidence(second, people)
    second = approved(second, people)
    services.start_rollout(plan=second, user=people["admin"])
    return first, second


def policy(environment) -> tuple:
    revision = current_revision(environment)
    return revision.number, revision.default_model, revision.canary_snapshot, revision.canary_percent


def test_a_plan_a_later_plan_has_moved_on_refuses_to_roll_back_and_the_attempt_is_audited(moved_on, people, production):
    first, second = moved_on
    before = policy(production)
    assert before[1:] == (NEW, PRO, 10)

    with pytest.raises(PlanRefused) as refusal:
        services.roll_back(plan=first, user=people["approver"], reason="complaints about plan 1")

    assert refusal.value.code == "superseded"
    assert refusal.value.message.startswith(f"Plan #{second.pk} ({NEW} → {PRO}) has moved shop/production on since")
    assert policy(production) == before
    first.refresh_from_db()
    assert first.state == State.COMPLETED
    refused = AuditEvent.objects.get(action="migration.refused", object_id=str(first.pk))
    assert (refused.payload["code"], refused.payload["superseded_by"]) == ("superseded", second.pk)


def test_the_plan_whose_revision_is_in_force_rolls_back_and_the_superseded_one_still_does_not(
    moved_on, people, production
):
    first, second = moved_on

    services.roll_back(plan=second, user=people["approver"], reason="Pro is too slow")

    assert policy(production)[1:] == (NEW, "", 0)
    assert first.superseded_by() == second
    assert second.superseded_by() is None
    with pytest.raises(PlanRefused) as refusal:
        services.roll_back(plan=first, user=people["admin"], reason="back to the October snapshot")
    assert refusal.value.code == "superseded"
    assert policy(production)[1] == NEW


def test_the_superseded_plans_page_links_the_later_plan_and_offers_no_rollback(moved_on, people):
    first, second = moved_on
    client = Client()
    client.force_login(people["admin"])
    first_page = f"/projects/shop/migrations/{first.pk}/"

    page = client.get(first_page).content.decode()
    assert f'Superseded by <a href="/projects/shop/migrations/{second.pk}/">plan #{second.pk}</a>' in page
    assert "Roll back to" not in page
    assert "Superseded by" not in client.get(f"/projects/shop/migrations/{second.pk}/").content.decode()

    refused = client.post(f"{first_page}actions/rollback/", {"reason": "stale tab"}, follow=True).content.decode()
    assert f"rolling plan #{first.pk} back would silently undo it" in refused
    in_page = client.post(f"{first_page}actions/rollback/", {"reason": "stale tab"}, HTTP_HX_REQUEST="true")
    assert in_page.status_code == 200
    assert "Only the plan whose policy revision is in force may roll back" in in_page.content.decode()


def test_a_later_plan_that_has_not_started_yet_supersedes_nothing(plan, people, production, clock):
    first = brought_to(plan, people, State.COMPLETED)
    later = services.create_plan(environment=production, to_snapshot=PRO, reason="Pro quality", author=people["author"])
    add_evidence(later, people)
    later = approved(later, people)
    assert first.superseded_by() is None and later.superseded_by() is None

    services.roll_back(plan=first, user=people["approver"], reason="complaints")

    assert policy(production)[1:] == (OLD, "", 0)


def test_revisions_plans_wrote_before_revisions_named_their_plan_are_attributed_by_the_data_migration(
    moved_on, production, project
):
    import importlib

    from django.apps import apps

    from governance.policies.models import PolicyRevision
    from tests.factories import make_environment

    first, second = moved_on
    staging = make_environment(project, "staging")
    PolicyRevision.objects.create(
        environment=staging,
        number=2,
        provider=current_revision(staging).provider,
        reason=f"Migration plan #{first.pk}: typed by hand",
        default_model=OLD,
        allowed_snapshots=[OLD, NEW],
    )
    written = dict(PolicyRevision.objects.filter(environment=production).values_list("number", "written_by_plan"))
    PolicyRevision.objects.update(written_by_plan=None)  # as every revision was before the field existed

    importlib.import_module(
        "governance.snapshot_migrations.migrations.0005_attribute_plan_revisions"
    ).attribute_revisions(apps, None)

    assert (
        dict(PolicyRevision.objects.filter(environment=production).values_list("number", "written_by_plan")) == written
    )
    assert set(written.values()) == {None, first.pk, second.pk}
    assert not PolicyRevision.objects.filter(environment=staging, written_by_plan__isnull=False).exists()
    assert first.superseded_by() == second
