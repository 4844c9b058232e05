"""Lifecycle pages: shutdown impact, webhooks with the secret shown once, snapshot review, sync status."""

import datetime as dt
import logging

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from governance.audit.models import AuditEvent
from governance.catalog.models import Provider, Snapshot
from governance.lifecycle.models import Webhook, WebhookDelivery
from governance.lifecycle.services import raise_shutdown_alerts
from governance.projects.models import AUDITOR_GROUP, Role
from tests.dashboard.builders import make_generation
from tests.factories import NEW, OLD, make_environment, make_member, make_project, make_user, simulator_provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    project = make_project("shop", name="Shop")
    production = make_environment(project, "production", default_model=OLD, allowed_snapshots=[OLD])
    make_environment(project, "development", default_model=NEW, allowed_snapshots=[NEW])
    Snapshot.objects.filter(provider=simulator_provider(), name=OLD).update(
        deprecated_on=dt.date(2020, 1, 1),
        shutdown_on=dt.date.today() + dt.timedelta(days=20),
        replacement=Snapshot.objects.get(provider=simulator_provider(), name=NEW),
    )
    return project, production


PAGES_WITH_A_PLAN_LINK = [
    ("lifecycle:impact", []),
    ("dashboard:overview", []),
    ("dashboard:project_detail", ["shop"]),
]


def make_auditor():
    user = make_user()
    user.groups.add(Group.objects.get_or_create(name=AUDITOR_GROUP)[0])
    return user


def signed_in(client, project, role):
    client.force_login(make_member(project, role))
    return client


def test_the_impact_view_lists_dependent_environments_with_30_days_of_generations(client, shop):
    project, production = shop
    now = dt.datetime.now(dt.UTC)
    for days_ago in (1, 5, 40):
        make_generation(production, resolved_snapshot=OLD, created_at=now - dt.timedelta(days=days_ago))
    page = signed_in(client, project, Role.DEVELOPER).get(reverse("lifecycle:impact")).content.decode()

    row = page[page.index('data-environment="shop/production"') :]
    row = row[: row.index("</tr>")]
    assert "pinned" in row and "<td>2</td>" in row
    assert f'href="/projects/shop/migrations/new/?environment=production&amp;to={NEW}"' in row
    assert 'data-environment="shop/development"' not in page


@pytest.mark.parametrize("role", [Role.VIEWER, "auditor"])
def test_who_may_not_plan_a_migration_is_told_whom_to_ask_instead_of_a_button(client, shop, role):
    project, _ = shop
    make_member(project, Role.ADMIN, user=make_user("alice"))
    raise_shutdown_alerts()
    if role == "auditor":
        client.force_login(make_auditor())
    else:
        signed_in(client, project, role)

    pages = [client.get(reverse(name, args=args)).content.decode() for name, args in PAGES_WITH_A_PLAN_LINK]

    for page in pages:
        assert "/migrations/new/" not in page
        assert "Planning a migration needs the developer role in Shop: ask its admin (alice)." in page
        assert "plan the migrations" not in page
    for page in with_the_banner(pages):
        assert "See the impact</a>" in page


@pytest.mark.parametrize("role", [Role.DEVELOPER, Role.APPROVER, Role.ADMIN])
def test_developers_and_above_get_the_plan_links(client, shop, role):
    project, _ = shop
    raise_shutdown_alerts()
    signed_in(client, project, role)

    pages = [client.get(reverse(name, args=args)).content.decode() for name, args in PAGES_WITH_A_PLAN_LINK]

    for page in pages:
        assert "/projects/shop/migrations/new/?environment=production" in page
        assert "needs the developer role" not in page
    for page in with_the_banner(pages):
        assert "See the impact and plan the migrations" in page


def with_the_banner(pages: list[str]) -> list[str]:
    """The pages that show the site-wide banner: the overview's own box names the environment instead."""
    names = [name for name, _ in PAGES_WITH_A_PLAN_LINK]
    overview = pages[names.index("dashboard:overview")]
    assert "lifecycle-banner" not in overview and 'id="problems-heading"' in overview
    return [page for name, page in zip(names, pages, strict=True) if name != "dashboard:overview"]


