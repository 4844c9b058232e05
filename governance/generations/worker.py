"""What the worker does for one generation, one step at a time.

Each call of `advance()` does the next due step (re-check the policy and submit
upstream, or poll) and returns what should follow: when to look again, and whether
the provider's copy is to be deleted; the task in tasks.py sends it.

A step repeated after a crash or a duplicate message never pays for a second job:
- where the provider honours an Idempotency-Key (OpenAI's Videos shape), every create
  carries one derived from the generation, so a repeated create finds the first job;
- everywhere else, the worker saves that a create is being sent before sending it. A
  step that finds that mark and no job id asks the adapter to find the job (BytePlus can
  search its tasks); if it cannot, the generation fails as `upstream_outcome_unknown`,
  keeping its budget reserved, instead of creating and paying for the job again. A create
  that failed without reaching the provider (no connection, an error answer) clears the
  mark and is retried as usual.
"""

import contextlib
import datetime as dt
import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from governance.catalog.models import Alias
from governance.catalog.selectors import catalog_view
from governance.catalog.services import record_alias_drift
from governance.generations import tracking
from governance.generations.archive import archive_generation
from governance.generations.models import TRACKED_STEP, Character, Generation, new_step_token
from governance.generations.providers import adapter_for
from governance.generations.providers.base import ProviderAdapter, UpstreamJob
from governance.generations.upstream import UpstreamError
from governance.infra.metrics import GENERATIONS, UPSTREAM_ERRORS, UPSTREAM_SECONDS
from governance.policies.engine import DERIVED_OPERATIONS, Operation, Refusal, recheck, recheck_provider
from governance.policies.selectors import policy_in_force
from governance.policies.services import release_budget

logger = logging.getLogger(__name__)

# Submitting: give up after this many failed attempts (nothing was paid for yet).
MAX_SUBMIT_ATTEMPTS = 8
# Polling a job the provider accepted: keep trying through an outage this long (about an hour).
MAX_POLL_ATTEMPTS = 70
MAX_BACKOFF_SECONDS = 60.0
OUTCOME_UNKNOWN = "upstream_outcome_unknown"
OUTCOME_UNKNOWN_MESSAGE = (
    "The create was sent to {provider}, but its answer was lost, so a job may exist there. {provider} takes no "
    "idempotency key, so the gateway does not send it again and pay twice; submit the video again if you need it."
)


def claim_step(generation_id: int, step: str) -> str | None:
    """Take the next step of an unfinished generation if `step` is its current token.

    The row gets a new token at once, so a duplicate of the same message finds
    nothing to claim, and a lease long enough for one step (the sweep leaves it
    alone until then). Returns the running step's token, or None.
    """
    running = new_step_token(running=True)
    lease = timezone.now() + dt.timedelta(seconds=settings.GENERATION_STEP_LEASE_SECONDS)
    claimed = (
        Generation.objects.unfinished()
        .filter(pk=generation_id, step_token=step)
        .update(step_token=running, next_check_at=lease, sweeps=0)
    )
    return running if claimed else None


def hand_to_tracker(generation_id: int, running: str) -> bool:
    """Give a generation whose job the provider runs to the tracker, unless the sweep gave it to another chain.

    Until the tracker hands it back, nothing is written: the sweep waits for it until the job has run longer
    than any may (or sooner, if the tracker stops ticking).
    """
    generation = Generation.objects.filter(pk=generation_id).only("started_at", "created_at").first()
    if generation is None:
        return False
    deadline = tracking.tracking_deadline(generation)
    return bool(
        Generation.objects.unfinished()
        .filter(pk=generation_id, step_token=running)
        .update(step_token=TRACKED_STEP, next_check_at=deadline)
    )


def hand_over_step(generation_id: int, running: str) -> str | None:
    """The token for the next step's message, unless the sweep gave the generation to another chain meanwhile."""
    step = new_step_token()
    handed = Generation.objects.unfinished().filter(pk=generation_id, step_token=running).update(step_token=step)
    return step if handed else None


