"""Slack and Teams destinations: their URL is their secret, their deliveries are bounded and retried like any other."""

import logging

import httpx
import pytest
from django.urls import reverse

from governance.audit.models import AuditEvent
from governance.lifecycle.models import Webhook, WebhookDelivery
from governance.lifecycle.services import (
    WEBHOOK_MAX_ATTEMPTS,
    attempt_delivery,
    create_webhook,
    delete_webhook,
    enqueue_webhooks,
)
from governance.projects.models import Role
from tests.factories import SYSTEM, make_member, make_project, make_user
from tests.lifecycle.chat_receivers import ChatReceiver
from tests.lifecycle.test_chat_message_format import message
from tests.lifecycle.test_webhook_answer_bounds import HEADERS, AnsweringReceiver
from tests.operations.test_no_secrets import command_exports, every_page, every_row_as_text, text_of

pytestmark = pytest.mark.django_db

SLACK_URL = "https://hooks.slack.com/services/T0001/B0001/abcdefghijklmnopqrstWXYZ"
TEAMS_URL = (
    "https://prod-42.westeurope.logic.azure.com:443/workflows/0a1b2c/triggers/manual/paths/invoke"
    "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=Zm9vYmFyU2VjcmV0U2lnbmF0dXJlcXV4"
)
SECRET_PARTS = ["abcdefghijklmnopqrstWXYZ", "Zm9vYmFyU2VjcmV0U2lnbmF0dXJlcXV4"]


@pytest.fixture
def admin_client(client):
    project = make_project("shop", name="Shop")
    client.force_login(make_member(project, Role.ADMIN))
    return client


def added(client, kind: str, url: str):
    return client.post(reverse("lifecycle:webhooks", args=["shop"]), {"kind": kind, "url": url, "description": "ops"})


def test_an_admin_adds_a_slack_channel_and_its_url_is_never_shown_again(admin_client, caplog):
    shown = "https://hooks.slack.com/…WXYZ"
    with caplog.at_level(logging.DEBUG):
        response = added(admin_client, "slack", SLACK_URL)

    assert response.status_code == 302
    page = admin_client.get(response.url).content.decode()
    assert "Slack incoming webhook added" in page and shown in page
    webhook = Webhook.objects.get()
    assert (webhook.kind, webhook.url, webhook.encrypted_secret) == ("slack", shown, "")
    assert SECRET_PARTS[0] not in webhook.encrypted_url
    assert AuditEvent.objects.get(action="webhook.created").payload == {
        "url": shown,
        "kind": "slack",
        "description": "ops",
    }
    assert SECRET_PARTS[0] not in page and SECRET_PARTS[0] not in caplog.text and "whsec_" not in page


def test_a_teams_workflow_url_is_kept_secret_too(admin_client):
    added(admin_client, "teams", TEAMS_URL)

    webhook = Webhook.objects.get()
    assert webhook.url == "https://prod-42.westeurope.logic.azure.com:443/…cXV4"
    page = admin_client.get(reverse("lifecycle:webhooks", args=["shop"])).content.decode()
    assert "Microsoft Teams (Workflows webhook)" in page and SECRET_PARTS[1] not in page


def test_a_refused_chat_url_is_not_rendered_back_into_the_form(admin_client):
    refused = "http://10.0.0.5/services/T0001/B0001/abcdefghijklmnopqrstWXYZ"

    response = added(admin_client, "slack", refused)

    page = response.content.decode()
    assert response.status_code == 400 and "10.0.0.5 is not an allowed address" in page
    assert SECRET_PARTS[0] not in page
    assert not Webhook.objects.exists()


def test_deleting_a_chat_destination_wipes_its_url():
    webhook, secret = create_webhook(
        project=make_project("shop"), url=SLACK_URL, description="", actor=SYSTEM, kind="slack"
    )
    assert secret is None

    delete_webhook(webhook=webhook, actor=SYSTEM)

    webhook.refresh_from_db()
    assert webhook.is_deleted and webhook.encrypted_url == "" and webhook.url.endswith("…WXYZ")
    assert SECRET_PARTS[0] not in str(AuditEvent.objects.get(action="webhook.deleted").payload)


