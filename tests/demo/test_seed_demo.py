"""seed_demo: the demo a new user meets, with the environment layering practice recommends."""

import datetime as dt
import io

import pytest
import time_machine
from django.contrib.auth import authenticate, get_user_model
from django.core import mail
from django.core.management import call_command
from django.test import Client

from governance.demo.users import DEMO_PASSWORD
from governance.lifecycle.models import ShutdownAlert
from governance.notifications.models import Notification
from governance.projects.models import AUDITOR_GROUP, Membership

pytestmark = pytest.mark.django_db

OLD, NEW = "sora-2-2025-10-06", "sora-2-2025-12-08"


@pytest.fixture
def demo():
    call_command("seed_demo", stdout=io.StringIO())


def ask(environment: str, model: str):
    out = io.StringIO()
    call_command("create_api_key", "demo", environment, stdout=out, stderr=io.StringIO())
    key = out.getvalue().strip().splitlines()[-1]
    return Client().post(
        "/v1/videos",
        {"prompt": "a lighthouse", "model": model},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


@pytest.mark.parametrize(
    "environment, model, status, outcome",
    [
        ("development", "sora-2", 200, NEW),
        ("development", OLD, 200, OLD),
        ("testing", "sora-2", 200, NEW),
        ("staging", "sora-2", 200, NEW),
        ("staging", OLD, 403, "model_not_allowed"),
        ("production", OLD, 200, OLD),
        ("production", "sora-2", 403, "alias_not_allowed"),
        ("production", NEW, 403, "model_not_allowed"),
    ],
)
def test_each_demo_environment_answers_as_its_policy_says(demo, environment, model, status, outcome):
    response = ask(environment, model)
    assert response.status_code == status
    body = response.json()
    assert (body["model"] if status == 200 else body["error"]["code"]) == outcome


def test_every_demo_login_works_with_its_role(demo):
    roles = dict(Membership.objects.filter(project__slug="demo").values_list("user__username", "role"))
    assert roles == {
        "admin": "admin",
        "approver": "approver",
        "lead": "approver",
        "developer": "developer",
        "viewer": "viewer",
    }
    auditor = authenticate(username="auditor", password=DEMO_PASSWORD)
    assert auditor is not None and auditor.groups.filter(name=AUDITOR_GROUP).exists()
    assert all(authenticate(username=name, password=DEMO_PASSWORD) for name in roles)


def test_seeding_again_changes_nothing(demo):
    users = get_user_model().objects.count()
    revisions = [
        environment.policy_revisions.count() for environment in Membership.objects.first().project.environments.all()
    ]
    call_command("seed_demo", stdout=io.StringIO())
    assert get_user_model().objects.count() == users
    assert [e.policy_revisions.count() for e in Membership.objects.first().project.environments.all()] == revisions


def test_seeding_puts_the_demo_alerts_in_the_inbox_without_emailing_anyone(django_capture_on_commit_callbacks):
    out = io.StringIO()
    with (
        time_machine.travel(dt.datetime(2026, 10, 1, tzinfo=dt.UTC), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        call_command("seed_demo", stdout=out)

    assert mail.outbox == []
    assert ShutdownAlert.objects.filter(environment__project__slug="launch-videos").count() == 4
    lead_inbox = Notification.objects.filter(recipient__username="lead", kind="lifecycle.shutdown_alert")
    assert lead_inbox.count() == 4
    assert "in each member's inbox and on the dashboard; not emailed" in out.getvalue()
