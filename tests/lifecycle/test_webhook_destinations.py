"""Webhooks go to public endpoints: nobody can make our servers POST inside our own network."""

import httpx
import pytest
from django.urls import reverse

from governance.lifecycle.destinations import PrivateDestinationError, refuse_private_destination
from governance.lifecycle.models import Webhook, WebhookDelivery
from governance.lifecycle.services import attempt_delivery, create_webhook
from governance.projects.models import Role
from tests.factories import SYSTEM, make_member, make_project

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379/",
        "http://localhost:5432/",
        "http://10.0.0.5/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8000/",
    ],
)
def test_addresses_inside_a_private_network_are_refused(url):
    with pytest.raises(PrivateDestinationError, match="private network"):
        refuse_private_destination(url)


def test_a_public_address_is_allowed():
    refuse_private_destination("https://93.184.215.14/hook")


def test_the_operator_may_allow_private_networks(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    refuse_private_destination("http://127.0.0.1:9000/hook")


def test_the_webhook_page_says_why_an_inside_address_is_refused_and_saves_nothing(client):
    project = make_project()
    client.force_login(make_member(project, Role.ADMIN))

    response = client.post(
        reverse("dashboard:webhooks", args=[project.slug]), {"url": "http://169.254.169.254/", "description": ""}
    )

    assert response.status_code == 400
    assert "an address inside a private network" in response.content.decode()
    assert not Webhook.objects.exists()


def test_a_delivery_to_a_url_now_inside_the_network_is_not_sent(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    webhook, _ = create_webhook(project=make_project(), url="http://127.0.0.1:9/hook", description="", actor=SYSTEM)
    delivery = WebhookDelivery.objects.create(webhook=webhook, event_type="test", payload={"x": 1})
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    sent = []

    attempt_delivery(delivery.pk, transport=httpx.MockTransport(lambda request: sent.append(request)))

    delivery.refresh_from_db()
    assert sent == []
    assert "private network" in delivery.last_error
