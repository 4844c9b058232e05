"""The generation log keeps rows for the configured period; audit events stay forever."""

import datetime as dt
import os
import subprocess
import sys

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from governance.audit.models import AuditEvent
from governance.audit.verification import verify_chain
from governance.generations import retention
from governance.generations.models import Generation
from governance.generations.retention import apply_retention
from governance.generations.tasks import apply_generation_retention
from governance.settings import env_retention_days
from tests.factories import OLD

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 64


def test_old_finished_rows_go_with_an_audit_event_and_recent_ones_stay(api, django_capture_on_commit_callbacks):
    with time_machine.travel(dt.datetime(2026, 1, 10, tzinfo=dt.UTC)):
        api.post("videos", {"prompt": "old and refused", "model": "sora-2"})
        image = SimpleUploadedFile("ref.png", PNG, content_type="image/png")
        old_id = api.post("videos", {"prompt": "old", "model": OLD, "input_reference": image}, json=False).json()["id"]
        Generation.objects.filter(video_id=old_id).update(status="completed")
    recent_id = api.post("videos", {"prompt": "recent", "model": OLD}).json()["id"]
    stored = Generation.objects.get(video_id=old_id).input_reference.name
    events_before = AuditEvent.objects.count()

    with (
        time_machine.travel(dt.datetime(2026, 11, 25, tzinfo=dt.UTC)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert apply_retention(days=180) == 2

    assert list(Generation.objects.values_list("video_id", flat=True)) == [recent_id]
    event = AuditEvent.objects.get(action="retention.applied")
    assert event.payload["generations_deleted"] == 2 and event.payload["days"] == 180
    assert AuditEvent.objects.count() == events_before + 1
    assert verify_chain().intact
    assert not default_storage.exists(stored)


def test_unfinished_generations_are_never_deleted(api):
    with time_machine.travel(dt.datetime(2026, 1, 10, tzinfo=dt.UTC)):
        api.post("videos", {"prompt": "still queued", "model": OLD})
    assert apply_retention(days=1) == 0


def test_by_default_everything_is_kept_and_no_retention_event_is_written(api, settings):
    with time_machine.travel(dt.datetime(2020, 1, 1, tzinfo=dt.UTC)):
        api.post("videos", {"prompt": "a", "model": "sora-2"})
    assert settings.GENERATION_RETENTION_DAYS is None
    assert apply_generation_retention() == 0
    assert Generation.objects.count() == 1
    assert not AuditEvent.objects.filter(action="retention.applied").exists()


def test_a_scheduled_run_that_deletes_nothing_still_writes_one_event(api, settings):
    settings.GENERATION_RETENTION_DAYS = 30
    api.post("videos", {"prompt": "recent", "model": OLD})
    events_before = AuditEvent.objects.count()

    assert apply_generation_retention() == 0

    [event] = AuditEvent.objects.all()[events_before:]
    assert event.action == "retention.applied" and event.actor_label == "retention"
    assert event.payload["generations_deleted"] == 0 and event.payload["days"] == 30
    assert Generation.objects.count() == 1


def test_a_run_over_several_batches_writes_one_event_per_batch(api, monkeypatch):
    monkeypatch.setattr(retention, "RETENTION_BATCH", 2)
    with time_machine.travel(dt.datetime(2026, 1, 10, tzinfo=dt.UTC)):
        for number in range(3):
            api.post("videos", {"prompt": f"old {number}", "model": "sora-2"})
    events_before = AuditEvent.objects.count()

    assert apply_retention(days=1) == 3

    deleted = [event.payload["generations_deleted"] for event in AuditEvent.objects.all()[events_before:]]
    assert deleted == [2, 1]


@pytest.mark.parametrize("value, expected", [(None, None), ("", None), ("  ", None), ("1", 1), (" 180 ", 180)])
def test_the_retention_setting_is_a_positive_number_of_days_or_unset(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("GENERATION_RETENTION_DAYS", raising=False)
    else:
        monkeypatch.setenv("GENERATION_RETENTION_DAYS", value)
    assert env_retention_days("GENERATION_RETENTION_DAYS") == expected


@pytest.mark.parametrize("value", ["0", "-30", "ten", "1.5", "30d"])
def test_a_zero_negative_or_garbled_retention_setting_is_refused(monkeypatch, value):
    monkeypatch.setenv("GENERATION_RETENTION_DAYS", value)
    with pytest.raises(ImproperlyConfigured, match="GENERATION_RETENTION_DAYS must be a whole number of days, 1 or"):
        env_retention_days("GENERATION_RETENTION_DAYS")


def test_the_application_refuses_to_start_with_a_bad_retention_setting():
    env = {**os.environ, "GENERATION_RETENTION_DAYS": "0", "DJANGO_SETTINGS_MODULE": "governance.settings"}
    started = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True, text=True, timeout=60
    )
    assert started.returncode != 0
    assert "GENERATION_RETENTION_DAYS must be a whole number of days" in started.stderr