def test_a_project_without_admins_sends_the_user_to_a_site_admin(client, shop):
    project, _ = shop
    raise_shutdown_alerts()
    page = signed_in(client, project, Role.VIEWER).get(reverse("lifecycle:impact")).content.decode()
    assert "Planning a migration needs the developer role in Shop: ask a site admin." in page


def test_the_impact_view_shows_only_the_users_projects(client, shop):
    other = make_project("other")
    client.force_login(make_member(other, Role.ADMIN))
    page = client.get(reverse("lifecycle:impact")).content.decode()
    assert "shop/production" not in page


def test_the_impact_of_a_family(client, shop):
    project, _ = shop
    page = signed_in(client, project, Role.VIEWER).get(reverse("lifecycle:impact"), {"family": "sora-2"})
    assert page.status_code == 200
    assert 'data-environment="shop/development"' in page.content.decode()  # NEW is in the family too


def test_an_open_alert_shows_in_the_banner_the_overview_and_the_project_page(client, shop):
    project, _ = shop
    raise_shutdown_alerts()
    client = signed_in(client, project, Role.VIEWER)
    overview = client.get(reverse("dashboard:overview")).content.decode()
    assert "1 environment needs attention" in overview
    assert 'data-testid="shutdown-badge">≤ 30 days' in overview
    elsewhere = client.get(reverse("dashboard:generation_list")).content.decode()
    assert "1 environment of yours depends on snapshots that are shutting down" in elsewhere
    project_page = client.get(reverse("dashboard:project_detail", args=["shop"])).content.decode()
    assert f"Migrate to its replacement {NEW}" in project_page
    assert "This environment&#x27;s policy pins it." in project_page


def test_an_alert_stops_showing_once_the_environment_moved_away(client, shop):
    from tests.factories import revise

    project, production = shop
    raise_shutdown_alerts()
    revise(production, default_model=NEW, allowed_snapshots=[NEW])
    overview = signed_in(client, project, Role.VIEWER).get(reverse("dashboard:overview")).content.decode()
    assert "shutdown-badge" not in overview


def test_an_admin_adds_a_webhook_and_sees_its_secret_once(client, shop, caplog):
    project, _ = shop
    client = signed_in(client, project, Role.ADMIN)
    with caplog.at_level(logging.DEBUG):
        response = client.post(
            reverse("lifecycle:webhooks", args=["shop"]), {"url": "https://hooks.example.com/a", "description": "ops"}
        )
    page = response.content.decode()
    secret = page[page.index("whsec_") :].split("<", 1)[0]
    assert response.status_code == 200 and len(secret) > 30
    webhook = Webhook.objects.get()
    assert secret not in webhook.encrypted_secret and "whsec_" not in webhook.encrypted_secret
    assert secret not in caplog.text
    assert secret not in str(AuditEvent.objects.get(action="webhook.created").payload)
    again = client.get(reverse("lifecycle:webhooks", args=["shop"])).content.decode()
    assert secret not in again and "https://hooks.example.com/a" in again


def test_a_bad_webhook_url_is_refused_readably(client, shop):
    project, _ = shop
    response = signed_in(client, project, Role.ADMIN).post(reverse("lifecycle:webhooks", args=["shop"]), {"url": "x"})
    assert response.status_code == 400 and "Enter a valid URL" in response.content.decode()
    assert not Webhook.objects.exists()


def test_the_delivery_log_and_deleting_a_webhook(client, shop):
    project, _ = shop
    client = signed_in(client, project, Role.ADMIN)
    client.post(reverse("lifecycle:webhooks", args=["shop"]), {"url": "https://hooks.example.com/a"})
    raise_shutdown_alerts()
    page = client.get(reverse("lifecycle:webhooks", args=["shop"])).content.decode()
    assert "snapshot.shutdown_alert" in page and "Pending" in page

    webhook = Webhook.objects.get()
    response = client.post(reverse("lifecycle:webhook_delete", args=["shop", webhook.pk]))
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="webhook.deleted").count() == 1
    page = client.get(reverse("lifecycle:webhooks", args=["shop"])).content.decode()
    assert "No webhooks yet." in page and "Delete webhook" not in page
    assert "snapshot.shutdown_alert" in page and "https://hooks.example.com/a" in page
    assert "deleted webhook" in page and "Cancelled" in page
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {WebhookDelivery.Status.CANCELLED}
    assert client.post(reverse("lifecycle:webhook_delete", args=["shop", webhook.pk])).status_code == 404


