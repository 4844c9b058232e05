"""A generation's state changes: each writes its own fields, and none undoes a final state."""

import pytest

from governance.generations.models import Generation

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(api):
    response = api.post("videos", {"prompt": "a lighthouse"})
    return Generation.objects.get(video_id=response.json()["id"])


def reload(generation: Generation) -> Generation:
    return Generation.objects.get(pk=generation.pk)


def test_a_late_duplicate_step_cannot_undo_a_completed_generation(queued):
    late = reload(queued)
    assert queued.complete() is True

    assert late.fail("upstream_error", "a step that ran late") is False
    assert late.note_progress(Generation.Status.IN_PROGRESS, 40, next_check_at=queued.created_at) is False
    assert late.note_retry(3, "a step that ran late", next_check_at=queued.created_at) is False
    kept = reload(queued)
    assert (kept.status, kept.progress, kept.error_code, kept.upstream_attempts) == ("completed", 100, "", 0)


def test_a_failure_keeps_its_code_cut_to_the_column_and_notes_it_on_the_timeline(queued):
    assert queued.fail("x" * 100, "The provider failed.") is True

    failed = reload(queued)
    assert (failed.status, failed.error_code) == ("failed", "x" * 64)
    assert failed.timeline[-1] == {"status": "failed", "at": failed.timeline[-1]["at"], "note": "x" * 64}


def test_a_retry_writes_its_attempts_and_nothing_else(queued):
    queued.status = Generation.Status.COMPLETED  # only in memory: a retry does not write the status

    assert queued.note_retry(2, "timed out", next_check_at=queued.created_at) is True

    retrying = reload(queued)
    assert (retrying.status, retrying.upstream_attempts) == ("queued", 2)
    assert retrying.timeline[-1]["status"] == "retrying"
