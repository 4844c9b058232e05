"""The project's checklist template and prompt set, edited by project admins; new plans copy them."""

from django.test import Client

from governance.audit.models import AuditEvent
from governance.snapshot_migrations import services
from governance.snapshot_migrations.models import ComparisonPrompt
from tests.factories import NEW

URL = "/projects/shop/migrations/checklist/"


def admin_client(people) -> Client:
    client = Client()
    client.force_login(people["admin"])
    return client


def test_the_default_template_has_the_four_recommended_steps(production, people):
    page = admin_client(people).get(URL).content.decode()
    for title in ("Prompt compatibility tests", "Performance benchmark", "Business acceptance", "Gradual rollout plan"):
        assert title in page


def test_a_changed_step_with_named_approvers_is_copied_into_new_plans(production, people):
    client = admin_client(people)
    step = services.template_steps(production.project)[2]
    response = client.post(
        URL,
        {
            "action": "save",
            "step": step.pk,
            f"step-{step.pk}-title": "Business acceptance by the product owner",
            f"step-{step.pk}-kind": "acceptance",
            f"step-{step.pk}-required_role": "approver",
            f"step-{step.pk}-minimum_sign_offs": "1",
            f"step-{step.pk}-approvers": [str(people["lead"].pk)],
        },
    )
    assert response.status_code == 302
    plan = services.create_plan(environment=production, to_snapshot=NEW, reason="x", author=people["author"])
    copied = plan.steps.get(position=3)
    assert copied.title == "Business acceptance by the product owner"
    assert list(copied.approvers.all()) == [people["lead"]]
    assert AuditEvent.objects.filter(action="migration.template_step_saved").exists()


def test_steps_are_added_and_removed(production, people):
    client = admin_client(people)
    client.post(
        URL,
        {
            "action": "add",
            "new-title": "Legal review",
            "new-kind": "other",
            "new-required_role": "approver",
            "new-minimum_sign_offs": "1",
        },
    )
    steps = services.template_steps(production.project)
    assert [s.title for s in steps][-1] == "Legal review"
    client.post(URL, {"action": "remove", "step": steps[-1].pk})
    assert len(services.template_steps(production.project)) == 4


def test_the_prompt_set_is_one_prompt_per_line(production, people):
    admin_client(people).post(URL, {"action": "prompts", "prompts": "A fox\n\nA lighthouse at dawn\n"})
    assert list(ComparisonPrompt.objects.values_list("prompt", flat=True)) == ["A fox", "A lighthouse at dawn"]


def test_only_project_admins_edit_the_template(production, people):
    client = Client()
    client.force_login(people["approver"])
    assert client.get(URL).status_code == 403
