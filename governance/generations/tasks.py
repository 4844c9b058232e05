"""The generations' Celery tasks, and the one place that publishes them.

A submission publishes nothing: its committed outbox entry is the message (a transactional outbox).
A dispatcher process (`manage.py dispatch_generations --every 0.1`), or beat's
`dispatch_new_generations` every GENERATION_DISPATCH_SECONDS where none runs, sends the first
step of what was committed since, in batches; a worker step returns what should follow it
and `advance_generation` sends it. The worker, retention and idempotency modules the tasks
call import nothing from here.
"""

import datetime as dt
import logging
from collections.abc import Callable
from types import SimpleNamespace

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from governance.generations import budget_leases, idempotency, tracking, worker
from governance.generations.models import TRACKED_STEP, Generation, OutboxEntry, is_running_step, new_step_token
from governance.generations.providers import adapter_for
from governance.generations.retention import apply_retention
from governance.generations.upstream import UpstreamError
from governance.infra.caching import one_state_read
from governance.infra.request_ids import bound_request_id
from governance.infra.statements import prepared_statements

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500
MAX_SWEEP_DOUBLINGS = 4


@shared_task(acks_late=True, ignore_result=True)
def advance_generation(generation_id: int, step: str = "", request_id: str = "") -> None:
    """Do the next step of a generation and, unless it is finished, schedule the one after.

    `step` is the token of the message allowed to take this step. A duplicate or
    stale message (redelivered after a crash, or overtaken by the sweep) claims
    nothing and ends, so each generation has one chain of steps at a time.
    `request_id` is the id of the request that created the generation; the step's
    log lines carry it.
    """
    with bound_request_id(request_id), prepared_statements():
        with one_state_read():
            running = worker.claim_step(generation_id, step)
            if running is None:
                return
            next_step = worker.advance(generation_id)
        if next_step.delete_upstream:
            enqueue_upstream_deletion(generation_id)
        if next_step.countdown is None:
            return
        if next_step.track and tracking.tracker_alive():
            worker.hand_to_tracker(generation_id, running)
        elif token := worker.hand_over_step(generation_id, running):
            advance_generation.apply_async(
                args=[generation_id], kwargs={"step": token, "request_id": request_id}, countdown=next_step.countdown
            )


@shared_task(acks_late=True, ignore_result=True)
def start_generations(steps: list[list]) -> None:
    """Take the first steps the dispatcher sent together, one after the other, each as `advance_generation` would.

    `steps` holds `[generation_id, step_token, request_id]` triples. Each step is claimed by its own
    token when its turn comes, so a redelivered message takes only what nobody took, and a step that
    waits its turn past the stall time may be sent again by the sweep: whichever copy comes first
    takes it. One that fails is logged and left to the sweep; the others go on.
    """
    for generation_id, step, request_id in steps:
        try:
            advance_generation(generation_id, step, request_id)
        except Exception:
            logger.exception("generation %s: its first step failed; the sweep sends it again", generation_id)


DISPATCH_BATCH = 500
# A dispatcher process says it runs at most once a second; beat's dispatch stands down while it has said so lately.
DISPATCHER_RUNNING_KEY = "generations:dispatcher:running"
DISPATCHER_SILENT_SECONDS = 5
# A dispatch sends its first steps in messages of up to STEPS_PER_MESSAGE, spread over at least SPREAD messages:
# a Celery publish costs a third of a submission, and a small dispatch still reaches that many worker processes.
STEPS_PER_MESSAGE = 10
SPREAD = 8

# Celery checks the task queue's declaration at every publish, copying kombu's queue and exchange to look
# them up. A process's first successful publish declares the queue; later ones skip the check. The queue is
# durable and every worker declares it too, and a publish lost to a queue deleted under a running process is
# sent again by beat's sweep.
PUBLISHING = SimpleNamespace(queue_declared=False)


@shared_task(ignore_result=True)
def dispatch_new_generations() -> int:
    """Beat's dispatch every GENERATION_DISPATCH_SECONDS: the outbox's first steps, unless a dispatcher process runs.

    A dispatcher process (`manage.py dispatch_generations --every 0.1`) sends them in small batches ten times a
    second, so no once-a-second burst competes with the web requests of the host and the database; beat stands
    down while one runs and takes over within DISPATCHER_SILENT_SECONDS once none does, or once a generation has
    waited that long anyway (a dispatcher that runs but cannot send: a refused query, a broker out of its reach).
    """
    if dispatcher_running() and not _waited_too_long():
        return 0
    return dispatch_outbox()


def _waited_too_long() -> bool:
    waited = timezone.now() - dt.timedelta(seconds=DISPATCHER_SILENT_SECONDS)
    return OutboxEntry.objects.filter(accepted_at__lt=waited).exists()