def test_a_developer_may_not_manage_webhooks(client, shop):
    project, _ = shop
    response = signed_in(client, project, Role.DEVELOPER).post(
        reverse("lifecycle:webhooks", args=["shop"]), {"url": "https://hooks.example.com/a"}
    )
    assert response.status_code == 403 and not Webhook.objects.exists()


def test_a_site_admin_reviews_a_discovered_snapshot_from_the_catalog(client):
    provider = simulator_provider()
    discovered = Snapshot.objects.create(provider=provider, name="sora-3-2027-01-05", family="sora-3", reviewed=False)
    client.force_login(make_user(is_superuser=True, is_staff=True))
    page = client.get(reverse("catalog:catalog")).content.decode()
    assert "Awaiting review" in page and "Mark reviewed" in page

    client.post(reverse("lifecycle:snapshot_review", args=[discovered.pk]))
    discovered.refresh_from_db()
    assert discovered.reviewed
    assert AuditEvent.objects.filter(action="snapshot.reviewed").count() == 1


def test_others_may_not_review_snapshots(client):
    discovered = Snapshot.objects.create(provider=simulator_provider(), name="sora-3", family="sora-3", reviewed=False)
    client.force_login(make_user())
    assert "Mark reviewed" not in client.get(reverse("catalog:catalog")).content.decode()
    assert client.post(reverse("lifecycle:snapshot_review", args=[discovered.pk])).status_code == 403
    discovered.refresh_from_db()
    assert not discovered.reviewed


def test_a_failed_sync_is_visible_on_the_catalog(client):
    provider = simulator_provider()
    Provider.objects.filter(pk=provider.pk).update(
        last_synced_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        last_sync_ok=False,
        last_sync_message="Built-in simulator answered GET /models with HTTP 503.",
    )
    client.force_login(make_user())
    page = client.get(reverse("catalog:catalog")).content.decode()
    assert "Last sync failed" in page and "HTTP 503" in page and "nothing was changed" in page


def test_a_provider_without_its_key_shows_as_not_synced_not_failed(client, monkeypatch):
    from governance.audit.services import Actor
    from governance.catalog.services import load_pack, read_pack
    from governance.catalog.sync import sync_provider

    load_pack(read_pack("openai-sora-2"), actor=Actor.system("tests"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    sync_provider(Provider.objects.get(slug="openai"), actor=Actor.system("tests"))

    client.force_login(make_user())
    page = client.get(reverse("catalog:catalog")).content.decode()
    assert "Not synced: set OPENAI_API_KEY to sync." in page
    assert "Last sync failed" not in page and "alert-danger" not in page


def test_sending_the_add_webhook_form_again_adds_no_second_endpoint(client, shop):
    """Reloading the page that showed the secret resends the form; a second endpoint would get every event twice."""
    project, _ = shop
    client = signed_in(client, project, Role.ADMIN)
    url = reverse("lifecycle:webhooks", args=["shop"])
    token = client.get(url).content.decode().split('name="form_token" value="')[1].split('"')[0]
    sent = {"url": "https://hooks.example.com/a", "description": "ops", "form_token": token}
    first = client.post(url, sent).content.decode()
    secret = first[first.index("whsec_") :].split("<", 1)[0]

    again = client.post(url, sent, follow=True)

    page = again.content.decode()
    assert Webhook.objects.active().count() == 1
    assert again.status_code == 200 and secret not in page and "whsec_" not in page
    assert "already added when this form was first sent" in page
    assert page.count('name="form_token"') == 1 and token not in page


def test_a_refused_webhook_form_can_be_corrected_and_sent_again(client, shop):
    project, _ = shop
    client = signed_in(client, project, Role.ADMIN)
    url = reverse("lifecycle:webhooks", args=["shop"])
    token = client.get(url).content.decode().split('name="form_token" value="')[1].split('"')[0]

    refused = client.post(url, {"url": "http://169.254.169.254/", "description": "", "form_token": token})
    corrected = client.post(url, {"url": "https://hooks.example.com/a", "description": "", "form_token": token})

    assert refused.status_code == 400
    assert corrected.status_code == 200 and "whsec_" in corrected.content.decode()
    assert Webhook.objects.active().count() == 1
