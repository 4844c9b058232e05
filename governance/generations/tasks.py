import logging

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from governance.caching import one_state_read
from governance.generations import worker
from governance.generations.models import Generation
from governance.generations.services import apply_retention
from governance.generations.upstream import UpstreamError, client_for

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500


@shared_task(acks_late=True, ignore_result=True)
def advance_generation(generation_id: int) -> None:
    """Do the next step of a generation and, unless it is finished, schedule the one after."""
    with one_state_read():
        countdown = worker.advance(generation_id)
    if countdown is not None:
        advance_generation.apply_async(args=[generation_id], countdown=countdown)


@shared_task(ignore_result=True)
def sweep_stalled_generations() -> int:
    """Re-enqueue unfinished generations nobody has looked at in time.

    Covers a crash between commit and enqueue, a broker that was away, and a
    worker killed mid-task. Re-running a step is safe (see worker.py).
    """
    now = timezone.now()
    stalled = list(
        Generation.objects.unfinished()
        .filter(Q(next_check_at__lt=now) | Q(next_check_at__isnull=True))
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    for generation_id in stalled:
        Generation.objects.filter(pk=generation_id).update(
            next_check_at=now + timezone.timedelta(seconds=settings.GENERATION_STALL_SECONDS)
        )
        advance_generation.apply_async(args=[generation_id])
    if stalled:
        logger.info("sweep re-enqueued %d stalled generations", len(stalled))
    return len(stalled)


@shared_task(acks_late=True, ignore_result=True, autoretry_for=(UpstreamError,), retry_backoff=True, max_retries=5)
def delete_upstream_video(generation_id: int) -> None:
    generation = Generation.objects.select_related("provider").get(pk=generation_id)
    try:
        client_for(generation.provider).delete_video(generation.upstream_id)
    except UpstreamError as error:
        if error.status == 404:
            return
        raise


@shared_task(ignore_result=True)
def apply_generation_retention() -> int:
    """Apply GENERATION_RETENTION_DAYS to the generation log (by default everything is kept)."""
    if settings.GENERATION_RETENTION_DAYS is None:
        return 0
    return apply_retention(days=settings.GENERATION_RETENTION_DAYS)
