"""A provider moves a shutdown date: users hear that it moved, then every threshold for the new date once."""

import datetime as dt

import httpx
import pytest
import time_machine

from governance.audit.models import AuditEvent
from governance.catalog.models import Snapshot
from governance.catalog.services import load_pack, read_pack
from governance.catalog.sync import sync_provider
from governance.lifecycle.models import WebhookDelivery
from governance.lifecycle.selectors import open_alerts
from governance.lifecycle.services import create_webhook, raise_shutdown_alerts
from governance.notifications.models import Notification
from tests.factories import NEW, OLD, SYSTEM, make_environment, make_member, make_project, make_user, simulator_provider

FIRST = dt.date(2027, 6, 1)
MOVED = dt.date(2027, 5, 10)


def at(day: dt.date) -> time_machine.travel:
    return time_machine.travel(dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC), tick=False)


def provider_lists(shutdown_on: dt.date) -> httpx.MockTransport:
    """The provider's GET /v1/models, announcing `shutdown_on` for the old snapshot."""
    body = {"data": [{"id": OLD, "shutdown_date": shutdown_on.isoformat()}, {"id": NEW}]}
    return httpx.MockTransport(lambda request: httpx.Response(200, json=body))


@pytest.fixture
def shop(db):
    project = make_project("shop")
    lead = make_member(project, user=make_user(email="lead@example.com"))
    production = make_environment(project, "production", default_model=OLD, allowed_snapshots=[OLD])
    Snapshot.objects.filter(provider__slug="simulator", name=OLD).update(shutdown_on=FIRST)
    return project, lead, production


def fired(day: dt.date) -> list[tuple[int, dt.date]]:
    with at(day):
        return [(alert.threshold_days, alert.shutdown_on) for alert in raise_shutdown_alerts()]


def test_thresholds_already_fired_for_the_old_date_fire_again_for_the_new_one(shop):
    _, lead, production = shop
    today = FIRST - dt.timedelta(days=30)
    assert fired(today) == [(30, FIRST)]

    with at(today):
        sync_provider(simulator_provider(), actor=SYSTEM, transport=provider_lists(MOVED))

    # 9 days to the new date: "within 30 days" again, for the new date, raised by the sync itself
    assert list(production.shutdown_alerts.values_list("threshold_days", "shutdown_on")) == [(30, MOVED), (30, FIRST)]
    assert fired(today) == []
    assert fired(MOVED - dt.timedelta(days=7)) == [(7, MOVED)]
    assert fired(MOVED) == [(0, MOVED)]
    assert fired(FIRST) == []  # the old date's day passes without a word
    alerts = Notification.objects.filter(recipient=lead, kind="lifecycle.shutdown_alert")
    titles = list(alerts.values_list("title", flat=True))
    assert titles.count(f"Shop / Production: {OLD} shuts down within 30 days (2027-05-10)") == 1
    assert f"Shop / Production: {OLD} has shut down (2027-05-10)" in titles
    assert production.shutdown_alerts.filter(shutdown_on=MOVED).count() == 3


def test_the_move_is_announced_with_both_dates_and_stays_audited(shop):
    project, lead, _ = shop
    create_webhook(project=project, url="https://hooks.example.com/x", description="", actor=SYSTEM)
    with at(FIRST - dt.timedelta(days=30)):
        sync_provider(simulator_provider(), actor=SYSTEM, transport=provider_lists(MOVED))

    announced = Notification.objects.get(recipient=lead, kind="lifecycle.shutdown_announced")
    assert announced.title == f"Shop / Production: {OLD} now shuts down on 2027-05-10 (was 2027-06-01)"
    event = AuditEvent.objects.get(action="snapshot.shutdown_date_changed")
    assert (event.payload["from"], event.payload["to"]) == ("2027-06-01", "2027-05-10")
    delivery = WebhookDelivery.objects.get(event_type="snapshot.shutdown_date_changed")
    assert delivery.payload["data"]["shutdown_date"] == "2027-05-10"
    assert delivery.payload["data"]["previous_shutdown_date"] == "2027-06-01"


def test_a_first_announcement_names_only_its_date(shop):
    _, lead, _ = shop
    Snapshot.objects.filter(name=OLD).update(shutdown_on=None)
    with at(FIRST - dt.timedelta(days=30)):
        sync_provider(simulator_provider(), actor=SYSTEM, transport=provider_lists(MOVED))

    announced = Notification.objects.get(recipient=lead, kind="lifecycle.shutdown_announced")
    assert announced.title == f"Shop / Production: {OLD} shuts down on 2027-05-10"


def test_a_catalog_pack_that_moves_the_date_is_announced_and_alerts_again(shop):
    _, lead, production = shop
    today = FIRST - dt.timedelta(days=30)
    assert fired(today) == [(30, FIRST)]
    pack = read_pack("simulator")
    next(entry for entry in pack["snapshots"] if entry["name"] == OLD)["shutdown_on"] = MOVED.isoformat()

    with at(today):
        load_pack(pack, actor=SYSTEM)

    announced = Notification.objects.get(recipient=lead, kind="lifecycle.shutdown_announced")
    assert "now shuts down on 2027-05-10 (was 2027-06-01)" in announced.title
    loaded = AuditEvent.objects.filter(action="catalog.loaded").last()
    assert OLD in loaded.payload["updated"]
    alert = Notification.objects.filter(recipient=lead, kind="lifecycle.shutdown_alert").first()
    assert alert.title == f"Shop / Production: {OLD} shuts down within 30 days (2027-05-10)"  # not left to the hour
    assert fired(today) == []


def test_the_banner_shows_the_alert_for_the_date_in_force(shop):
    _, _, production = shop
    fired(FIRST - dt.timedelta(days=7))  # the 7-day alert for the first date
    with at(FIRST - dt.timedelta(days=7)):
        sync_provider(simulator_provider(), actor=SYSTEM, transport=provider_lists(dt.date(2027, 8, 1)))

    [alert] = open_alerts([production])[production.pk]  # postponed: 68 days left, the 7-day alert is gone
    assert alert.headline == f"{OLD} shuts down within 90 days (2027-08-01)"
    assert fired(dt.date(2027, 8, 1) - dt.timedelta(days=60)) == [(60, dt.date(2027, 8, 1))]
    [alert] = open_alerts([production])[production.pk]
    assert alert.headline == f"{OLD} shuts down within 60 days (2027-08-01)"
