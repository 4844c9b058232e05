"""What apply does per environment: revisions and rate limits where unprotected, plan drafts where protected."""

from decimal import Decimal

import pytest

from governance.audit.models import AuditEvent
from governance.policies.selectors import current_revision
from governance.policy_files.schema import PolicyFileInvalid
from governance.policy_files.services import apply_changes, export_project, plan_changes
from governance.projects.models import Environment, Role
from governance.snapshot_migrations.models import MigrationPlan
from tests.factories import NEW, OLD, make_environment, make_member, make_project
from tests.policy_files.conftest import edit, governance

pytestmark = pytest.mark.django_db

VEO, VEO_FAST = "veo-3.1-generate-001", "veo-3.1-fast-generate-001"


def test_a_rate_limit_change_alone_sets_the_limit_and_writes_no_revision(studio, exported):
    edit(exported, "testing", "rate_limit: 600", "rate_limit: 120")

    plan = governance("plan", str(exported))
    run = governance("apply", str(exported), "--reason", "slower tests", "--as", "admin")

    assert plan.code == 2
    assert "  Rate limit: 600 requests per minute per key → 120 requests per minute per key" in plan.out
    testing = studio.environments.get(name="testing")
    assert testing.rate_limit_per_minute == 120
    assert current_revision(testing).number == 1
    assert "testing: set the rate limit." in run.out
    assert AuditEvent.objects.filter(action="environment.rate_limit_changed", environment=testing).count() == 1


def test_a_protected_change_that_moves_no_pin_is_left_as_it_is(studio, exported):
    edit(exported, "production", "budget: null", "budget: 500")

    plan = governance("plan", str(exported))
    run = governance("apply", str(exported), "--reason", "cap production", "--as", "admin")

    assert plan.code == 2
    assert "  Monthly budget: no budget → $500.00" in plan.out
    assert "a plan moves the pinned snapshot, which this change leaves where it is" in plan.out
    assert run.code == 0
    assert "production (protected): changed nothing." in run.out
    assert "No migration plan can carry this change" in run.out
    assert current_revision(studio.environments.get(name="production")).monthly_budget is None
    assert not MigrationPlan.objects.exists()
    assert governance("plan", str(exported)).code == 2


def test_a_draft_lists_in_its_reason_what_it_does_not_carry(studio, exported):
    edit(exported, "production", f"pin: {VEO}", f"pin: {VEO_FAST}")
    edit(exported, "production", f"allowed_snapshots: [{VEO}]", f"allowed_snapshots: [{VEO_FAST}]")
    edit(exported, "production", "budget: null", "budget: 250.50")
    edit(exported, "production", "rate_limit: 600", "rate_limit: 60")

    run = governance("apply", str(exported), "--reason", "fast and capped", "--as", "admin")

    plan = MigrationPlan.objects.get()
    assert plan.to_snapshot == VEO_FAST
    assert plan.reason.endswith(
        "The file also changes what a migration plan does not carry: Monthly budget: no budget → $250.50; "
        "Rate limit: 600 requests per minute per key → 60 requests per minute per key."
    )
    assert "it does not carry: Monthly budget, Rate limit. These stay as they are." in run.out
    production = studio.environments.get(name="production")
    assert production.rate_limit_per_minute == 600
    assert current_revision(production).monthly_budget is None


def test_a_canary_moved_to_the_policys_own_provider_is_a_plain_canary(studio, exported):
    edit(
        exported,
        "staging",
        "      snapshot: gen4.5\n      provider: runway",
        "      snapshot: veo-3.1-fast-generate-001\n      provider: vertex",
    )

    governance("apply", str(exported), "--reason", "canary the fast Veo", "--as", "admin")

    staging = current_revision(studio.environments.get(name="staging"))
    assert (staging.canary_snapshot, staging.canary_provider, staging.canary_percent) == (VEO_FAST, None, 10)
    assert governance("plan", str(exported)).code == 0


def test_a_null_canary_removes_it(studio, exported):
    edit(
        exported,
        "staging",
        "canary:\n      snapshot: gen4.5\n      provider: runway\n      percent: 10",
        "canary: null",
    )

    governance("apply", str(exported), "--reason", "no canary", "--as", "admin")

    staging = current_revision(studio.environments.get(name="staging"))
    assert (staging.canary_snapshot, staging.canary_percent) == ("", 0)


# Through the services, as the management API calls them


@pytest.fixture
def shop(db):
    """A project on the simulator: development with a policy, testing with none yet, a protected production."""
    project = make_project("shop")
    admin = make_member(project, Role.ADMIN)
    make_environment(project, "development")
    Environment.objects.create(project=project, name="testing")
    make_environment(project, "production", protected=True, default_model=OLD, allowed_snapshots=[OLD])
    return project, admin


def shop_file(**production) -> str:
    production = {"pin": OLD, "allowed": f"[{OLD}]", **production}
    return f"""\
project: shop
environments:
  testing:
    provider: simulator
    pin: {NEW}
    allowed_snapshots: [{NEW}]
    budget: 100
  production:
    provider: simulator
    pin: {production["pin"]}
    allowed_snapshots: {production["allowed"]}
"""


def test_an_environment_without_a_policy_gets_its_first_one_and_absent_keys_take_their_defaults(shop):
    project, admin = shop

    plan = plan_changes(project, shop_file())
    applied = apply_changes(
        project, shop_file(), user=admin, reason="first policy from a file", file_name="x/shop.yaml"
    )

    [testing] = [change for change in plan.changes if change.environment.name == "testing"]
    assert (
        testing.is_first_policy
        and testing.first_policy_words[0] == f"Testing runs only {NEW}; requests for an alias are refused."
    )
    assert [environment.name for environment in plan.not_in_file] == ["development"]
    revision = applied.outcomes[0].revision
    assert (revision.number, revision.source_file, revision.monthly_budget) == (1, "shop.yaml", Decimal("100.00"))
    assert (revision.alias_requests, revision.canary_snapshot, revision.allowed_operations) == ("refuse", "", None)


def test_the_plan_says_which_fields_a_completed_migration_leaves_as_the_file_says(shop):
    project, _ = shop

    plan = plan_changes(project, shop_file(pin=NEW, allowed=f"[{NEW}]"))

    [production] = [change for change in plan.changes if change.environment.name == "production"]
    assert production.through_plan and (production.move.from_snapshot, production.move.to_snapshot) == (OLD, NEW)
    assert production.not_carried == []
    assert not plan.errors


def test_apply_refuses_a_bad_file_with_its_errors_and_writes_nothing(shop):
    project, admin = shop
    text = shop_file().replace("budget: 100", "budget: -1")

    with pytest.raises(PolicyFileInvalid) as invalid:
        apply_changes(project, text, user=admin, reason="bad", file_name="shop.yaml")

    assert [error.shown("shop.yaml") for error in invalid.value.errors] == [
        "shop.yaml:7: environments.testing.budget: must be 0 or more, below 10,000,000,000"
    ]
    assert current_revision(project.environments.get(name="testing")) is None


def test_a_project_exported_through_the_service_plans_clean(shop):
    project, _ = shop

    text = export_project(project)

    assert "Not in this file, no policy yet: testing." in text
    assert not plan_changes(project, text).differs