def dispatch_outbox(stopping: Callable[[], bool] | None = None) -> int:
    """Send the first step of every generation committed since the last dispatch; the number sent.

    The request that accepted a generation only committed its row and its outbox entry, so a broker
    that is away costs a submission nothing, and no crash between commit and publish can lose a step.
    An entry leaves the outbox once its step was published. A crash between the publish and that
    delete sends the step once more under the same token, and the worker takes it once (see
    `advance_generation`). `stopping` (the dispatcher process's SIGTERM) ends a long dispatch after
    the batch under way is committed.
    """
    dispatched = 0
    while True:
        sent = _dispatch_batch()
        dispatched += sent
        if sent < DISPATCH_BATCH or (stopping is not None and stopping()):
            return dispatched


def _dispatch_batch() -> int:
    """Publish up to DISPATCH_BATCH waiting steps and take them out of the outbox; on PostgreSQL, entries another
    dispatcher holds are skipped. The generations' own rows are not written."""
    # An empty outbox costs one probe of its primary key's index and no transaction (on SQLite, no write lock).
    if OutboxEntry.objects.order_by("pk").values_list("pk", flat=True).first() is None:
        return 0
    with transaction.atomic():
        entries = list(
            OutboxEntry.objects.select_for_update(skip_locked=True)
            .order_by("pk")
            .values_list("pk", "step_token", "request_id", "accepted_at")[:DISPATCH_BATCH]
        )
        waiting = [(pk, token, request_id) for pk, token, request_id, _accepted_at in entries]
        published = _publish_first_steps(waiting)
        if published:
            OutboxEntry.objects.filter(pk__in=published).delete()
            _give_late_steps_their_time(entries, set(published))
    if len(published) < len(waiting):
        logger.warning("could not publish %d generations; the next dispatch retries", len(waiting) - len(published))
    return len(published)


def _give_late_steps_their_time(entries: list[tuple], published: set[int]) -> None:
    """A step sent long after its generation was accepted (a broker or dispatcher that was away) gets a stall time
    from now before the sweep sends it again, as one sent at once has; a step a worker already took keeps its own."""
    now = timezone.now()
    late_after = now - dt.timedelta(seconds=settings.GENERATION_STALL_SECONDS / 2)
    late = [
        (pk, token) for pk, token, _request_id, accepted_at in entries if pk in published and accepted_at < late_after
    ]
    if late:
        Generation.objects.filter(
            pk__in=[pk for pk, _token in late], step_token__in=[token for _pk, token in late]
        ).update(next_check_at=now + dt.timedelta(seconds=settings.GENERATION_STALL_SECONDS))


def _publish_first_steps(waiting: list[tuple[int, str, str]]) -> list[int]:
    """Publish the waiting steps in messages through one producer; stop at the first the broker refuses (it is away)."""
    published = []
    try:
        with start_generations.app.producer_or_acquire() as producer:
            for steps in first_step_messages(waiting):
                if not enqueue_first_steps(steps, producer=producer):
                    break
                published.extend(generation_id for generation_id, _token, _request_id in steps)
    except Exception:
        logger.warning("the broker is away; the next dispatch retries", exc_info=True)
    return published


def note_dispatcher_running() -> None:
    """Tell beat a dispatcher process runs (its dispatch stands down for DISPATCHER_SILENT_SECONDS)."""
    try:
        cache.set(DISPATCHER_RUNNING_KEY, True, timeout=DISPATCHER_SILENT_SECONDS)
    except Exception:
        logger.warning("could not tell beat that a dispatcher runs; beat dispatches too", exc_info=True)


def note_dispatcher_stopped() -> None:
    """Let beat dispatch at once: the dispatcher process is stopping."""
    try:
        cache.delete(DISPATCHER_RUNNING_KEY)
    except Exception:
        logger.warning("could not tell beat that the dispatcher stopped", exc_info=True)


def dispatcher_running() -> bool:
    """Whether a dispatcher process said lately that it runs. A cache that cannot answer says no: beat dispatches."""
    try:
        return cache.get(DISPATCHER_RUNNING_KEY) is not None
    except Exception:
        return False


