"""The generation log keeps rows for the configured period; audit events stay forever."""

import datetime as dt

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from governance.audit.models import AuditEvent
from governance.audit.services import verify_chain
from governance.generations.models import Generation
from governance.generations.services import apply_retention
from governance.generations.tasks import apply_generation_retention
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


def test_by_default_everything_is_kept(api, settings):
    with time_machine.travel(dt.datetime(2020, 1, 1, tzinfo=dt.UTC)):
        api.post("videos", {"prompt": "a", "model": "sora-2"})
    assert settings.GENERATION_RETENTION_DAYS is None
    assert apply_generation_retention() == 0
    assert Generation.objects.count() == 1