@dataclass(frozen=True)
class NextStep:
    """What follows a step: the next step in `countdown` seconds (None: the generation is finished), and
    whether to delete the provider's copy (a video its client deleted before it finished)."""

    countdown: float | None = None
    delete_upstream: bool = False
    # The provider has the job and answered: the tracker may poll it from here (tracking.py) instead of a
    # message `countdown` seconds later. Not after an error, whose retry keeps the step chain's backoff.
    track: bool = False


def advance(generation_id: int) -> NextStep:
    """Do the next step for a generation and say what follows it."""
    # Not "remixed_from": only a remix, edit or extension reads its source, once, when it is sent upstream. Joining the
    # generation table to itself for every step made PostgreSQL's plan of this statement cost more than running it.
    related = Generation.objects.select_related("provider", "project", "environment", "policy_revision")
    try:
        # get(), not first(): first()'s ORDER BY, compared with every column of these joins, is half of building the SQL
        generation = related.get(pk=generation_id)
    except Generation.DoesNotExist:
        return NextStep()
    if generation.is_finished:
        return NextStep()
    if generation.deleted_at is not None:
        _fail(generation, Generation.DELETED_BY_CLIENT, "The client deleted this video before it finished.")
        return NextStep(delete_upstream=bool(generation.upstream_id))
    return _take_step(generation)


def _take_step(generation: Generation) -> NextStep:
    """Submit or poll; when to check next (None when the generation is finished), and whether to track it."""
    try:
        if not generation.upstream_id:
            countdown = _start_upstream(generation)
        else:
            countdown = _poll_upstream(generation)
        return NextStep(countdown=countdown, track=countdown is not None and bool(generation.upstream_id))
    except UpstreamError as error:
        return NextStep(countdown=_after_upstream_error(generation, error))
    except (KeyError, TypeError, ValueError) as error:
        malformed = UpstreamError(f"The provider answered with an unexpected body ({error!r}).", status=502)
        return NextStep(countdown=_after_upstream_error(generation, malformed))


def _start_upstream(generation: Generation) -> float | None:
    refusal = _recheck_policy(generation)
    if refusal is not None:
        _fail(generation, refusal.code, refusal.message)
        return None
    if generation.operation in DERIVED_OPERATIONS and _source_gone(generation):
        _fail(generation, "source_unavailable", "The source video is no longer in the log.")
        return None
    if generation.operation == Operation.CHARACTER:
        return _make_character(generation)
    adapter = adapter_for(generation.provider)
    job = _create_once(generation, adapter)
    if job is None:
        return None
    note = f"upstream {job.id}"
    if job.model and job.model != generation.resolved_snapshot:
        note += f"; provider reports model {job.model}"
        _note_alias_drift(generation, job.model[:100])
    generation.start_upstream(
        job.id[:255], note, api_version=adapter.api_version, simulated=adapter.connection.simulated
    )
    _apply_upstream_state(generation, job, adapter)
    if generation.is_finished:
        return None
    return _poll_interval(generation)


def _create_once(generation: Generation, adapter: ProviderAdapter) -> UpstreamJob | None:
    """Send the create, never twice to a provider that cannot deduplicate it (see the module's docstring)."""
    if not adapter.idempotent_create and generation.create_sent_at is not None:
        with upstream_call(generation, "find"):
            job = adapter.find_created(generation)
        if job is None:
            _fail(generation, OUTCOME_UNKNOWN, OUTCOME_UNKNOWN_MESSAGE.format(provider=generation.provider.name))
        return job
    if not adapter.idempotent_create and not generation.note_create_sent():
        return None
    try:
        with upstream_call(generation, generation.operation):
            return adapter.start(generation)
    except UpstreamError as error:
        if not error.outcome_unknown:
            generation.create_sent_at = None  # the provider made nothing: the retry may create
        raise


