"""Policy as code through the API: the same export, plan and apply as `manage.py governance`."""

import io

import pytest
from django.core.management import call_command

from governance.policies.selectors import current_revision
from governance.projects.models import Project
from governance.snapshot_migrations.models import MigrationPlan
from tests.management_api.conftest import TokenApi, error_of
from tests.management_api.test_plan_and_sign_off import token_from_command
from tests.policy_files.conftest import edit

pytestmark = pytest.mark.django_db

VEO, VEO_FAST = "veo-3.1-generate-001", "veo-3.1-fast-generate-001"


@pytest.fixture
def studio() -> Project:
    call_command("seed_demo", stdout=io.StringIO())
    return Project.objects.get(slug="studio")


@pytest.fixture
def admin_api(studio) -> TokenApi:
    return TokenApi(token_from_command("admin", "policy pipeline", "studio"))


@pytest.fixture
def edited_text(admin_api, tmp_path) -> str:
    exported = admin_api.get("projects/studio/policy-file")
    assert exported.status_code == 200, exported.content
    path = tmp_path / "studio.yaml"
    path.write_text(exported.json()["file"])
    edit(path, "staging", "percent: 10", "percent: 25")
    edit(path, "production", f"pin: {VEO}", f"pin: {VEO_FAST}")
    edit(path, "production", f"allowed_snapshots: [{VEO}]", f"allowed_snapshots: [{VEO_FAST}]")
    return path.read_text()


def test_export_plan_apply_and_plan_again(admin_api, edited_text, studio):
    planned = admin_api.post("projects/studio/policy-file/plan", {"file": edited_text, "file_name": "studio.yaml"})
    assert planned.status_code == 200, planned.content
    assert planned.json()["differs"] is True
    assert any("10% → 25%" in line for line in planned.json()["report"])

    applied = admin_api.post(
        "projects/studio/policy-file/apply", {"file": edited_text, "file_name": "studio.yaml", "reason": "From CI"}
    )

    assert applied.status_code == 200, applied.content
    staging = current_revision(studio.environments.get(name="staging"))
    assert applied.json()["revisions"] == [{"environment": "staging", "number": staging.number}]
    assert staging.canary_percent == 25 and staging.source_file == "studio.yaml"
    draft = MigrationPlan.objects.get(pk=applied.json()["plans"][0])
    assert draft.environment.name == "production" and draft.state == "draft"
    again = admin_api.post("projects/studio/policy-file/plan", {"file": edited_text}).json()
    assert not any(line.startswith("staging") and "→" in line for line in again["report"])


def test_a_bad_file_gets_line_numbered_errors_and_changes_nothing(admin_api, edited_text, studio):
    broken = edited_text.replace("percent: 25", "percent: 250")
    before = current_revision(studio.environments.get(name="staging")).number

    refused = admin_api.post("projects/studio/policy-file/apply", {"file": broken, "reason": "From CI"})

    assert refused.status_code == 400
    error = error_of(refused)
    assert error["code"] == "invalid_policy_file"
    assert error["message"] == "policies.yaml: 1 error; nothing applied."
    assert [detail["field"] for detail in error["details"]] == ["environments.staging.canary.percent"]
    assert error["details"][0]["message"].startswith("policies.yaml:")
    assert current_revision(studio.environments.get(name="staging")).number == before


def test_applying_needs_the_role_that_edits_policies(studio, edited_text):
    developer = TokenApi(token_from_command("developer", "laptop", "studio"))

    refused = developer.post("projects/studio/policy-file/apply", {"file": edited_text, "reason": "Mine"})

    assert refused.status_code == 403
    assert developer.post("projects/studio/policy-file/plan", {"file": edited_text}).status_code == 200


def test_a_file_of_another_project_is_refused(admin_api, edited_text):
    refused = admin_api.post("projects/demo/policy-file/plan", {"file": edited_text})

    assert refused.status_code == 403  # the token is scoped to studio; demo is not among its projects
