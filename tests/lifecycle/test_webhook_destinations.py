"""Webhooks go to public endpoints: nobody can make our servers POST inside our own network."""

import ipaddress
import socket

import httpx
import pytest
from django.urls import reverse

from governance.lifecycle.destinations import PrivateDestinationError, refuse_private_destination
from governance.lifecycle.models import Webhook, WebhookDelivery
from governance.lifecycle.services import attempt_delivery, create_webhook
from governance.projects.models import Role
from tests.factories import SYSTEM, make_member, make_project
from tests.lifecycle.webhook_receiver import WebhookReceiver

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
    with pytest.raises(PrivateDestinationError, match="is not an allowed address"):
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
        reverse("lifecycle:webhooks", args=[project.slug]), {"url": "http://169.254.169.254/", "description": ""}
    )

    assert response.status_code == 400
    assert "169.254.169.254 is not an allowed address" in response.content.decode()
    assert "public endpoints only" in response.content.decode()
    assert not Webhook.objects.exists()


def test_the_webhook_page_does_not_say_what_a_refused_name_resolves_to(client, caplog):
    project = make_project()
    client.force_login(make_member(project, Role.ADMIN))

    response = client.post(
        reverse("lifecycle:webhooks", args=[project.slug]), {"url": "http://localhost:5432/", "description": ""}
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert "localhost is not an allowed address" in page
    assert "127.0.0.1" not in page and "::1" not in page  # the form is no DNS probe of our network
    assert any("localhost" in line and ("127.0.0.1" in line or "::1" in line) for line in caplog.messages)


def test_a_delivery_to_a_url_now_inside_the_network_is_not_sent(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    webhook, _ = create_webhook(project=make_project(), url="http://127.0.0.1:9/hook", description="", actor=SYSTEM)
    delivery = WebhookDelivery.objects.create(webhook=webhook, event_type="test", payload={"x": 1})
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    sent = []

    attempt_delivery(delivery.pk, transport=httpx.MockTransport(lambda request: sent.append(request)))

    delivery.refresh_from_db()
    assert sent == []
    assert "127.0.0.1 is not an allowed address" in delivery.last_error


def resolving(name: str, *answers: str):
    """A DNS that answers `name` with each of `answers` in turn (the last one from then on); others as usual."""
    real, asked = socket.getaddrinfo, []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != name:
            return real(host, port, *args, **kwargs)
        asked.append(host)
        return real(answers[min(len(asked), len(answers)) - 1], port, *args, **kwargs)

    return getaddrinfo


def delivery_to(url: str) -> WebhookDelivery:
    webhook, _ = create_webhook(project=make_project(), url=url, description="", actor=SYSTEM)
    return WebhookDelivery.objects.create(webhook=webhook, event_type="test", payload={"x": 1})


def test_a_name_that_turns_private_between_the_check_and_the_connection_reaches_nothing(monkeypatch):
    with WebhookReceiver() as inside:
        port = inside.server.server_address[1]
        # Public when the webhook is saved and when the delivery is checked; loopback when it connects.
        monkeypatch.setattr(
            socket, "getaddrinfo", resolving("rebind.example", "93.184.215.14", "93.184.215.14", "127.0.0.1")
        )
        delivery = delivery_to(f"http://rebind.example:{port}/hooks/lifecycle")

        attempt_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert inside.received == []
    assert "rebind.example is not an allowed address" in delivery.last_error
    assert "127.0.0.1" not in delivery.last_error  # the delivery log is no DNS probe either


@pytest.mark.parametrize(
    "proxy_settings",
    [{"NO_PROXY": "localhost"}, {"HTTP_PROXY": "http://proxy.invalid:3128"}],
    ids=["only NO_PROXY", "a proxy for http only"],
)
def test_proxy_settings_that_carry_no_delivery_leave_the_rebinding_check_in_place(monkeypatch, proxy_settings):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in proxy_settings.items():
        monkeypatch.setenv(name, value)
    with WebhookReceiver() as inside:
        port = inside.server.server_address[1]
        monkeypatch.setattr(
            socket, "getaddrinfo", resolving("rebind.example", "93.184.215.14", "93.184.215.14", "127.0.0.1")
        )
        scheme = "https" if "HTTP_PROXY" in proxy_settings else "http"
        delivery = delivery_to(f"{scheme}://rebind.example:{port}/hooks/lifecycle")

        attempt_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert inside.received == []
    assert "rebind.example is not an allowed address" in delivery.last_error
    assert "127.0.0.1" not in delivery.last_error  # the delivery log is no DNS probe either


def test_a_delivery_goes_through_the_proxy_the_environment_names_for_its_scheme(monkeypatch):
    with WebhookReceiver() as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server.server_address[1]}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        delivery = delivery_to("http://93.184.215.14/hooks/lifecycle")

        attempt_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert proxy.received[0]["headers"]["host"] == "93.184.215.14"


def test_a_delivery_connects_to_the_checked_address_and_still_names_the_host(monkeypatch):
    monkeypatch.setattr(ipaddress.IPv4Address, "is_global", property(lambda address: True))  # as if on the internet
    with WebhookReceiver() as receiver:
        port = receiver.server.server_address[1]
        monkeypatch.setattr(socket, "getaddrinfo", resolving("hooks.example", "127.0.0.1"))
        delivery = delivery_to(f"http://hooks.example:{port}/hooks/lifecycle")

        attempt_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert receiver.received[0]["headers"]["host"] == f"hooks.example:{port}"