def _note_alias_drift(generation: Generation, observed: str) -> None:
    """An alias request the provider ran on another snapshot than ours is alias drift, recorded in the catalog."""
    alias = Alias.objects.select_related("snapshot", "provider").filter(
        provider_id=generation.provider_id, name=generation.requested_model
    )
    alias = alias.first()
    if alias is not None:
        record_alias_drift(alias=alias, observed=observed, generation_video_id=generation.video_id)


def _recheck_policy(generation: Generation) -> Refusal | None:
    """The environment's policy as it is now, applied once more just before the provider is called."""
    policy = policy_in_force(generation.environment_id)
    if policy is None:
        return Refusal(code="no_policy", message="The environment no longer has a policy.")
    comparison = generation.is_comparison
    switched = recheck_provider(
        accepted_at=generation.provider_id,
        policy_provider_id=policy.provider_id,
        comparison=comparison,
        canary_provider_id=policy.view.canary_provider_id,
    )
    if switched is not None:
        return switched
    catalog = catalog_view(generation.provider_id)
    return recheck(
        generation.resolved_snapshot, policy.view, catalog, timezone.now(), generation.operation, comparison=comparison
    )


def _make_character(generation: Generation) -> None:
    adapter = adapter_for(generation.provider)
    with upstream_call(generation, generation.operation):
        upstream_id = adapter.create_character(generation)
    with transaction.atomic():
        Character.objects.filter(generation=generation).update(upstream_id=upstream_id)
        generation.start_upstream(
            upstream_id,
            f"upstream character {upstream_id}",
            api_version=adapter.api_version,
            simulated=adapter.connection.simulated,
        )
        _complete(generation)
    return None


def _source_gone(generation: Generation) -> bool:
    """A derived video needs its source: an upload, or the source generation's upstream job."""
    if generation.source_video:
        return False
    return generation.remixed_from is None or not generation.remixed_from.upstream_id


def _poll_upstream(generation: Generation) -> float | None:
    adapter = adapter_for(generation.provider)
    kept = tracking.take_finished_job(generation)  # what the tracker was told when it saw the job finished
    if kept is not None:
        try:
            _apply_upstream_state(generation, kept, adapter)
            return None
        except UpstreamError as error:  # its links may have expired since: read the job afresh, as without it
            logger.info("generation %s: the tracker's links failed (%s); asking again", generation.video_id, error)
    with upstream_call(generation, "retrieve"):
        job = adapter.retrieve(generation)
    if job.status != Generation.Status.COMPLETED:
        generation.upstream_attempts = 0  # the provider answered; a failed copy into the archive keeps counting
    if not job.finished and _overdue(generation):
        _give_up(generation, adapter)
        return None
    _apply_upstream_state(generation, job, adapter)
    return None if generation.is_finished else _poll_interval(generation)


def _overdue(generation: Generation) -> bool:
    started = generation.started_at or generation.created_at
    return (timezone.now() - started).total_seconds() > settings.GENERATION_MAX_UPSTREAM_SECONDS


def _give_up(generation: Generation, adapter: ProviderAdapter) -> None:
    """A job that never finishes (stuck queued, a status the provider invented) ends, and is cancelled upstream."""
    hours = settings.GENERATION_MAX_UPSTREAM_SECONDS / 3600
    _fail(generation, "upstream_timeout", f"{generation.provider.name} had not finished the job after {hours:g} hours.")
    try:
        adapter.delete(generation)
    except UpstreamError as error:
        logger.info("could not cancel %s at the provider: %s", generation.video_id, error.message)


@contextlib.contextmanager
def upstream_call(generation: Generation, operation: str) -> Iterator[None]:
    """Time one provider call, and count it as an error if it fails, by provider and snapshot."""
    labels = (generation.provider.slug, generation.resolved_snapshot or "-", operation)
    started = time.perf_counter()
    try:
        yield
    except UpstreamError as error:
        UPSTREAM_ERRORS.labels(*labels, str(error.status or "unreachable")).inc()
        raise
    finally:
        UPSTREAM_SECONDS.labels(*labels).observe(time.perf_counter() - started)


