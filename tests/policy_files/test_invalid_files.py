"""A bad policy file gets one line-numbered error per problem, and nothing of it is applied."""

import pytest

from governance.policies.selectors import current_revision
from governance.snapshot_migrations.models import MigrationPlan
from tests.policy_files.conftest import edit, governance, line_of

pytestmark = pytest.mark.django_db


def errors_of(path) -> list[str]:
    run = governance("plan", str(path))
    assert run.code == 1, run.out
    assert run.err.rstrip().endswith("nothing applied.")
    return run.err.splitlines()[:-1]


def test_a_canary_share_out_of_range_names_its_line_and_key(exported):
    edit(exported, "staging", "percent: 10", "percent: 150")

    assert errors_of(exported) == [
        f"{exported}:{line_of(exported, 'percent: 150')}: environments.staging.canary.percent: "
        "must be between 0 and 100"
    ]


def test_unknown_keys_are_errors_with_a_suggestion(exported):
    edit(exported, "staging", "percent: 10", "percnt: 10")
    edit(exported, "testing", "rate_limit: 600", "rate_limits: 600")

    assert errors_of(exported) == [
        f"{exported}:{line_of(exported, 'rate_limits')}: environments.testing.rate_limits: "
        "unknown key (did you mean 'rate_limit'?)",
        f"{exported}:{line_of(exported, 'canary:', after='  staging:')}: environments.staging.canary.percent: "
        "is required: the share of requests, between 0 and 100",
        f"{exported}:{line_of(exported, 'percnt')}: environments.staging.canary.percnt: "
        "unknown key (did you mean 'percent'?)",
    ]


def test_every_shape_error_of_the_file_is_listed_at_once(exported):
    edit(exported, "development", "  development:", "  develop:")
    edit(exported, "production", "alias_requests: refuse", "alias_requests: refused")
    edit(exported, "production", "sizes: null", "sizes: []")
    edit(exported, "production", "budget: null", "budget: 12.345")
    edit(exported, "production", "max_seconds: null", "max_seconds: ten")

    errors = errors_of(exported)

    assert [error.split(": ", 1)[1] for error in errors] == [
        "environments.develop: unknown environment (did you mean 'development'?); "
        "environments are development, testing, staging, production",
        "environments.production.alias_requests: must be one of follow, pin, refuse (did you mean 'refuse'?)",
        "environments.production.limits.max_seconds: must be a whole number 1 or more",
        "environments.production.limits.sizes: is an empty list: write null (or leave the key out) for any",
        "environments.production.budget: must have at most 2 decimal places (cents)",
    ]
    assert errors[0].startswith(f"{exported}:{line_of(exported, 'develop:')}: ")


def test_a_key_given_twice_is_refused_not_silently_overridden(tmp_path, studio):
    path = tmp_path / "twice.yaml"
    path.write_text("project: studio\nenvironments:\n  staging:\n    provider: vertex\n    provider: runway\n")

    [error] = errors_of(path)

    assert error.startswith(f"{path}:5: not valid YAML:")
    assert 'found duplicate key "provider"' in error


def test_broken_yaml_names_the_line_where_it_broke(tmp_path, studio):
    path = tmp_path / "broken.yaml"
    path.write_text("project: studio\nenvironments:\n  staging:\n    allowed_snapshots: [a, b\n    pin: a\n")

    [error] = errors_of(path)

    assert error.startswith(f"{path}:5: not valid YAML:")


def test_names_are_checked_against_the_catalog_by_the_editors_rules(exported):
    edit(exported, "testing", "provider: runway", "provider: runwy")
    edit(exported, "production", "pin: veo-3.1-generate-001", "pin: veo-9")
    edit(
        exported,
        "development",
        "allowed_snapshots: [gemini-omni-1.2-flash]",
        "allowed_snapshots: [gemini-omni-1.2-flash, nope]",
    )

    assert [error.split(": ", 1)[1] for error in errors_of(exported)] == [
        "environments.development.allowed_snapshots: 'nope' is not a snapshot in this provider's catalog.",
        "environments.testing.provider: no provider 'runwy' in the catalog (did you mean 'runway'?)",
        "environments.production.pin: 'veo-9' is neither a snapshot nor an alias in this provider's catalog.",
    ]


def test_a_pin_outside_the_allowed_snapshots_is_refused_by_the_services_rule(exported):
    edit(exported, "staging", "pin: veo-3.1-generate-001", "pin: veo-3.1-fast-generate-001")

    assert errors_of(exported) == [
        f"{exported}:{line_of(exported, 'pin: veo-3.1-fast', after='  staging:')}: environments.staging.pin: "
        "The pinned snapshot 'veo-3.1-fast-generate-001' must be among the allowed snapshots."
    ]


def test_protected_is_set_in_the_admin_not_by_a_file(exported):
    edit(exported, "production", "protected: true", "protected: false")

    [error] = errors_of(exported)

    assert error.endswith(
        "environments.production.protected: is true for studio/production; it is set in the admin, not by a file"
    )


def test_a_file_for_another_project_or_none_is_refused(tmp_path, exported):
    exported.write_text(exported.read_text().replace("project: studio", "project: studi"))

    [error] = errors_of(exported)

    assert (
        error == f"{exported}:{line_of(exported, 'project: studi')}: project: no project 'studi' here "
        "(did you mean 'studio'?)"
    )


def test_nothing_is_applied_when_one_environment_is_wrong(studio, exported):
    edit(exported, "staging", "percent: 10", "percent: 30")  # valid on its own
    edit(exported, "testing", "operations: [create]", "operations: [create, remx]")

    run = governance("apply", str(exported), "--reason", "both", "--as", "admin")

    assert run.code == 1
    assert (
        "environments.testing.operations: Select a valid choice. remx is not one of the available choices." in run.err
    )
    assert current_revision(studio.environments.get(name="staging")).canary_percent == 10
    assert not MigrationPlan.objects.exists()
