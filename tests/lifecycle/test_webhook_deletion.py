"""Deleting a webhook stops its deliveries and wipes its secret, but keeps the record of what was sent."""

import datetime as dt

import httpx
import pytest

from governance.audit.models import AuditEvent
from governance.lifecycle import services
from governance.lifecycle.models import Webhook, WebhookDelivery
from governance.lifecycle.services import attempt_delivery, create_webhook, delete_webhook, enqueue_webhooks
from tests.factories import SYSTEM, make_project

pytestmark = pytest.mark.django_db

ANSWERS_204 = httpx.MockTransport(lambda request: httpx.Response(204))


@pytest.fixture
def webhook() -> Webhook:
    project = make_project("shop")
    webhook, _ = create_webhook(project=project, url="https://hooks.example.com/in", description="ops", actor=SYSTEM)
    return webhook


def queued(webhook: Webhook) -> WebhookDelivery:
    return enqueue_webhooks(webhook.project, "snapshot.shutdown_alert", {"snapshot": "sora-2-2025-10-06"})[0]


def test_deleting_a_webhook_keeps_its_delivery_log(webhook):
    delivered = queued(webhook)
    attempt_delivery(delivered.pk, transport=ANSWERS_204)

    delete_webhook(webhook=webhook, actor=SYSTEM)

    delivered.refresh_from_db()
    assert delivered.status == WebhookDelivery.Status.DELIVERED and delivered.response_status == 204
    assert delivered.webhook.url == "https://hooks.example.com/in" and delivered.webhook.is_deleted
    assert not Webhook.objects.active().exists()
    event = AuditEvent.objects.get(action="webhook.deleted")
    assert event.payload["url"] == "https://hooks.example.com/in"


def test_deleting_a_webhook_wipes_its_secret(webhook):
    delete_webhook(webhook=webhook, actor=SYSTEM)
    assert Webhook.objects.get(pk=webhook.pk).encrypted_secret == ""


def test_a_deleted_webhooks_waiting_deliveries_are_cancelled_and_never_sent(webhook):
    waiting = queued(webhook)
    delete_webhook(webhook=webhook, actor=SYSTEM)
    sent = []

    assert attempt_delivery(waiting.pk, transport=httpx.MockTransport(sent.append)) is None
    assert services.retry_due_deliveries(now=waiting.created_at + dt.timedelta(hours=1)) == 0

    waiting.refresh_from_db()
    assert sent == []
    assert waiting.status == WebhookDelivery.Status.CANCELLED
    assert waiting.last_error == "Not sent: the webhook was deleted."
    assert AuditEvent.objects.get(action="webhook.deleted").payload["cancelled_deliveries"] == 1


def test_a_deleted_webhook_receives_no_new_events(webhook):
    delete_webhook(webhook=webhook, actor=SYSTEM)
    assert enqueue_webhooks(webhook.project, "snapshot.shutdown_alert", {}) == []


def test_deleting_twice_is_audited_once(webhook):
    delete_webhook(webhook=webhook, actor=SYSTEM)
    delete_webhook(webhook=Webhook.objects.get(pk=webhook.pk), actor=SYSTEM)
    assert AuditEvent.objects.filter(action="webhook.deleted").count() == 1
