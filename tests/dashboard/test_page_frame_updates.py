"""htmx answers carry the header counts and messages, and no other answer is changed by it.

The positive cases (an action's answer brings its message and the counts) are in the pages'
own tests; here: a download, a JSON manifest and an answer that reloads the page reach the
browser as their views made them, and a message left for the next page stays for it.
"""

import json

import pytest
from django.urls import reverse

from governance.generations.models import Generation
from governance.lifecycle.services import create_webhook
from governance.projects.models import Role
from tests.dashboard.builders import make_generation
from tests.factories import SYSTEM, make_environment, make_member, make_project

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
DELETED = "receives nothing more"


@pytest.fixture
def admin_client(client, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    environment = make_environment(make_project("shop"))
    make_generation(environment, prompt="a lighthouse")
    client.force_login(make_member(environment.project, Role.ADMIN))
    client.environment = environment
    return client


def leave_a_message_for_the_next_page(client) -> None:
    """A plain form that answers with a redirect: its message waits for the page the browser goes to next."""
    project = client.environment.project
    webhook, _ = create_webhook(project=project, url="https://hooks.example/x", description="", actor=SYSTEM)
    response = client.post(reverse("lifecycle:webhook_delete", args=[project.slug, webhook.pk]))
    assert response.status_code == 302


def test_a_download_asked_for_by_htmx_streams_unchanged(admin_client):
    export = reverse("exports:audit_export", args=["generations"])

    response = admin_client.post(export, {"generations-format": "csv"}, headers=HTMX)

    data = b"".join(response.streaming_content).decode()
    assert "a lighthouse" in data
    assert "hx-swap-oob" not in data


def test_a_json_manifest_read_through_htmx_stays_json_and_the_message_waits(admin_client):
    export = admin_client.post(reverse("exports:audit_export", args=["generations"]), {"generations-format": "csv"})
    b"".join(export.streaming_content)
    leave_a_message_for_the_next_page(admin_client)

    manifest = admin_client.get(reverse("exports:audit_manifest", args=[export["X-Export-Id"]]), headers=HTMX)

    assert json.loads(manifest.content)["rows"] == 1
    assert DELETED in admin_client.get(reverse("lifecycle:webhooks", args=["shop"])).content.decode()


def test_an_answer_that_reloads_the_page_has_no_body_and_the_message_shows_on_the_reloaded_page(admin_client):
    finished = Generation.objects.get(prompt="a lighthouse")
    leave_a_message_for_the_next_page(admin_client)
    url = reverse("dashboard:generation_detail", args=[finished.video_id])

    poll = admin_client.get(url, headers=HTMX)

    assert poll["HX-Refresh"] == "true"
    assert poll.content == b""
    assert DELETED in admin_client.get(url).content.decode()


def test_a_rows_poll_between_an_action_and_the_next_page_leaves_the_message_for_that_page(admin_client):
    running = make_generation(admin_client.environment, status=Generation.Status.IN_PROGRESS, prompt="a harbour")
    leave_a_message_for_the_next_page(admin_client)

    poll = admin_client.get(reverse("dashboard:generation_row", args=[running.video_id]), headers=HTMX)

    assert poll.status_code == 200 and "a harbour" in poll.content.decode()
    assert DELETED not in poll.content.decode()
    assert DELETED in admin_client.get(reverse("lifecycle:webhooks", args=["shop"])).content.decode()
