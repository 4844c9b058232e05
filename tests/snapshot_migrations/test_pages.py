"""The migration pages as people use them: create with prefill, sign off, refusals shown, approvals counted."""

import pytest
from django.test import Client

from governance.audit.models import AuditEvent
from governance.policies.selectors import current_revision
from governance.snapshot_migrations.models import MigrationPlan
from tests.factories import NEW, OLD
from tests.snapshot_migrations.conftest import brought_to


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def plan_url(plan, suffix=""):
    return f"/projects/{plan.project.slug}/migrations/{plan.pk}/{suffix}"


def test_the_create_form_is_prefilled_from_the_link(production, people):
    page = signed_in(people["author"]).get("/projects/shop/migrations/new/?environment=production&to=" + NEW)
    body = page.content.decode()
    assert page.status_code == 200
    assert f'<option value="{NEW}" selected>' in body
    assert '<option value="production" selected>' in body
    assert f"production on <code>{OLD}</code>" in body


def test_creating_a_plan_opens_its_page(production, people):
    client = signed_in(people["author"])
    response = client.post(
        "/projects/shop/migrations/new/",
        {
            "environment": "production",
            "to_snapshot": NEW,
            "reason": "Better motion",
            "stages": "10, 50, 100",
            "window_hours": "24",
            "auto_rollback": "on",
        },
    )
    plan = MigrationPlan.objects.get()
    assert response.status_code == 302 and response["Location"] == plan_url(plan)
    page = client.get(plan_url(plan)).content.decode()
    assert "Prompt compatibility tests" in page and "Gradual rollout plan" in page
    assert "created the plan" in page


def test_bad_stages_get_a_readable_message(production, people):
    response = signed_in(people["author"]).post(
        "/projects/shop/migrations/new/",
        {"environment": "production", "to_snapshot": NEW, "reason": "x", "stages": "50, 10", "window_hours": "24"},
    )
    assert response.status_code == 400
    assert "Rising percentages" in response.content.decode()


def test_a_viewer_cannot_open_the_create_form(project, people):
    from tests.factories import make_member

    viewer = make_member(project, "viewer")
    assert signed_in(viewer).get("/projects/shop/migrations/new/").status_code == 403


