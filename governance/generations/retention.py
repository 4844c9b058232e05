"""Generation log retention: finished rows older than the configured days go, with an audit event per batch."""

import datetime as dt

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from governance.audit.services import Actor, record_event
from governance.generations.archive import forget_archive
from governance.generations.models import Generation

RETENTION_BATCH = 5000


def apply_retention(*, days: int, now: dt.datetime | None = None) -> int:
    """Delete finished generation log rows older than `days`; each batch is one transaction with its audit event.

    A run that finds nothing to delete still writes one event, so the trail shows
    retention ran. Reference images are stored once per content hash, so a file goes
    only when no remaining generation uses it; archived videos and thumbnails go with
    their rows. Audit events are never deleted.
    """
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    expired = Generation.objects.filter(created_at__lt=cutoff).exclude(status__in=Generation.UNFINISHED)
    deleted = 0
    while batch := list(expired.order_by("pk").values_list("pk", flat=True)[:RETENTION_BATCH]):
        rows = Generation.objects.filter(pk__in=batch)
        with transaction.atomic():
            files = set(rows.exclude(input_reference="").values_list("input_reference", flat=True))
            files |= set(rows.exclude(source_video="").values_list("source_video", flat=True))
            forget_archive(batch)
            rows.delete()
            deleted += len(batch)
            _record_retention(days=days, cutoff=cutoff, deleted=batch)
            transaction.on_commit(lambda files=files: _delete_unused_files(files))
    if not deleted:
        _record_retention(days=days, cutoff=cutoff, deleted=[])
    return deleted


def _record_retention(*, days: int, cutoff: dt.datetime, deleted: list[int]) -> None:
    record_event(
        action="retention.applied",
        actor=Actor.system("retention"),
        payload={
            "days": days,
            "cutoff": cutoff.isoformat(),
            "generations_deleted": len(deleted),
            "first_id": deleted[0] if deleted else None,
            "last_id": deleted[-1] if deleted else None,
        },
    )


def _delete_unused_files(names: set[str]) -> None:
    still_used = set(Generation.objects.filter(input_reference__in=names).values_list("input_reference", flat=True))
    still_used |= set(Generation.objects.filter(source_video__in=names).values_list("source_video", flat=True))
    for name in names - still_used:
        default_storage.delete(name)
