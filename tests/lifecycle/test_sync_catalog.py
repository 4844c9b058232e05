"""Provider sync against the simulator's GET /v1/models over real HTTP."""

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command

from governance.audit.models import AuditEvent
from governance.catalog.models import Provider, Snapshot
from governance.catalog.sync import review_snapshot, sync_provider
from governance.lifecycle.models import WebhookDelivery
from governance.lifecycle.services import create_webhook
from governance.notifications.models import Notification
from governance.simulator.models import SimulatedModelListing
from tests.factories import (
    NEW,
    OLD,
    SYSTEM,
    make_environment,
    make_member,
    make_project,
    make_user,
    revise,
    simulator_provider,
)
from tests.lifecycle.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def simulator_over_http(live_server, settings):
    settings.SIMULATOR_BASE_URL = live_server.url + "/simulator/v1"
    settings.SIMULATOR_ENABLED = True
    return simulator_provider()


@time_machine.travel(dt.datetime(2027, 1, 10, 12, tzinfo=dt.UTC), tick=False)
def test_a_newly_announced_shutdown_date_reaches_the_catalog_the_environments_and_the_webhook(
    simulator_over_http, eager_tasks, settings
):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True  # the test's receiver listens on loopback
    project = make_project("shop")
    member = make_member(project, user=make_user(email="dev@example.com"))
    production = make_environment(project, "production", default_model=OLD, allowed_snapshots=[OLD])
    make_environment(project, "development", default_model=NEW, allowed_snapshots=[NEW])
    SimulatedModelListing.objects.create(name=OLD, shutdown_date=dt.date(2027, 3, 1))

    with WebhookReceiver() as receiver:
        _, receiver.secret = create_webhook(project=project, url=receiver.url, description="ops", actor=SYSTEM)
        call_command("sync_catalog", "simulator", stdout=open("/dev/null", "w"))

    snapshot = Snapshot.objects.get(provider=simulator_over_http, name=OLD)
    assert snapshot.shutdown_on == dt.date(2027, 3, 1)
    assert snapshot.deprecated_on == dt.date(2027, 1, 10)
    event = AuditEvent.objects.get(action="snapshot.shutdown_date_changed")
    assert event.payload["to"] == "2027-03-01" and event.payload["from"] is None

    announced = Notification.objects.get(recipient=member, kind="lifecycle.shutdown_announced")
    assert "Production" in announced.title and "2027-03-01" in announced.title
    assert announced.url == "/projects/shop/migrations/new/?environment=production"
    assert any("2027-03-01" in message.subject for message in mail.outbox)

    types = [hook["payload"]["type"] for hook in receiver.received]
    assert "snapshot.shutdown_date_changed" in types
    assert "snapshot.shutdown_alert" in types  # 50 days away: the 60-day alert fires at once
    assert all(hook["verified"] for hook in receiver.received)
    changed = next(h for h in receiver.received if h["payload"]["type"] == "snapshot.shutdown_date_changed")
    assert changed["payload"]["data"]["environment"] == "production"
    assert changed["payload"]["data"]["shutdown_date"] == "2027-03-01"
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {WebhookDelivery.Status.DELIVERED}
    assert production.shutdown_alerts.get().threshold_days == 60
    assert not project.environments.get(name="development").shutdown_alerts.exists()


def test_a_new_model_waits_for_review_before_any_policy_may_use_it(simulator_over_http):
    SimulatedModelListing.objects.create(name="sora-3-2027-01-05", released_on=dt.date(2027, 1, 5))
    environment = make_environment(make_project())
    site_admin = make_user(is_superuser=True)

    result = sync_provider(simulator_over_http, actor=SYSTEM)

    assert result.ok and result.discovered == ["sora-3-2027-01-05"]
    discovered = Snapshot.objects.get(name="sora-3-2027-01-05")
    assert not discovered.reviewed and discovered.family == "sora-3"
    assert AuditEvent.objects.filter(action="snapshot.discovered").count() == 1
    assert "sora-3-2027-01-05" in Notification.objects.get(recipient=site_admin).title
    with pytest.raises(ValidationError, match="review"):
        revise(environment, allowed_snapshots=[OLD, "sora-3-2027-01-05"])

    review_snapshot(discovered, actor=SYSTEM)
    revise(environment, allowed_snapshots=[OLD, "sora-3-2027-01-05"])
    assert AuditEvent.objects.filter(action="snapshot.reviewed").count() == 1


