"""Submitting generations: policy decision, the log row, budget and the hand-off to the worker."""

import datetime as dt
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from governance.audit.services import Actor, record_event
from governance.catalog.selectors import catalog_view
from governance.generations.archive import forget_archive
from governance.generations.errors import ApiError
from governance.generations.models import ArchivedFile, Generation, IdempotencyRecord, new_step_token
from governance.generations.parsing import (
    VideoRequest,
    clean_text,
    fields_fingerprint,
    parse_video_request,
    sha256_text,
    stored_prompt,
)
from governance.metrics import GENERATIONS
from governance.policies.engine import (
    OPERATION_CREATE,
    OPERATION_REMIX,
    Accept,
    Decision,
    GenerationRequest,
    Refusal,
    budget_exceeded,
    decide,
)
from governance.policies.models import PolicyRevision
from governance.policies.selectors import month_start, policy_in_force
from governance.policies.services import reserve_budget
from governance.projects.selectors import KeyHolder
from governance.request_ids import current_request_id

logger = logging.getLogger(__name__)

# An Idempotency-Key whose first request never finished (the process died) is taken over after this.
ABANDONED_IDEMPOTENCY_AFTER = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class Submission:
    """What a client asked for, in the terms the policy engine and the log need."""

    operation: str
    prompt: str
    request: VideoRequest | None = None
    source: Generation | None = None
    invalid: Refusal | None = None
    remix_of: str = ""

    def engine_request(self) -> GenerationRequest:
        bucket = secrets.randbelow(100)
        if self.operation == OPERATION_REMIX:
            return GenerationRequest(
                operation=OPERATION_REMIX,
                model=self.source.resolved_snapshot,
                seconds=self.source.seconds,
                size=self.source.size,
                routing_bucket=bucket,
            )
        return GenerationRequest(
            operation=OPERATION_CREATE,
            model=self.request.model,
            seconds=self.request.seconds,
            size=self.request.size,
            features=self.request.features,
            routing_bucket=bucket,
        )

    def parameters(self) -> dict:
        if self.request is not None:
            return self.request.parameters()
        if self.remix_of:
            return {"remix_of": clean_text(self.remix_of[:100])}
        return {}


def create_submission(fields: dict, files: dict) -> tuple[Submission, str]:
    """A create request's fields as the gateway reads them, and the body's fingerprint for Idempotency-Key checks.

    A malformed request becomes a submission carrying its refusal, so it is logged like any other.
    """
    try:
        video = parse_video_request(fields, files)
    except ApiError as error:
        prompt = fields.get("prompt") if isinstance(fields.get("prompt"), str) else ""
        submission = Submission(operation=OPERATION_CREATE, prompt=prompt, invalid=error.refusal)
        return submission, fields_fingerprint(f"invalid:{error.refusal.code}", fields)
    return Submission(operation=OPERATION_CREATE, prompt=video.prompt, request=video), video.fingerprint()


def submit(
    *, holder: KeyHolder, submission: Submission, now: dt.datetime | None = None, submitted_by=None
) -> Generation:
    """Decide and record one generation; accepted ones are handed to the worker once committed.

    `submitted_by` is the signed-in user when the dashboard's playground submits on their behalf.
    """
    now = now or timezone.now()
    decision, policy = _decide(holder, submission, now)
    if isinstance(decision, Accept) and policy.view.monthly_budget is not None:
        with transaction.atomic():
            if not reserve_budget(
                environment_id=holder.environment_id,
                now=now,
                amount=decision.estimated_cost,
                budget=policy.view.monthly_budget,
            ):
                decision = budget_exceeded(decision.estimated_cost, policy.view.monthly_budget)
            return _record(holder, submission, decision, policy, now, submitted_by)
    return _record(holder, submission, decision, policy, now, submitted_by)


def _decide(holder: KeyHolder, submission: Submission, now: dt.datetime):
    """The engine's decision. The month's spend is not read here: `reserve_budget` checks it atomically."""
    policy = policy_in_force(holder.environment_id)
    if submission.invalid is not None:
        return submission.invalid, policy
    if policy is None:
        return Refusal(code="no_policy", message="This environment has no policy yet; an admin must set one."), None
    catalog = catalog_view(policy.provider_id)
    return decide(submission.engine_request(), policy.view, catalog, now), policy


def _record(
    holder: KeyHolder, submission: Submission, decision: Decision, policy, now: dt.datetime, submitted_by=None
) -> Generation:
    generation = Generation(
        project_id=holder.project_id,
        environment_id=holder.environment_id,
        api_key_id=holder.api_key_id,
        submitted_by=submitted_by,
        operation=submission.operation,
        requested_model=_requested_model(submission),
        provider_id=policy.provider_id if policy else None,
        policy_revision=_revision_reference(policy, holder),
        remixed_from=submission.source,
        prompt=stored_prompt(submission.prompt),
        prompt_sha256=sha256_text(submission.prompt) if submission.prompt else "",
        parameters=submission.parameters(),
        request_id=current_request_id(),
        created_at=now,
    )
    request = submission.request
    if request is not None:
        generation.seconds, generation.size = request.seconds, request.size or ""
        generation.input_reference_sha256 = request.input_reference_sha256
    if isinstance(decision, Accept):
        generation.status = Generation.Status.QUEUED
        generation.resolved_snapshot = decision.snapshot
        generation.canary_arm = decision.arm
        generation.seconds, generation.size = decision.seconds, decision.size
        generation.estimated_cost = decision.estimated_cost
        generation.budget_month = month_start(now) if policy.view.monthly_budget is not None else None
        generation.next_check_at = now + dt.timedelta(seconds=settings.GENERATION_STALL_SECONDS)
        generation.step_token = new_step_token()
        if request is not None and request.input_reference_file is not None:
            _store_input_reference(generation, request)
    else:
        generation.status = Generation.Status.REFUSED
        generation.error_code, generation.error_message = decision.code, decision.message
        generation.error_param = decision.param or ""
        generation.completed_at = now
    generation.add_to_timeline(generation.status, decision.code if isinstance(decision, Refusal) else decision.snapshot)
    generation.save()
    GENERATIONS.labels(generation.status).inc()
    if generation.status == Generation.Status.QUEUED:
        transaction.on_commit(lambda: enqueue(generation.pk, generation.step_token, generation.request_id))
    return generation


