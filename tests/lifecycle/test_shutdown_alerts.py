"""Alerts at 90, 60, 30 and 7 days before a shutdown (and on the day), once each per environment, with time travel."""

import datetime as dt

import pytest
import time_machine
from django.core import mail

from governance.audit.models import AuditEvent
from governance.catalog.models import Snapshot
from governance.lifecycle.models import ShutdownAlert, WebhookDelivery
from governance.lifecycle.services import alert_threshold, create_webhook, raise_shutdown_alerts
from governance.notifications.models import Notification
from governance.policies.engine import ALIAS_FOLLOW
from governance.projects.models import Role
from tests.factories import NEW, OLD, SYSTEM, make_environment, make_member, make_project, make_user

SHUTDOWN = dt.date(2027, 6, 1)


def at(day: dt.date) -> time_machine.travel:
    return time_machine.travel(dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC), tick=False)


@pytest.fixture
def shop(db):
    project = make_project("shop")
    make_member(project, user=make_user(email="lead@example.com"))
    production = make_environment(project, "production", default_model=OLD, allowed_snapshots=[OLD])
    staging = make_environment(project, "staging", default_model=NEW, allowed_snapshots=[NEW], canary_snapshot=OLD)
    development = make_environment(project, "development", default_model=NEW, allowed_snapshots=[NEW])
    Snapshot.objects.filter(provider__slug="simulator", name=OLD).update(shutdown_on=SHUTDOWN)
    return project, production, staging, development


def test_each_threshold_fires_once_per_environment(shop):
    project, production, staging, development = shop
    fired = []
    day = SHUTDOWN - dt.timedelta(days=120)
    while day <= SHUTDOWN + dt.timedelta(days=3):
        with at(day):
            fired += [(alert.environment.name, alert.threshold_days) for alert in raise_shutdown_alerts()]
            raise_shutdown_alerts()  # a second run the same day finds nothing new
        day += dt.timedelta(days=1)

    expected = [(name, threshold) for threshold in (90, 60, 30, 7, 0) for name in ("production", "staging")]
    assert sorted(fired) == sorted(expected)
    assert not development.shutdown_alerts.exists()
    assert ShutdownAlert.objects.count() == 10
    assert AuditEvent.objects.filter(action="lifecycle.shutdown_alert").count() == 10


def test_an_alert_fires_on_the_day_its_threshold_is_crossed(shop):
    _, production, _, _ = shop
    with at(SHUTDOWN - dt.timedelta(days=91)):
        assert raise_shutdown_alerts() == []
    with at(SHUTDOWN - dt.timedelta(days=90)):
        assert {alert.threshold_days for alert in raise_shutdown_alerts()} == {90}


def test_a_late_announcement_fires_only_the_tightest_threshold(shop):
    with at(SHUTDOWN - dt.timedelta(days=20)):
        assert {alert.threshold_days for alert in raise_shutdown_alerts()} == {30}
    with at(SHUTDOWN - dt.timedelta(days=19)):
        assert raise_shutdown_alerts() == []


def test_an_alert_reaches_the_inbox_the_email_and_the_webhook(shop):
    project, production, staging, _ = shop
    lead = project.memberships.get().user
    webhook, _ = create_webhook(project=project, url="https://hooks.example.com/x", description="", actor=SYSTEM)
    with at(SHUTDOWN - dt.timedelta(days=30)):
        raise_shutdown_alerts()

    titles = sorted(Notification.objects.filter(recipient=lead).values_list("title", flat=True))
    assert titles == [
        f"Shop / Production: {OLD} shuts down within 30 days (2027-06-01)",
        f"Shop / Staging: {OLD} shuts down within 30 days (2027-06-01)",
    ]
    production_note = Notification.objects.get(recipient=lead, title__contains="Production")
    assert production_note.url == "/projects/shop/migrations/new/?environment=production"
    assert production_note.body.startswith("This environment's policy pins it. ")
    staging_note = Notification.objects.get(recipient=lead, title__contains="Staging")
    assert staging_note.body.startswith("This environment's policy runs it as the canary. ")
    deliveries = WebhookDelivery.objects.filter(webhook=webhook)
    assert deliveries.count() == 2
    assert {d.payload["data"]["threshold_days"] for d in deliveries} == {30}


def test_members_who_may_not_plan_are_linked_to_the_impact_page_not_the_plan_form(
    shop, django_capture_on_commit_callbacks
):
    project, *_ = shop
    viewer = make_member(project, Role.VIEWER, user=make_user(email="viewer@example.com"))
    with django_capture_on_commit_callbacks(execute=True), at(SHUTDOWN - dt.timedelta(days=7)):
        raise_shutdown_alerts()

    snapshot = Snapshot.objects.get(provider__slug="simulator", name=OLD)
    note = Notification.objects.get(recipient=viewer, title__contains="Production")
    assert note.url == f"/lifecycle/?snapshot={snapshot.pk}"
    lead_note = Notification.objects.get(recipient__email="lead@example.com", title__contains="Production")
    assert lead_note.url == "/projects/shop/migrations/new/?environment=production"
    viewer_mail = next(message for message in mail.outbox if message.to == ["viewer@example.com"])
    assert f"/lifecycle/?snapshot={snapshot.pk}" in viewer_mail.body and "/migrations/new/" not in viewer_mail.body
    # and told what they can do, not to migrate, which they may not
    assert "ask a developer or an admin of Shop" in note.body and "migrate with" not in note.body
    assert "migrate with a migration plan" in lead_note.body


def test_emails_go_to_members_with_an_address(shop, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), at(SHUTDOWN - dt.timedelta(days=7)):
        raise_shutdown_alerts()
    assert len(mail.outbox) == 2
    assert mail.outbox[0].to == ["lead@example.com"]
    assert "within 7 days" in mail.outbox[0].subject


def test_an_alert_says_in_a_sentence_how_the_environment_depends_on_the_snapshot(
    db, django_capture_on_commit_callbacks
):
    project = make_project("studio")
    make_member(project, user=make_user(email="lead@example.com"))
    make_environment(project, "development", default_model="sora-2", alias_requests=ALIAS_FOLLOW)
    make_environment(project, "testing", default_model=OLD, allowed_snapshots=[OLD, NEW])
    Snapshot.objects.filter(provider__slug="simulator", name=NEW).update(shutdown_on=SHUTDOWN)

    with django_capture_on_commit_callbacks(execute=True), at(SHUTDOWN - dt.timedelta(days=7)):
        raise_shutdown_alerts()

    bodies = {message.subject.split(":")[0]: message.body for message in mail.outbox}
    assert bodies["Studio / Development"].startswith("This environment follows the alias sora-2. ")
    assert bodies["Studio / Testing"].startswith("This environment's policy allows it. ")
    assert not any("has it" in body for body in bodies.values())


@pytest.mark.parametrize(
    "days_left, threshold", [(120, None), (91, None), (90, 90), (61, 90), (60, 60), (8, 30), (7, 7), (1, 7), (0, 0)]
)
def test_the_threshold_for_days_left(days_left, threshold):
    assert alert_threshold(days_left) == threshold