def _apply_upstream_state(generation: Generation, job: UpstreamJob, adapter: ProviderAdapter) -> None:
    """The job as the provider reports it, in our terms (an unknown status never gets here: see UpstreamJob)."""
    status = job.status
    if status == Generation.Status.COMPLETED:
        _archive(generation, adapter, job)
        _complete(generation, expires_at=job.expires_at)
    elif status == Generation.Status.FAILED:
        message = (job.error_message or "The provider reports the generation failed.")[:1000]
        _fail(generation, job.error_code or "generation_failed", adapter.redact(message))
    else:
        started = status == Generation.Status.IN_PROGRESS and generation.status != status
        progress = max(0, min(99, job.progress))
        next_check_at = timezone.now() + _grace(_poll_interval(generation))
        if generation.note_progress(status, progress, next_check_at=next_check_at) and started:
            GENERATIONS.labels(status).inc()


def _archive(generation: Generation, adapter: ProviderAdapter, job: UpstreamJob) -> None:
    """Keep our own signed copy before the client hears the video is ready; a failed copy is retried like a poll."""
    files = archive_generation(generation, adapter, job)
    signed = sorted({file.certificate_fingerprint for file in files if file.signed})
    if signed:
        note = f"{len(files)} files signed with certificate {', '.join(fp[:16] for fp in signed)}"
    else:
        note = f"{len(files)} files, unsigned: {files[0].unsigned_reason}"
    generation.add_to_timeline("archived", note)


def _after_upstream_error(generation: Generation, error: UpstreamError) -> float | None:
    attempts = generation.upstream_attempts + 1
    limit = MAX_POLL_ATTEMPTS if generation.upstream_id else MAX_SUBMIT_ATTEMPTS
    if not error.retryable or attempts >= limit:
        reason = "" if not error.retryable else f" after {attempts} attempts"
        _fail(generation, error.code, f"The provider refused or failed{reason}: {error.message}")
        return None
    countdown = error.retry_after if error.retry_after is not None else backoff(attempts)
    note = f"{error.message} (attempt {attempts}, next in {countdown:.1f}s)"
    generation.note_retry(attempts, note, next_check_at=timezone.now() + _grace(countdown))
    return countdown


def backoff(attempt: int) -> float:
    """Exponential backoff with jitter: about 1, 2, 4 … seconds, capped, never in lockstep."""
    ceiling = min(MAX_BACKOFF_SECONDS, 2.0 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


def _poll_interval(generation: Generation) -> float:
    """Poll often at first and more calmly for long jobs: a tenth of the time waited so far, 1–10 s."""
    started = generation.started_at or generation.created_at
    waited = (timezone.now() - started).total_seconds()
    return max(1.0, min(10.0, waited / 10))


def _grace(countdown: float) -> dt.timedelta:
    return dt.timedelta(seconds=countdown + settings.GENERATION_STALL_SECONDS)


def _complete(generation: Generation, *, expires_at: dt.datetime | None = None) -> None:
    if generation.complete(expires_at=expires_at):
        GENERATIONS.labels(Generation.Status.COMPLETED).inc()


def _fail(generation: Generation, code: str, message: str) -> None:
    """Record a final failure; give back the reserved budget if the provider never got the job (a job whose
    outcome is unknown may have been charged: its reservation stays)."""
    with transaction.atomic():
        changed = generation.fail(code, message)
        if changed:
            GENERATIONS.labels(Generation.Status.FAILED).inc()
        paid_maybe = generation.upstream_id or code == OUTCOME_UNKNOWN
        if changed and generation.budget_month is not None and not paid_maybe:
            release_budget(
                environment_id=generation.environment_id,
                month=generation.budget_month,
                amount=generation.estimated_cost,
            )
    logger.info("generation %s failed: %s", generation.video_id, generation.error_code)