def _store_input_reference(generation: Generation, request: VideoRequest) -> None:
    """Reference images are stored once per content hash; the same image uploaded again is shared."""
    name = "input_references/" + request.input_reference_storage_name
    if default_storage.exists(name):
        generation.input_reference.name = name
    else:
        generation.input_reference.name = default_storage.save(name, request.input_reference_file)


def _revision_reference(policy, holder: KeyHolder) -> PolicyRevision | None:
    """The deciding revision, from memory: its id and number are all the log and headers need."""
    if policy is None:
        return None
    return PolicyRevision(pk=policy.view.revision_id, number=policy.number, environment_id=holder.environment_id)


def _requested_model(submission: Submission) -> str:
    if submission.request is not None:
        return submission.request.model or ""
    if submission.source is not None:
        return submission.source.resolved_snapshot
    return ""


def enqueue(generation_id: int, step_token: str, request_id: str = "") -> None:
    """Hand a committed generation to the worker; if the broker is away the sweep retries later."""
    from governance.generations.tasks import advance_generation

    args, kwargs = [generation_id], {"step": step_token, "request_id": request_id}
    try:
        # Plain reprs for the message's log fields: Celery's own saferepr costs more than the rest of the message.
        advance_generation.apply_async(args=args, kwargs=kwargs, argsrepr=repr(args), kwargsrepr=repr(kwargs))
    except Exception:
        logger.warning("could not enqueue generation %s; the sweep will retry", generation_id, exc_info=True)


def submit_idempotently(
    *, holder: KeyHolder, key: str | None, fingerprint: str, submit_once: Callable[[], Generation]
) -> Generation:
    """Run `submit_once` at most once per (API key, Idempotency-Key).

    A retry with the same body gets the same generation; a different body is a
    422; a retry while the first request is still being handled is a 409.
    """
    if not key:
        return submit_once()
    if len(key) > 255:
        raise ApiError("invalid_value", "The Idempotency-Key header is longer than 255 characters.", "Idempotency-Key")
    record = _claim(holder, key, fingerprint)
    if record.generation_id is not None:
        return record.generation
    try:
        with transaction.atomic():
            generation = submit_once()
            # Conditional on our claim, so a request that took over an abandoned key wins alone.
            kept = IdempotencyRecord.objects.filter(
                pk=record.pk, created_at=record.created_at, generation__isnull=True
            ).update(generation=generation)
            if not kept:
                raise _in_flight()
    except BaseException:
        IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at, generation__isnull=True).delete()
        raise
    return generation


def _claim(holder: KeyHolder, key: str, fingerprint: str) -> IdempotencyRecord:
    for _ in range(3):  # the record may vanish between our insert and read, when its first request failed
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    api_key_id=holder.api_key_id, key=key, request_fingerprint=fingerprint
                )
        except IntegrityError:
            pass
        existing = (
            IdempotencyRecord.objects.select_related("generation").filter(api_key_id=holder.api_key_id, key=key).first()
        )
        if existing is not None:
            return _existing_claim(existing, fingerprint)
    raise _in_flight()


def _existing_claim(existing: IdempotencyRecord, fingerprint: str) -> IdempotencyRecord:
    if existing.request_fingerprint != fingerprint:
        raise ApiError(
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request body.",
            "Idempotency-Key",
        )
    if existing.generation_id is None:
        taken_over = timezone.now()
        abandoned = IdempotencyRecord.objects.filter(
            pk=existing.pk, generation__isnull=True, created_at=existing.created_at
        ).filter(created_at__lt=taken_over - ABANDONED_IDEMPOTENCY_AFTER)
        if not abandoned.update(created_at=taken_over):
            raise _in_flight()
        existing.created_at = taken_over
    return existing


def _in_flight() -> ApiError:
    return ApiError(
        "idempotency_request_in_flight",
        "A request with this Idempotency-Key is still being processed; retry shortly.",
        "Idempotency-Key",
    )


def expire_idempotency_keys(*, now: dt.datetime | None = None) -> int:
    """Forget Idempotency-Keys after IDEMPOTENCY_KEY_HOURS; the generations they made stay."""
    cutoff = (now or timezone.now()) - dt.timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def delete_video(generation: Generation) -> None:
    """Hide a video from the API, delete our archived copies and remove it upstream; the log row stays for the record.

    An unfinished generation is stopped by the worker, which then deletes it upstream.
    """
    with transaction.atomic():
        generation = Generation.objects.select_for_update().get(pk=generation.pk)
        generation.deleted_at = timezone.now()
        generation.add_to_timeline("deleted")
        generation.save(update_fields=["deleted_at", "timeline"])
        forget_archive([generation.pk])
        ArchivedFile.objects.filter(generation=generation).delete()
        if generation.upstream_id and generation.is_finished:
            from governance.generations.tasks import delete_upstream_video

            transaction.on_commit(lambda: _safely(delete_upstream_video.delay, generation.pk))


def _safely(call: Callable, *args) -> None:
    try:
        call(*args)
    except Exception:
        logger.warning("could not enqueue %s%s", getattr(call, "__name__", call), args, exc_info=True)


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
    for name in names - still_used:
        default_storage.delete(name)