def first_step_messages(waiting: list[tuple[int, str, str]]) -> list[list[tuple[int, str, str]]]:
    """Split waiting steps into messages: STEPS_PER_MESSAGE at most, over SPREAD messages at least (if there are)."""
    size = min(STEPS_PER_MESSAGE, max(1, -(-len(waiting) // SPREAD)))
    return [waiting[start : start + size] for start in range(0, len(waiting), size)]


def enqueue_first_steps(steps: list[tuple[int, str, str]], *, producer=None) -> bool:
    """Hand committed generations' first steps to the worker in one message; False if the broker is away."""
    args = [[list(step) for step in steps]]
    try:
        # A plain repr for the message's log field: Celery's own saferepr costs more than the rest of the message.
        start_generations.apply_async(
            args=args,
            argsrepr=repr(args),
            kwargsrepr="{}",
            declare=[] if PUBLISHING.queue_declared else None,
            producer=producer,
        )
    except Exception:
        ids = [generation_id for generation_id, _token, _request_id in steps]
        logger.warning("could not enqueue the first steps of generations %s", ids, exc_info=True)
        return False
    PUBLISHING.queue_declared = True
    return True


def sweep_wait(sweeps: int) -> dt.timedelta:
    """How long to leave a step the sweep has just sent again: twice as long each time, up to 16 stall times.

    A queue slower than the stall time would otherwise get one more copy of every waiting
    step per stall time, and the copies would slow it down further.
    """
    return dt.timedelta(seconds=settings.GENERATION_STALL_SECONDS * 2 ** min(sweeps, MAX_SWEEP_DOUBLINGS))


@shared_task(ignore_result=True)
def sweep_stalled_generations() -> int:
    """Re-enqueue unfinished generations nobody has looked at in time.

    Covers a step's message lost with a broker that was away, and a worker killed
    mid-task. A generation still in the outbox is the dispatcher's. A waiting step is
    sent again under its own token, so whichever copy arrives first takes it: however long the queue, the step is
    never overtaken by the sweep. A running step whose lease ran out (its worker
    died) gets a new token, so that worker's chain, if it still lives, ends.
    Re-running a step is safe (see worker.py).
    """
    now = timezone.now()
    # A generation still in the outbox is the dispatcher's. A tracked generation waits for the tracker (its next
    # check is when the job has run too long), unless the tracker has stopped ticking: then nobody polls it, and
    # the step chain takes it over. One accepted by a web process of the release before the outbox table (no next
    # check, no entry) is the sweep's once it is a stall time old.
    before_the_outbox_table = Q(
        status=Generation.Status.QUEUED,
        next_check_at__isnull=True,
        created_at__lt=now - dt.timedelta(seconds=settings.GENERATION_STALL_SECONDS),
    )
    overdue = (Q(next_check_at__lt=now) | tracking.untracked_if_the_tracker_stopped() | before_the_outbox_table) & Q(
        outbox_entry__isnull=True
    )
    stalled = Generation.objects.unfinished().filter(overdue).values_list("pk", "step_token", "sweeps", "request_id")
    restarted = 0
    for generation_id, token, sweeps, request_id in list(stalled[:SWEEP_BATCH]):
        step = new_step_token() if not token or is_running_step(token) or token == TRACKED_STEP else token
        taken = (
            Generation.objects.unfinished()
            .filter(overdue, pk=generation_id, step_token=token)
            .update(step_token=step, next_check_at=now + sweep_wait(sweeps), sweeps=F("sweeps") + 1)
        )
        if taken:
            advance_generation.apply_async(args=[generation_id], kwargs={"step": step, "request_id": request_id})
            restarted += 1
    if restarted:
        logger.info("sweep re-enqueued %d stalled generations", restarted)
    return restarted


@shared_task(ignore_result=True)
def track_generations() -> int:
    """Beat, every GENERATION_TRACK_SECONDS: send a poll message per batch of tracked jobs now due a poll.

    No acks_late and no retries: a tick or batch lost costs one poll, due again at its next time.
    """
    if not settings.GENERATION_TRACK_SECONDS:
        return 0
    batches = tracking.due_batches()
    for provider_id, generation_ids in batches:
        poll_generations.apply_async(args=[provider_id, generation_ids], expires=MAX_POLL_MESSAGE_AGE)
    return sum(len(ids) for _, ids in batches)


# A poll batch that waited this long in the queue is dropped: later ticks have sent its jobs again.
MAX_POLL_MESSAGE_AGE = 60


@shared_task(ignore_result=True)
def poll_generations(provider_id: int, generation_ids: list[int]) -> int:
    """Poll a batch of one provider's tracked jobs; send each finished one on to the step chain."""
    outcome = tracking.poll_batch(provider_id, generation_ids)
    for generation_id, step, request_id in outcome.handed_over:
        advance_generation.apply_async(args=[generation_id], kwargs={"step": step, "request_id": request_id})
    return outcome.polled


@shared_task(acks_late=True, ignore_result=True, autoretry_for=(UpstreamError,), retry_backoff=True, max_retries=5)
def delete_upstream_video(generation_id: int) -> None:
    generation = Generation.objects.select_related("provider").get(pk=generation_id)
    try:
        adapter_for(generation.provider).delete(generation)
    except UpstreamError as error:
        if error.status == 404 or not error.retryable:
            return
        raise


def enqueue_upstream_deletion(generation_id: int) -> None:
    """Have the provider delete its copy of a video our client deleted; a broker that is away loses only that."""
    try:
        delete_upstream_video.delay(generation_id)
    except Exception:
        logger.warning("could not enqueue the upstream deletion of generation %s", generation_id, exc_info=True)


@shared_task(ignore_result=True)
def apply_generation_retention() -> int:
    """Apply GENERATION_RETENTION_DAYS to the generation log (by default everything is kept)."""
    if settings.GENERATION_RETENTION_DAYS is None:
        return 0
    return apply_retention(days=settings.GENERATION_RETENTION_DAYS)


@shared_task(ignore_result=True)
def settle_budget_leases() -> int:
    """Settle the budget leases nobody can draw on any more (see budget_leases)."""
    return budget_leases.settle_due_leases(timezone.now())


@shared_task(ignore_result=True)
def expire_idempotency_keys() -> int:
    return idempotency.expire_idempotency_keys()
