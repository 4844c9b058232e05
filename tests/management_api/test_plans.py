"""Migration plans through the API: the plan services' rules, refusals and their codes, as in the browser."""

import hashlib
import io

import pytest

from governance.audit.models import AuditEvent
from governance.policies.selectors import current_revision
from governance.projects.models import Role
from tests.factories import NEW, make_member
from tests.management_api.conftest import api_as, error_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def author(project, people):
    return make_member(project, Role.APPROVER)


def draft(api, **changes) -> dict:
    body = {"environment": "production", "to_snapshot": NEW, "reason": "Better motion", **changes}
    response = api.post("projects/shop/plans", body)
    assert response.status_code == 201, response.content
    return response.json()


def report(content: bytes = b"12 passed, 0 failed", name: str = "report.txt") -> io.BytesIO:
    upload = io.BytesIO(content)
    upload.name = name
    return upload


def test_a_file_attached_as_evidence_is_kept_with_its_hash_and_downloads_as_it_was(production, author, people):
    api = api_as(author)
    plan = draft(api)
    step = plan["steps"][0]

    attached = api.upload(f"projects/shop/plans/{plan['id']}/steps/{step['id']}/evidence", {"file": report()})

    assert attached.status_code == 201, attached.content
    [stored] = attached.json()["files"]
    assert stored["name"] == "report.txt" and stored["size"] == 19
    assert stored["sha256"] == hashlib.sha256(b"12 passed, 0 failed").hexdigest()
    download = api_as(people[Role.VIEWER]).client.get(stored["download"], HTTP_AUTHORIZATION="")
    assert download.status_code == 401  # the download needs a token too
    fetched = api.get(stored["download"].removeprefix("/api/v1/"))
    assert fetched.status_code == 200 and b"".join(fetched.streaming_content) == b"12 passed, 0 failed"
    assert fetched["Content-Disposition"].startswith("attachment")
    event = AuditEvent.objects.get(action="migration.evidence_attached")
    assert event.payload["file"]["sha256"] == stored["sha256"]


def test_a_file_over_the_limit_or_a_link_that_is_no_web_address_is_a_400(production, author, settings):
    settings.EVIDENCE_MAX_BYTES = 10
    api = api_as(author)
    plan = draft(api)
    path = f"projects/shop/plans/{plan['id']}/steps/{plan['steps'][0]['id']}/evidence"

    too_big = api.upload(path, {"file": report()})
    assert too_big.status_code == 400 and error_of(too_big)["field"] == "file"
    not_web = api.post(path, {"link": "javascript:alert(1)"})
    assert not_web.status_code == 400 and error_of(not_web)["field"] == "link"


def test_evidence_text_and_links_are_written_as_the_dashboards_form_writes_them(production, author):
    api = api_as(author)
    plan = draft(api)
    path = f"projects/shop/plans/{plan['id']}/steps/{plan['steps'][0]['id']}/evidence"

    step = api.put(path, {"evidence": "All prompts pass", "links": ["https://ci.example.com/7"]}).json()

    assert step["evidence"] == "All prompts pass" and step["links"] == ["https://ci.example.com/7"]
    assert step["evidence_by"] == author.username


def test_an_approval_needs_evidence_and_the_plan_must_be_in_review(production, author, people):
    plan = draft(api_as(author))
    step_path = f"projects/shop/plans/{plan['id']}/steps/{plan['steps'][0]['id']}/sign-off"
    approver = api_as(people[Role.APPROVER])

    early = approver.post(step_path, {"decision": "approve", "comment": "ok"})
    assert early.status_code == 409 and error_of(early)["code"] == "not_in_review"
    api_as(author).post(f"projects/shop/plans/{plan['id']}/submit")
    bare = approver.post(step_path, {"decision": "approve", "comment": "ok"})
    assert bare.status_code == 409 and error_of(bare)["code"] == "evidence_missing"
    blank = approver.post(step_path, {"decision": "reject", "comment": "   "})
    assert blank.status_code == 400 and error_of(blank) == {
        "code": "comment_required",
        "message": "A sign-off needs a comment saying what you checked.",
        "field": "comment",
    }


