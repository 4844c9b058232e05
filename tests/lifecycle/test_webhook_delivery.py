"""Webhook deliveries: signed in the Standard Webhooks style, retried with backoff, and logged."""

import base64
import datetime as dt
import hashlib
import hmac
import json

import httpx
import pytest
import time_machine

from governance.lifecycle import signing
from governance.lifecycle.models import WebhookDelivery
from governance.lifecycle.services import (
    WEBHOOK_MAX_ATTEMPTS,
    attempt_delivery,
    create_webhook,
    enqueue_webhooks,
    webhook_backoff,
)
from tests.factories import SYSTEM, make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def webhook():
    project = make_project("shop")
    webhook, secret = create_webhook(project=project, url="https://hooks.example.com/in", description="", actor=SYSTEM)
    return webhook, secret


def queued(webhook) -> WebhookDelivery:
    return enqueue_webhooks(webhook.project, "snapshot.shutdown_alert", {"snapshot": "sora-2-2025-10-06"})[0]


def test_a_delivery_is_signed_over_id_timestamp_and_body(webhook):
    hook, secret = webhook
    delivery = queued(hook)
    seen = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    with time_machine.travel(dt.datetime(2027, 1, 1, tzinfo=dt.UTC), tick=False):
        assert attempt_delivery(delivery.pk, transport=httpx.MockTransport(endpoint)) is None

    request = seen[0]
    assert request.headers["webhook-id"] == delivery.message_id
    assert request.headers["webhook-timestamp"] == str(int(dt.datetime(2027, 1, 1, tzinfo=dt.UTC).timestamp()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{delivery.message_id}.{request.headers['webhook-timestamp']}.".encode() + request.content
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert request.headers["webhook-signature"] == expected
    assert json.loads(request.content)["type"] == "snapshot.shutdown_alert"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 1, 204)


def test_a_failing_endpoint_is_retried_with_backoff_then_given_up(webhook):
    hook, _ = webhook
    delivery = queued(hook)
    failing = httpx.MockTransport(lambda request: httpx.Response(503))

    waits = [attempt_delivery(delivery.pk, transport=failing) for _ in range(WEBHOOK_MAX_ATTEMPTS)]

    assert waits == [webhook_backoff(n) for n in range(1, WEBHOOK_MAX_ATTEMPTS)] + [None]
    assert waits[:3] == [30.0, 60.0, 120.0]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", WEBHOOK_MAX_ATTEMPTS)
    assert delivery.last_error == "The endpoint answered HTTP 503."
    assert attempt_delivery(delivery.pk, transport=failing) is None  # a failed delivery is not tried again


def test_an_unreachable_endpoint_is_retried(webhook):
    hook, _ = webhook
    delivery = queued(hook)

    def unreachable(request):
        raise httpx.ConnectError("connection refused")

    assert attempt_delivery(delivery.pk, transport=httpx.MockTransport(unreachable)) == 30.0
    delivery.refresh_from_db()
    assert delivery.status == "pending" and "connection refused" in delivery.last_error
    assert delivery.next_attempt_at is not None


def test_the_secret_is_stored_encrypted_and_survives_a_secret_key_rotation(webhook, settings):
    hook, secret = webhook
    assert secret not in hook.encrypted_secret
    assert signing.decrypt_secret(hook.encrypted_secret) == secret

    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key"
    assert signing.decrypt_secret(hook.encrypted_secret) == secret


def test_a_secret_encrypted_under_a_forgotten_key_fails_the_delivery_clearly(webhook, settings):
    hook, _ = webhook
    delivery = queued(hook)
    settings.SECRET_KEY = "another-key-entirely"
    attempt_delivery(delivery.pk, transport=httpx.MockTransport(lambda request: httpx.Response(200)))
    delivery.refresh_from_db()
    assert delivery.status == "pending" and "SECRET_KEY" in delivery.last_error


def test_a_delivery_whose_message_was_lost_is_enqueued_again(webhook, monkeypatch):
    from governance.lifecycle import services

    hook, _ = webhook
    delivery = queued(hook)
    enqueued = []
    monkeypatch.setattr(services, "enqueue_delivery", lambda pk, countdown=0: enqueued.append(pk))
    assert services.retry_due_deliveries() == 0  # just created: its message is on its way
    assert services.retry_due_deliveries(now=delivery.created_at + dt.timedelta(minutes=6)) == 1
    assert enqueued == [delivery.pk]