@pytest.mark.parametrize("kind", ["slack", "teams"])
def test_a_chat_delivery_goes_to_the_secret_url_unsigned_and_unlogged(settings, caplog, kind):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True  # the receiver listens on loopback
    project = make_project("shop")
    with ChatReceiver(kind) as receiver:
        create_webhook(project=project, url=receiver.url, description="", actor=SYSTEM, kind=kind)
        delivery = enqueue_webhooks(project, "snapshot.shutdown_alert", {}, message())[0]

        with caplog.at_level(logging.DEBUG):
            assert attempt_delivery(delivery.pk) is None

    assert "xoxSecretPart42" not in caplog.text

    got = receiver.received[0]
    assert got["path"] == "/services/T0SECRET/B0SECRET/xoxSecretPart42"
    assert got["problems"] == []
    assert not any(header.startswith("webhook-") for header in got["headers"])
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert delivery.response_status == (200 if kind == "slack" else 202)


def test_an_event_without_words_for_people_is_sent_to_signed_webhooks_only():
    project = make_project("shop")
    create_webhook(project=project, url=SLACK_URL, description="", actor=SYSTEM, kind="slack")
    create_webhook(project=project, url="https://hooks.example.com/in", description="", actor=SYSTEM)

    deliveries = enqueue_webhooks(project, "some.event", {"x": 1})

    assert [delivery.webhook.kind for delivery in deliveries] == ["signed"]


def test_slacks_refusal_is_retried_and_the_log_says_why(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    project = make_project("shop")
    with ChatReceiver("slack", answer=(410, b"channel_is_archived")) as receiver:
        create_webhook(project=project, url=receiver.url, description="", actor=SYSTEM, kind="slack")
        delivery = enqueue_webhooks(project, "snapshot.shutdown_alert", {}, message())[0]

        waits = [attempt_delivery(delivery.pk) for _ in range(WEBHOOK_MAX_ATTEMPTS)]

    assert waits[:2] == [30.0, 60.0] and waits[-1] is None
    assert len(receiver.received) == WEBHOOK_MAX_ATTEMPTS
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.last_error == "The endpoint answered HTTP 410: channel_is_archived."


def test_a_slow_chat_endpoint_is_given_up_on_within_the_attempt_deadline(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    settings.WEBHOOK_ATTEMPT_SECONDS = 0.5
    project = make_project("shop")

    def trickling():
        yield HEADERS
        for _ in range(60):
            yield b"x"

    with AnsweringReceiver(trickling, pause=0.1) as receiver:
        create_webhook(project=project, url=receiver.url, description="", actor=SYSTEM, kind="teams")
        delivery = enqueue_webhooks(project, "snapshot.shutdown_alert", {}, message())[0]
        assert attempt_delivery(delivery.pk) == 30.0

    delivery.refresh_from_db()
    assert delivery.last_error == "The endpoint did not answer within 0.5 s."


def test_an_error_that_quotes_the_url_shows_it_masked(caplog):
    project = make_project("shop")
    webhook, _ = create_webhook(project=project, url=SLACK_URL, description="", actor=SYSTEM, kind="slack")
    delivery = enqueue_webhooks(project, "snapshot.shutdown_alert", {}, message())[0]

    def quoting(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"could not reach {request.url}")

    with caplog.at_level(logging.DEBUG):
        attempt_delivery(delivery.pk, transport=httpx.MockTransport(quoting))

    delivery.refresh_from_db()
    assert delivery.last_error == f"could not reach {webhook.url}"
    assert SECRET_PARTS[0] not in caplog.text


CHAT_DESTINATIONS = [("slack", SLACK_URL, SECRET_PARTS[0]), ("teams", TEAMS_URL, SECRET_PARTS[1])]


@pytest.mark.parametrize(("kind", "url", "secret_part"), CHAT_DESTINATIONS)
def test_a_chat_url_is_kept_nowhere_in_plain_text(admin_client, caplog, tmp_path, kind, url, secret_part):
    """Not in the database, a log line, a page, the delivery log, the admin, an audit event or an export."""
    caplog.set_level(logging.DEBUG)
    added(admin_client, kind, url)
    delivery = enqueue_webhooks(Webhook.objects.get().project, "snapshot.shutdown_alert", {}, message())[0]
    attempt_delivery(delivery.pk, transport=httpx.MockTransport(lambda request: httpx.Response(500)))

    superuser = make_user("root", is_staff=True, is_superuser=True)
    seen = [every_row_as_text(), caplog.text, text_of(admin_client.get("/projects/shop/webhooks/"))]
    seen += every_page(superuser) + command_exports(tmp_path)
    seen += [text_of(admin_client.get(f"/admin/lifecycle/webhook/{delivery.webhook_id}/change/"))]

    everything = "\n".join(seen)
    assert Webhook.objects.get().url in everything  # the pages and rows really were about the destination
    assert secret_part not in everything