def test_self_approval_is_refused_on_the_page_and_audited(plan, people):
    client = signed_in(people["author"])
    client.post(plan_url(plan, "actions/submit/"))
    step = plan.steps.first()
    response = client.post(
        plan_url(plan, f"steps/{step.pk}/sign-off/"), {"decision": "approve", "comment": "mine"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200  # htmx swaps the fragment with its refusal alert
    assert "someone else must sign it off" in response.content.decode()
    assert 'id="plan-body"' in response.content.decode()
    assert "<html" not in response.content.decode()
    assert AuditEvent.objects.filter(action="migration.refused", payload__code="own_plan").exists()
    timeline = client.get(plan_url(plan)).content.decode()
    assert "tried to sign off and was refused: " in timeline
    assert "was refused to" not in timeline


def test_the_timeline_says_who_approved_and_who_rejected(plan, people):
    from governance.snapshot_migrations import services

    services.submit_for_review(plan=plan, user=people["author"])
    step = plan.steps.first()
    services.sign_off(plan=plan, step=step, user=people["approver"], decision="approve", comment="fine")
    services.sign_off(plan=plan, step=step, user=people["lead"], decision="reject", comment="broken")

    timeline = signed_in(people["author"]).get(plan_url(plan)).content.decode()

    assert f"approved “{step.title}”: fine" in timeline
    assert f"rejected “{step.title}”: broken" in timeline


def test_the_header_counts_what_awaits_my_sign_off(plan, people):
    signed_in(people["author"]).post(plan_url(plan, "actions/submit/"))
    approver = signed_in(people["approver"])
    assert 'data-testid="approvals-count">1<' in approver.get("/").content.decode()
    page = approver.get("/approvals/").content.decode()
    assert "Prompt compatibility tests" in page
    step = plan.steps.first()
    approver.post(plan_url(plan, f"steps/{step.pk}/sign-off/"), {"decision": "approve", "comment": "ran them"})
    assert 'data-testid="approvals-count">1<' in approver.get("/").content.decode()  # two more steps still need them


def test_the_rollout_runs_from_the_page_and_rolls_back(plan, people, production):
    from tests.snapshot_migrations.conftest import approved

    approved(plan, people)
    admin = signed_in(people["admin"])
    admin.post(plan_url(plan, "actions/start/"))
    assert current_revision(production).canary_percent == 10
    refused = admin.post(plan_url(plan, "actions/advance/"), follow=True).content.decode()
    assert "observation window has" in refused
    admin.post(plan_url(plan, "actions/advance/"), {"reason": "Tested enough in staging"})
    assert current_revision(production).canary_percent == 50
    page = admin.get(plan_url(plan)).content.decode()
    assert "50% of requests go to" in page
    assert f"wrote policy revision 3: Migration plan #{plan.pk}: 50% of requests to {NEW}." in page
    admin.post(plan_url(plan, "actions/rollback/"), {"reason": "Complaints"})
    revision = current_revision(production)
    assert (revision.default_model, revision.canary_percent) == (OLD, 0)


def test_a_direct_policy_post_to_a_protected_environment_is_refused(production, people):
    response = signed_in(people["admin"]).post(
        "/projects/shop/environments/production/policy/",
        {"default_model": NEW, "allowed_snapshots": [NEW], "alias_requests": "refuse", "reason": "just do it"},
    )
    assert response.status_code == 403
    assert current_revision(production).default_model == OLD


@pytest.mark.parametrize("action", ["start", "advance", "rollback"])
def test_rollout_actions_check_the_role_on_the_server(plan, people, action):
    response = signed_in(people["developer"]).post(plan_url(plan, f"actions/{action}/"), follow=True)
    assert response.status_code == 200
    assert "Cannot" in response.content.decode() or "Only" in response.content.decode()


def test_evidence_links_are_clickable_only_when_they_are_web_addresses(plan, people):
    """A `javascript:` or `data:` line an author typed reaches the approvers as text, never as a link to click."""
    step = plan.steps.first()
    lines = "https://ci.example/run/7\njavascript:alert(document.cookie)\ndata:text/html,<script>x()</script>\nJIRA-12"
    signed_in(people["developer"]).post(plan_url(plan, f"steps/{step.pk}/evidence/"), {"evidence": "x", "links": lines})

    page = signed_in(people["approver"]).get(plan_url(plan)).content.decode()

    assert '<a href="https://ci.example/run/7"' in page
    assert "javascript:alert(document.cookie)" in page and "JIRA-12" in page  # still shown, as text
    assert 'href="javascript:' not in page and 'href="data:' not in page and 'href="JIRA-12"' not in page


def test_signing_off_in_the_page_updates_the_header_count_in_the_same_answer(plan, people):
    from governance.snapshot_migrations import services

    services.submit_for_review(plan=plan, user=people["author"])
    steps = list(plan.steps.all())
    for step in steps[:3]:
        services.sign_off(plan=plan, step=step, user=people["approver"], decision="approve", comment="checked")
    services.sign_off(plan=plan, step=steps[2], user=people["lead"], decision="approve", comment="accepted")
    admin = signed_in(people["admin"])
    assert 'data-testid="approvals-count">1<' in admin.get(plan_url(plan)).content.decode()

    response = admin.post(
        plan_url(plan, f"steps/{steps[3].pk}/sign-off/"),
        {"decision": "approve", "comment": "stages agreed"},
        HTTP_HX_REQUEST="true",
    )

    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    # Out of band: htmx swaps the header's link in place of the page's, with no count left to show.
    assert '<a class="inbox-link" id="approvals-link" href="/approvals/" hx-swap-oob="true">Approvals</a>' in body
    assert "approvals-count" not in body


def test_a_message_from_an_in_page_action_shows_in_its_answer_not_on_the_next_page(plan, people):
    from governance.snapshot_migrations.models import ComparisonPrompt

    ComparisonPrompt.objects.create(project=plan.project, prompt="A fox in the snow")
    client = signed_in(people["developer"])

    response = client.post(plan_url(plan, "comparisons/run/"), HTTP_HX_REQUEST="true")

    body = response.content.decode()
    assert '<div id="messages" aria-live="polite" hx-swap-oob="true">' in body
    assert "Started 1 comparison pair; they finish in the background." in body
    assert "Started 1 comparison pair" not in client.get(plan_url(plan)).content.decode()


@pytest.mark.parametrize("state", ["completed", "rolled_back", "cancelled"])
def test_the_edit_page_of_an_ended_plan_says_why_instead_of_showing_the_form(plan, people, state):
    plan = brought_to(plan, people, state)
    author = signed_in(people["author"])

    page = author.get(plan_url(plan, "edit/"))

    body = page.content.decode()
    assert page.status_code == 409
    assert 'aria-label="Migration plan"' not in body and "Save plan" not in body
    assert f"<strong>Cannot edit: the plan is {plan.get_state_display().lower()}.</strong>" in body
    assert 'href="/projects/shop/migrations/new/?environment=production">start a new migration</a>' in body


def test_saving_the_edit_form_of_a_rolled_back_plan_is_refused_and_changes_nothing(plan, people):
    plan = brought_to(plan, people, "rolled_back")
    form = {"to_snapshot": NEW, "reason": "Again", "stages": "10, 100", "window_hours": "1", "auto_rollback": "on"}

    response = signed_in(people["author"]).post(plan_url(plan, "edit/"), form)

    assert response.status_code == 409
    assert "Cannot edit: the plan is rolled back." in response.content.decode()
    plan.refresh_from_db()
    assert (plan.state, plan.reason, plan.stages) == ("rolled_back", "Better motion", [10, 50, 100])
    assert AuditEvent.objects.filter(action="migration.refused", payload__attempt="edit").exists()


def test_only_the_author_or_an_admin_opens_the_edit_form(plan, people):
    page = signed_in(people["developer"]).get(plan_url(plan, "edit/"))

    assert page.status_code == 403
    assert "Only the author or an admin may edit." in page.content.decode()
    assert signed_in(people["author"]).get(plan_url(plan, "edit/")).status_code == 200