def test_a_second_sync_with_nothing_new_changes_nothing(simulator_over_http):
    sync_provider(simulator_over_http, actor=SYSTEM)
    before = AuditEvent.objects.count()

    result = sync_provider(simulator_over_http, actor=SYSTEM)

    assert result.ok and not result.changed
    assert AuditEvent.objects.count() == before


def test_a_provider_that_is_down_changes_nothing_and_is_reported(db, settings):
    settings.SIMULATOR_BASE_URL = "http://127.0.0.1:9/simulator/v1"  # nothing listens on the discard port
    provider = simulator_provider()
    before = list(Snapshot.objects.values_list("name", "shutdown_on"))

    result = sync_provider(provider, actor=SYSTEM)

    assert not result.ok and "could not be reached" in result.message
    assert list(Snapshot.objects.values_list("name", "shutdown_on")) == before
    provider.refresh_from_db()
    assert provider.last_sync_ok is False and "could not be reached" in provider.last_sync_message
    assert AuditEvent.objects.get(action="catalog.sync_failed").payload["provider"] == "simulator"


@pytest.mark.parametrize(
    "answer",
    [
        b"<html>maintenance</html>",
        b'{"data": "soon"}',
        b'{"data": [{"id": "sora-2-2025-10-06", "shutdown_date": "next spring"}]}',
        b'{"data": [{"id": "sora-2-2025-10-06", "shutdown_date": "2027-03-01"}, {"object": "model"}]}',
    ],
)
def test_a_provider_answering_garbage_changes_nothing_and_is_reported(db, answer):
    import httpx

    provider = simulator_provider()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=answer))

    result = sync_provider(provider, actor=SYSTEM, transport=transport)

    assert not result.ok
    assert not Snapshot.objects.filter(shutdown_on__isnull=False).exists()
    assert Provider.objects.get(pk=provider.pk).last_sync_ok is False
    assert AuditEvent.objects.filter(action="catalog.sync_failed").count() == 1


@pytest.fixture
def openai_without_key(db, monkeypatch) -> Provider:
    from governance.catalog.services import load_pack, read_pack

    load_pack(read_pack("openai-sora-2"), actor=SYSTEM)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return Provider.objects.get(slug="openai")


def test_a_provider_whose_key_is_not_set_is_not_called(openai_without_key):
    import httpx

    called = []
    result = sync_provider(openai_without_key, actor=SYSTEM, transport=httpx.MockTransport(called.append))

    assert called == []
    assert not result.ok and result.not_synced
    assert result.message == "Not synced: set OPENAI_API_KEY to sync."


def test_a_provider_whose_key_is_not_set_has_not_failed(openai_without_key):
    sync_provider(openai_without_key, actor=SYSTEM)

    openai_without_key.refresh_from_db()
    assert openai_without_key.sync_state == "not_synced"
    assert openai_without_key.last_sync_ok is None
    assert openai_without_key.last_sync_message == "Not synced: set OPENAI_API_KEY to sync."
    assert not AuditEvent.objects.filter(action="catalog.sync_failed").exists()


def test_the_simulator_not_served_here_is_not_synced_rather_than_failed(db, settings):
    settings.SIMULATOR_ENABLED = False

    result = sync_provider(simulator_provider(), actor=SYSTEM)

    assert result.state == "not_synced" and "set SIMULATOR_ENABLED=1 to sync" in result.message
    assert Provider.objects.get(slug="simulator").sync_state == "not_synced"


def test_the_command_says_a_provider_without_its_key_was_not_synced_and_succeeds(openai_without_key):
    import io

    out = io.StringIO()
    call_command("sync_catalog", "openai", stdout=out)

    assert "openai: not synced — set OPENAI_API_KEY to sync." in out.getvalue()
    assert "FAILED" not in out.getvalue()


def test_the_beat_task_reports_a_provider_without_its_key_as_not_synced(openai_without_key, simulator_over_http):
    from governance.lifecycle.tasks import sync_catalog

    results = {result["provider"]: result for result in sync_catalog()}

    assert results["openai"]["state"] == "not_synced"
    assert results["simulator"]["state"] == "synced"


def test_the_command_reports_a_failed_provider_and_exits_with_an_error(db, settings):
    from django.core.management.base import CommandError

    settings.SIMULATOR_BASE_URL = "http://127.0.0.1:9/simulator/v1"
    simulator_provider()
    with pytest.raises(CommandError, match="could not be synced"):
        call_command("sync_catalog", "simulator", stdout=open("/dev/null", "w"))
    with pytest.raises(CommandError, match="No provider"):
        call_command("sync_catalog", "nowhere")
