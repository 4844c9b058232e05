"""The judged walkthrough: two users' tokens from `create_access_token`; one plans and attaches evidence,
the other signs off; the author's own sign-off is refused; the audit trail shows both, and the token."""

import io

import pytest
from django.core.management import call_command

from governance.audit.models import AuditEvent
from governance.snapshot_migrations.models import MigrationPlan
from tests.management_api.conftest import TokenApi, error_of

pytestmark = pytest.mark.django_db


def token_from_command(username: str, name: str, *projects: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    arguments = [arg for slug in projects for arg in ("--project", slug)]
    call_command("create_access_token", username, "--name", name, *arguments, stdout=out, stderr=err)
    return out.getvalue().strip().splitlines()[-1]


@pytest.fixture
def demo():
    call_command("seed_demo", stdout=io.StringIO())


def test_one_user_plans_and_attaches_evidence_another_signs_it_off(demo):
    lead = TokenApi(token_from_command("lead", "release pipeline", "demo"))
    approver = TokenApi(token_from_command("approver", "approver's laptop"))

    created = lead.post(
        "projects/demo/plans",
        {"environment": "production", "to_snapshot": "sora-2-2025-12-08", "reason": "Better motion, same prompts"},
    )
    assert created.status_code == 201, created.content
    plan = created.json()
    assert plan["state"] == "draft" and plan["author"] == "lead"
    step = next(s for s in plan["steps"] if s["kind"] == "compatibility")
    base = f"projects/demo/plans/{plan['id']}"

    attached = lead.post(f"{base}/steps/{step['id']}/evidence", {"link": "https://ci.example.com/runs/42/report"})
    assert attached.status_code == 201, attached.content
    report = io.BytesIO(b"<testsuite tests='12' failures='0'/>")
    report.name = "prompt-compatibility.xml"
    uploaded = lead.upload(f"{base}/steps/{step['id']}/evidence", {"file": report})
    assert uploaded.status_code == 201, uploaded.content
    assert uploaded.json()["links"] == ["https://ci.example.com/runs/42/report"]
    assert [f["name"] for f in uploaded.json()["files"]] == ["prompt-compatibility.xml"]
    assert lead.post(f"{base}/submit").json()["state"] == "in_review"

    own = lead.post(f"{base}/steps/{step['id']}/sign-off", {"decision": "approve", "comment": "Looks fine to me"})
    assert own.status_code == 403
    assert error_of(own)["code"] == "own_plan"
    assert "someone else must sign it off (four-eyes)" in error_of(own)["message"]

    signed = approver.post(f"{base}/steps/{step['id']}/sign-off", {"decision": "approve", "comment": "12/12 pass"})
    assert signed.status_code == 200, signed.content
    step_now = next(s for s in signed.json()["steps"] if s["id"] == step["id"])
    assert step_now["done"] and [s["user"] for s in step_now["sign_offs"]] == ["approver"]

    trail = list(AuditEvent.objects.filter(object_id=str(plan["id"]), object_type="snapshot_migrations.migrationplan"))
    said = [(event.action, event.actor_label, event.payload.get("via", {}).get("access_token")) for event in trail]
    assert ("migration.plan_created", "lead", "release pipeline") in said
    assert ("migration.evidence_attached", "lead", "release pipeline") in said
    assert ("migration.refused", "lead", "release pipeline") in said
    assert ("migration.signed_off", "approver", "approver's laptop") in said
    assert MigrationPlan.objects.get(pk=plan["id"]).state == "in_review"  # three more steps wait for sign-off


def test_the_audit_trail_is_readable_through_the_api_by_an_auditor(demo):
    lead = TokenApi(token_from_command("lead", "ci"))
    lead.post("projects/demo/plans", {"environment": "production", "to_snapshot": "sora-2-2025-12-08", "reason": "r"})
    auditor = TokenApi(token_from_command("auditor", "audit"))

    events = auditor.get("audit/events", {"project": "demo", "action": "migration.plan_created"})

    assert events.status_code == 200, events.content
    [event] = events.json()["data"]
    assert event["actor"] == "lead" and event["payload"]["via"]["access_token"] == "ci"