def test_whoever_attached_a_steps_evidence_does_not_sign_it_off(production, author, people):
    plan = draft(api_as(author))
    step = plan["steps"][0]
    approver = api_as(people[Role.APPROVER])
    base = f"projects/shop/plans/{plan['id']}"
    approver.post(f"{base}/steps/{step['id']}/evidence", {"link": "https://ci.example.com/run/1"})
    api_as(author).post(f"{base}/submit")

    response = approver.post(f"{base}/steps/{step['id']}/sign-off", {"decision": "approve", "comment": "mine"})

    assert response.status_code == 403 and error_of(response)["code"] == "own_evidence"


def test_a_rejection_rejects_the_plan(production, author, people):
    api = api_as(author)
    plan = draft(api)
    base = f"projects/shop/plans/{plan['id']}"
    api.post(f"{base}/submit")

    answer = api_as(people[Role.APPROVER]).post(
        f"{base}/steps/{plan['steps'][0]['id']}/sign-off", {"decision": "reject", "comment": "Hands look wrong"}
    )

    assert answer.status_code == 200 and answer.json()["state"] == "rejected"


def test_editing_a_plan_keeps_what_is_not_sent_and_resets_review(production, author):
    api = api_as(author)
    plan = draft(api, stages=[25, 100], observation_window_hours=2)

    edited = api.patch(f"projects/shop/plans/{plan['id']}", {"reason": "Better motion and hands"}).json()

    assert edited["reason"] == "Better motion and hands" and edited["version"] == 2
    assert edited["stages"] == [25, 100] and edited["observation_window_hours"] == 2


def test_a_developer_may_not_edit_someone_elses_plan(production, author, people):
    plan = draft(api_as(author))
    response = api_as(people[Role.DEVELOPER]).patch(f"projects/shop/plans/{plan['id']}", {"reason": "mine now"})
    assert response.status_code == 403 and error_of(response)["code"] == "role"
    assert "Only the author or an admin may edit" in error_of(response)["message"]


def test_an_unknown_target_snapshot_is_a_400_naming_the_field(production, author):
    response = api_as(author).post(
        "projects/shop/plans", {"environment": "production", "to_snapshot": "sora-9", "reason": "why not"}
    )
    assert response.status_code == 400 and error_of(response)["field"] == "to_snapshot"


def test_an_approved_plan_rolls_out_advances_and_rolls_back_through_the_api(production, author, people):
    api = api_as(author)
    plan = draft(api, stages=[50, 100], observation_window_hours=0)
    base = f"projects/shop/plans/{plan['id']}"
    for step in plan["steps"]:
        api.put(f"{base}/steps/{step['id']}/evidence", {"evidence": f"{step['title']}: done"})
    api.post(f"{base}/submit")
    admins = [people[Role.ADMIN], make_member(production.project, Role.ADMIN)]
    for step in plan["steps"]:
        signers = admins if step["required_role"] == "admin" else [people[Role.APPROVER], *admins]
        for signer in signers[: step["minimum_sign_offs"]]:
            answer = api_as(signer).post(
                f"{base}/steps/{step['id']}/sign-off", {"decision": "approve", "comment": "ok"}
            )
            assert answer.status_code == 200, answer.content
    assert api.get(base).json()["state"] == "approved"
    admin = api_as(people[Role.ADMIN])

    refused = api_as(people[Role.APPROVER]).post(f"{base}/rollout/start")
    assert refused.status_code == 403 and error_of(refused)["code"] == "role"
    assert admin.post(f"{base}/rollout/start").json()["stage_percent"] == 50
    assert current_revision(production).canary_percent == 50
    assert admin.post(f"{base}/rollout/advance").json()["stage_percent"] == 100
    rolled_back = api_as(people[Role.APPROVER]).post(f"{base}/rollback", {"reason": "Latency doubled"})
    assert rolled_back.status_code == 200 and rolled_back.json()["state"] == "rolled_back"
    assert current_revision(production).canary_percent == 0
    again = admin.post(f"{base}/rollback", {"reason": "again"})
    assert again.status_code == 409 and error_of(again)["code"] == "wrong_state"
