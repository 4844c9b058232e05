"""The judged round trip: export studio, edit, plan (exit 2), apply, plan again."""

import hashlib
from pathlib import Path

import pytest

from governance.audit.models import AuditEvent
from governance.policies.selectors import current_revision
from governance.snapshot_migrations.models import MigrationPlan
from tests.policy_files.conftest import edit, governance

pytestmark = pytest.mark.django_db

VEO, VEO_FAST = "veo-3.1-generate-001", "veo-3.1-fast-generate-001"
REASON = "Widen the Runway canary; production to Veo 3.1 Fast"


@pytest.fixture
def edited(exported):
    """Staging's canary from 10% to 25%; production pinned to Veo 3.1 Fast, the only snapshot it allows."""
    edit(exported, "staging", "percent: 10", "percent: 25")
    edit(exported, "production", f"pin: {VEO}", f"pin: {VEO_FAST}")
    edit(exported, "production", f"allowed_snapshots: [{VEO}]", f"allowed_snapshots: [{VEO_FAST}]")
    return exported


def environment(studio, name):
    return studio.environments.get(name=name)


def test_an_export_says_what_is_in_force_so_plan_finds_no_difference(exported):
    text = exported.read_text()
    assert "project: studio" in text
    assert "  staging:\n" in text and "      snapshot: gen4.5\n      provider: runway\n      percent: 10" in text

    run = governance("plan", str(exported))

    assert run.code == 0
    assert "No difference: the file says what is in force." in run.out
    for name in ("development", "testing", "staging", "production (protected)"):
        assert f"{name}: no difference." in run.out


def test_export_writes_to_standard_output_without_an_output_file(studio):
    run = governance("export", "studio")

    assert run.code == 0
    assert run.out.startswith("# Policies of project Studio (studio)")
    assert "    pin: veo-3.1-generate-001" in run.out


def test_plan_shows_the_edit_in_the_dashboards_words_and_exits_2(edited):
    run = governance("plan", str(edited))

    assert run.code == 2
    assert "staging: 1 change from revision 1, which is in force; apply writes revision 2." in run.out
    assert "  Canary share of requests: 10% → 25%" in run.out
    assert "production (protected): 2 changes from revision 1, which is in force:" in run.out
    assert f"  Pinned snapshot or followed alias: {VEO} → {VEO_FAST}" in run.out
    assert f"apply changes nothing here: it opens a migration plan draft moving {VEO} → {VEO_FAST}" in run.out
    assert "2 of 4 environments in the file differ from what is in force." in run.out


def test_apply_writes_staging_revision_and_opens_a_draft_plan_for_production(studio, edited):
    production = environment(studio, "production")
    production_before = current_revision(production)

    run = governance("apply", str(edited), "--reason", REASON, "--as", "admin")

    assert run.code == 0, run.err
    staging = current_revision(environment(studio, "staging"))
    assert (staging.number, staging.canary_percent, staging.reason) == (2, 25, REASON)
    assert staging.created_by.username == "admin"
    assert staging.source_file == "studio.yaml"
    assert staging.source_sha256 == hashlib.sha256(edited.read_bytes()).hexdigest()
    assert current_revision(production) == production_before  # protected: nothing changed
    plan = MigrationPlan.objects.get(environment=production)
    assert (plan.state, plan.from_snapshot, plan.to_snapshot) == ("draft", VEO, VEO_FAST)
    assert (plan.to_provider.slug, plan.author.username, plan.stages) == ("vertex", "admin", [10, 50, 100])
    assert plan.reason.startswith(REASON)
    assert f"policy file studio.yaml (sha256 {staging.source_sha256})" in plan.reason
    assert "staging: wrote policy revision 2." in run.out
    assert f"Opened migration plan #{plan.pk} as a draft: {VEO} → {VEO_FAST}" in run.out


def test_after_apply_plan_shows_staging_settled_and_production_pending_on_its_plan(studio, edited):
    governance("apply", str(edited), "--reason", REASON, "--as", "admin")
    plan = MigrationPlan.objects.get(environment__project=studio)

    run = governance("plan", str(edited))

    assert run.code == 2  # production's change is not in force yet
    assert "staging: no difference." in run.out
    assert f"Migration plan #{plan.pk} (draft) proposes the move {VEO} → {VEO_FAST}" in run.out
    assert "it is in force only once approved and rolled out" in run.out
    assert "1 of 4 environments in the file differs from what is in force." in run.out


def test_applying_the_same_file_again_writes_nothing_and_opens_no_second_plan(studio, edited):
    governance("apply", str(edited), "--reason", REASON, "--as", "admin")
    events = AuditEvent.objects.count()

    run = governance("apply", str(edited), "--reason", "again", "--as", "admin")

    assert run.code == 0
    assert MigrationPlan.objects.filter(environment__project=studio).count() == 1
    assert current_revision(environment(studio, "staging")).number == 2
    assert "already proposes this move; no other plan opened" in run.out
    assert AuditEvent.objects.count() == events


def test_apply_is_audited_with_the_file_and_its_reason(studio, edited):
    governance("apply", str(edited), "--reason", REASON, "--as", "admin")
    sha256 = hashlib.sha256(edited.read_bytes()).hexdigest()

    applied = AuditEvent.objects.get(action="policy_file.applied")
    revised = AuditEvent.objects.filter(action="policy.revised").latest("sequence")

    assert applied.actor_label == "admin" and applied.project == studio
    assert applied.payload["sha256"] == sha256 and applied.payload["reason"] == REASON
    assert applied.payload["revisions"] == {"staging": 2}
    assert list(applied.payload["plans_opened"]) == ["production"]
    assert revised.payload["policy_file"] == {"name": "studio.yaml", "sha256": sha256}
    assert AuditEvent.objects.filter(action="migration.plan_created").count() == 1


def test_the_demo_admin_must_name_themselves_and_a_reason(edited):
    assert governance("apply", str(edited), "--reason", REASON).code != 0  # --as is required
    run = governance("apply", str(edited), "--reason", "  ", "--as", "admin")
    assert run.code == 1
    assert "Say why the policies change" in run.err


def test_only_an_admin_may_apply(studio, edited):
    run = governance("apply", str(edited), "--reason", REASON, "--as", "developer")

    assert run.code == 1
    assert "developer may not apply a policy file to studio: that needs the admin role" in run.err
    assert current_revision(environment(studio, "staging")).number == 1
    assert not MigrationPlan.objects.exists()


def test_the_documented_example_is_what_export_writes_for_the_demo(studio):
    page = (Path(__file__).resolve().parents[2] / "docs" / "policy-as-code.md").read_text()
    example = page.split("```yaml\n", 1)[1].split("```", 1)[0]

    assert example == governance("export", "studio").out
