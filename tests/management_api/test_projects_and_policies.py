"""Projects, members and policies through the API: the permission table's answers and the dashboard's refusals."""

import pytest

from governance.audit.models import AuditEvent
from governance.policies.selectors import current_revision
from governance.projects.models import Membership, Role
from tests.factories import NEW, OLD, make_user
from tests.management_api.conftest import api_as, error_of

pytestmark = pytest.mark.django_db


def test_a_viewer_reads_the_project_its_environments_policies_and_members(project, staging, people):
    api = api_as(people[Role.VIEWER])

    shop = api.get("projects/shop").json()
    assert shop["role"] == "viewer" and shop["may"]["view_project"] and not shop["may"]["edit_policy"]
    [environment] = shop["environments"]
    assert environment["name"] == "staging" and environment["policy"]["pinned_snapshot"] == OLD
    assert api.get("projects/shop/environments/staging/policy/revisions").json()["data"][0]["number"] == 1
    assert {m["role"] for m in api.get("projects/shop/members").json()["data"]} == set(Role.values)


def test_a_stranger_does_not_learn_that_a_project_exists(project):
    response = api_as(make_user()).get("projects/shop")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


def test_an_admin_adds_a_member_changes_their_role_and_removes_them(project, people):
    api, newcomer = api_as(people[Role.ADMIN], name="onboarding"), make_user("newcomer")

    assert api.put("projects/shop/members/newcomer", {"role": "developer"}).json() == {
        "username": "newcomer",
        "role": "developer",
    }
    assert api.put("projects/shop/members/newcomer", {"role": "approver"}).json()["role"] == "approver"
    assert api.delete("projects/shop/members/newcomer").status_code == 204

    assert not Membership.objects.filter(user=newcomer).exists()
    events = AuditEvent.objects.filter(action__in=["member.changed", "member.removed"], payload__user="newcomer")
    assert [(e.action, e.actor_label, e.payload["via"]["access_token"]) for e in events] == [
        ("member.changed", people[Role.ADMIN].username, "onboarding"),
        ("member.changed", people[Role.ADMIN].username, "onboarding"),
        ("member.removed", people[Role.ADMIN].username, "onboarding"),
    ]


def test_the_last_admin_is_kept_as_on_the_project_page(project, people):
    admin = people[Role.ADMIN]
    response = api_as(admin).put(f"projects/shop/members/{admin.username}", {"role": "viewer"})

    assert response.status_code == 409
    assert error_of(response)["code"] == "last_admin" and "last admin of shop" in error_of(response)["message"]


def test_a_developer_may_not_change_members_and_the_refusal_is_audited(project, people):
    developer = people[Role.DEVELOPER]
    response = api_as(developer, name="script").put(f"projects/shop/members/{developer.username}", {"role": "admin"})

    assert response.status_code == 403
    assert error_of(response) == {
        "code": "role",
        "message": "This needs the admin role in shop; you are developer.",
        "field": None,
    }
    refused = AuditEvent.objects.get(action="auth.refused", actor_label=developer.username)
    assert refused.payload["via"]["access_token"] == "script"
    assert Membership.objects.get(user=developer).role == Role.DEVELOPER


def test_a_bad_role_is_a_400_naming_the_field(project, people):
    response = api_as(people[Role.ADMIN]).put("projects/shop/members/nobody", {"role": "owner"})
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid" and error_of(response)["field"] == "role"


def test_an_admin_writes_a_revision_of_an_unprotected_environment(project, staging, people):
    response = api_as(people[Role.ADMIN], name="terraform").post(
        "projects/shop/environments/staging/policy/revisions",
        {"default_model": NEW, "reason": "Staging tries the December snapshot"},
    )

    assert response.status_code == 201, response.content
    assert response.json()["number"] == 2 and response.json()["allowed_snapshots"] == [OLD, NEW]
    assert current_revision(staging).default_model == NEW
    event = AuditEvent.objects.filter(action="policy.revised").last()
    assert event.actor_label == people[Role.ADMIN].username and event.payload["via"]["access_token"] == "terraform"


def test_a_protected_environment_is_refused_with_the_dashboards_reason(project, production, people):
    response = api_as(people[Role.ADMIN]).post(
        "projects/shop/environments/production/policy/revisions", {"default_model": OLD, "reason": "try"}
    )

    assert response.status_code == 403
    assert error_of(response)["code"] == "protected_environment"
    assert error_of(response)["message"] == (
        "shop/production is protected: its policy changes only through an approved migration plan."
    )
    assert AuditEvent.objects.filter(action="auth.refused", environment=production).exists()
    assert current_revision(production).number == 1


def test_a_revision_the_policy_editor_would_refuse_is_a_400_naming_the_field(project, staging, people):
    response = api_as(people[Role.ADMIN]).post(
        "projects/shop/environments/staging/policy/revisions",
        {"allowed_snapshots": ["sora-9"], "reason": "typo"},
    )

    assert response.status_code == 400
    assert error_of(response)["field"] == "allowed_snapshots"
    assert current_revision(staging).number == 1


def test_a_developer_may_not_write_policies(project, staging, people):
    response = api_as(people[Role.DEVELOPER]).post(
        "projects/shop/environments/staging/policy/revisions", {"reason": "x"}
    )
    assert response.status_code == 403 and error_of(response)["code"] == "role"
