"""Submitting generations: policy decision, the log row, budget and the hand-off to the worker."""

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from types import SimpleNamespace

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from governance.audit.services import Actor, record_event
from governance.catalog.selectors import catalog_view
from governance.generations.archive import forget_archive
from governance.generations.errors import ApiError
from governance.generations.models import (
    ArchivedFile,
    Character,
    Generation,
    IdempotencyRecord,
    new_video_id,
)
from governance.generations.parsing import (
    CharacterRequest,
    SourceRequest,
    VideoRequest,
    character_ids,
    clean_text,
    fields_fingerprint,
    parse_video_request,
    sha256_text,
    stored_prompt,
)
from governance.generations.uploads import CheckedUpload
from governance.infra.metrics import GENERATIONS
from governance.infra.request_ids import current_request_id
from governance.policies.engine import (
    DEFAULT_SECONDS,
    Accept,
    ComparisonRun,
    Decision,
    GenerationRequest,
    Operation,
    Refusal,
    budget_exceeded,
    comparison_policy,
    decide,
    routing_bucket,
    running_provider,
)
from governance.policies.models import PolicyRevision
from governance.policies.selectors import month_start, policy_in_force
from governance.policies.services import reserve_budget
from governance.projects.selectors import KeyHolder

logger = logging.getLogger(__name__)

# A caller's stable identity for canary routing (a user or tenant id); without it the generation id decides.
SUBJECT_HEADER = "X-Governance-Subject"

# An Idempotency-Key whose first request never finished (the process died) is taken over after this.
ABANDONED_IDEMPOTENCY_AFTER = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class Submission:
    """What a client asked for, in the terms the policy engine and the log need.

    `source` is the generation a remix, edit or extension starts from (its lineage);
    an edit or extension may instead carry an uploaded source video in `derived`.
    """

    operation: str
    prompt: str
    request: VideoRequest | None = None
    source: Generation | None = None
    invalid: Refusal | None = None
    remix_of: str = ""
    derived: SourceRequest | None = None
    character: CharacterRequest | None = None

    def engine_request(self, bucket: int = 0) -> GenerationRequest:
        if self.operation == Operation.REMIX:
            return GenerationRequest(
                operation=Operation.REMIX,
                model=self.source.resolved_snapshot,
                seconds=self.source.seconds,
                size=self.source.size,
                routing_bucket=bucket,
            )
        if self.operation in (Operation.EDIT, Operation.EXTEND):
            # No model is named: today's policy decides, whichever snapshot made the source.
            source_seconds = self._source_seconds()
            extension = self.operation == Operation.EXTEND
            return GenerationRequest(
                operation=self.operation,
                seconds=self.derived.seconds if extension else source_seconds,
                source_seconds=source_seconds if extension else 0,
                size=(self.source.size if self.source else "") or None,
                routing_bucket=bucket,
            )
        if self.operation == Operation.CHARACTER:
            return GenerationRequest(operation=Operation.CHARACTER, routing_bucket=bucket)
        return GenerationRequest(
            operation=Operation.CREATE,
            model=self.request.model,
            seconds=self.request.seconds,
            size=self.request.size,
            features=self.request.features,
            routing_bucket=bucket,
        )

    def _source_seconds(self) -> int:
        if self.source is not None and self.source.seconds:
            return self.source.seconds
        sniffed = self.derived.upload.sniffed.seconds if self.derived and self.derived.upload else None
        return max(1, round(sniffed)) if sniffed else DEFAULT_SECONDS

    def parameters(self) -> dict:
        if self.request is not None:
            return self.request.parameters()
        values: dict = {}
        if self.derived is not None:
            values = self.derived.parameters()
        if self.character is not None:
            values = self.character.parameters()
        if self.remix_of:
            values["remix_of" if self.operation == Operation.REMIX else "source_video_id"] = clean_text(
                self.remix_of[:100]
            )
        if self.source is not None:
            values["source"] = source_lineage(self.source)
        return values

    @property
    def upload(self) -> CheckedUpload | None:
        """The uploaded source or character video, if any."""
        if self.derived is not None:
            return self.derived.upload
        return self.character.upload if self.character is not None else None


def source_lineage(source: Generation) -> dict:
    """What the log keeps of a derived video's source: which video, made on which snapshot, under which policy."""
    return {
        "video_id": source.video_id,
        "operation": source.operation,
        "snapshot": source.resolved_snapshot,
        "policy_revision": source.policy_revision.number if source.policy_revision_id else None,
    }


def create_submission(fields: dict, files: dict) -> tuple[Submission, str]:
    """A create request's fields as the gateway reads them, and the body's fingerprint for Idempotency-Key checks.

    A malformed request becomes a submission carrying its refusal, so it is logged like any other.
    """
    try:
        video = parse_video_request(fields, files)
    except ApiError as error:
        prompt = fields.get("prompt") if isinstance(fields.get("prompt"), str) else ""
        submission = Submission(operation=Operation.CREATE, prompt=prompt, invalid=error.refusal)
        return submission, fields_fingerprint(f"invalid:{error.refusal.code}", fields)
    return Submission(operation=Operation.CREATE, prompt=video.prompt, request=video), video.fingerprint()


def missing_character(environment_id: int, submission: Submission) -> Refusal | None:
    """A character is usable only in the environment that made it; elsewhere it does not exist."""
    ids = character_ids(submission.request.extensions.get("characters")) if submission.request else []
    if not ids:
        return None
    found = set(
        Character.objects.filter(environment_id=environment_id, character_id__in=ids).values_list(
            "character_id", flat=True
        )
    )
    for character_id in ids:
        if character_id not in found:
            return Refusal("character_not_found", f"No character '{character_id}' in this environment.", "characters")
    return None


def submit(
    *,
    holder: KeyHolder,
    submission: Submission,
    now: dt.datetime | None = None,
    submitted_by=None,
    subject: str = "",
    comparison: ComparisonRun | None = None,
) -> Generation:
    """Decide and record one generation; accepted ones are handed to the worker once committed.

    `submitted_by` is the signed-in user when the dashboard's playground submits on their behalf.
    `subject` (the caller's `X-Governance-Subject`) keeps a caller in one canary arm; without it the
    new generation's id decides, so each request is assigned independently but reproducibly.
    `comparison` marks a migration plan's comparison run, which may also run the plan's snapshot.
    """
    now = now or timezone.now()
    video_id = new_video_id()
    bucket = routing_bucket(subject or video_id)
    decision, policy = _decide(holder, submission, now, bucket, comparison)
    record = partial(
        _record,
        holder,
        submission,
        policy=policy,
        now=now,
        submitted_by=submitted_by,
        video_id=video_id,
        comparison=comparison,
    )
    budget = policy.view.monthly_budget if isinstance(decision, Accept) else None
    if budget is None:
        generation = record(decision)
    else:
        try:
            generation = _record_within_budget(record, decision, holder.environment_id, budget, now)
        except _OverBudget:
            generation = record(budget_exceeded(decision.estimated_cost, budget))
    GENERATIONS.labels(generation.status).inc()
    return generation


class _OverBudget(Exception):
    pass


def _record_within_budget(
    record: Callable[..., Generation], decision: Accept, environment_id: int, budget: Decimal, now: dt.datetime
) -> Generation:
    """Record an accepted generation and reserve its cost in one transaction, the reservation last.

    The reservation's UPDATE locks the month's spend row until commit, so every submission to the
    environment queues behind it. Taken last, the lock is held for one round trip and the commit,
    not for building and sending the INSERT too. Over budget, the transaction rolls back, its
    on-commit publish with it, and the caller records the refusal.
    """
    with transaction.atomic():
        generation = record(decision)
        if not reserve_budget(environment_id=environment_id, now=now, amount=decision.estimated_cost, budget=budget):
            raise _OverBudget
    return generation


def _decide(
    holder: KeyHolder, submission: Submission, now: dt.datetime, bucket: int, comparison: ComparisonRun | None = None
):
    """The engine's decision. The month's spend is not read here: `reserve_budget` checks it atomically."""
    policy = policy_in_force(holder.environment_id)
    if submission.invalid is not None:
        return submission.invalid, policy
    if policy is None:
        return Refusal(code="no_policy", message="This environment has no policy yet; an admin must set one."), None
    catalog = catalog_view(running_provider(policy.provider_id, comparison))
    view = comparison_policy(policy.view, comparison.snapshot) if comparison else policy.view
    decision = decide(submission.engine_request(bucket), view, catalog, now)
    if isinstance(decision, Accept):
        decision = missing_character(holder.environment_id, submission) or decision
    return decision, policy


def _record(
    holder: KeyHolder,
    submission: Submission,
    decision: Decision,
    *,
    policy,
    now: dt.datetime,
    submitted_by=None,
    video_id: str,
    comparison: ComparisonRun | None = None,
) -> Generation:
    generation = Generation(
        video_id=video_id,
        purpose=Generation.PURPOSE_COMPARISON if comparison else "",
        project_id=holder.project_id,
        environment_id=holder.environment_id,
        api_key_id=holder.api_key_id,
        submitted_by=submitted_by,
        operation=submission.operation,
        requested_model=_requested_model(submission),
        provider_id=running_provider(policy.provider_id if policy else None, comparison),
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
    if submission.upload is not None:
        generation.source_video_sha256 = submission.upload.sha256
    note = _timeline_note(submission, decision)
    if isinstance(decision, Accept):
        budget_month = month_start(now) if policy.view.monthly_budget is not None else None
        generation.accept(decision, now, budget_month=budget_month, note=note)
        _store_uploads(generation, submission)
    else:
        generation.refuse(decision, now, note=note)
    generation.save()
    if submission.operation == Operation.CHARACTER and generation.status == Generation.Status.QUEUED:
        Character.objects.create(
            project_id=holder.project_id,
            environment_id=holder.environment_id,
            generation=generation,
            name=submission.character.name,
            resolved_snapshot=generation.resolved_snapshot,
            video_sha256=submission.character.upload.sha256,
            api_key_id=holder.api_key_id,
            created_by=submitted_by,
            created_at=now,
        )
    if generation.status == Generation.Status.QUEUED:
        transaction.on_commit(lambda: enqueue(generation.pk, generation.step_token, generation.request_id))
    return generation


def _store_uploads(generation: Generation, submission: Submission) -> None:
    """An accepted generation keeps its uploads: a reference image, a source or a character video."""
    request = submission.request
    if request is not None and request.input_reference_upload is not None:
        generation.input_reference.name = _store_upload("input_references", request.input_reference_upload)
    if submission.derived is not None and submission.derived.upload is not None:
        generation.source_video.name = _store_upload("source_videos", submission.derived.upload)
    if submission.character is not None:
        generation.source_video.name = _store_upload("source_videos", submission.character.upload)


def _store_upload(folder: str, upload: CheckedUpload) -> str:
    """Uploads are stored once per content hash; the same file uploaded again is shared."""
    name = f"{folder}/{upload.storage_name}"
    if default_storage.exists(name):
        return name
    return default_storage.save(name, upload.file)


def _timeline_note(submission: Submission, decision: Decision) -> str:
    note = decision.code if isinstance(decision, Refusal) else decision.snapshot
    source = submission.source
    if source is not None and submission.operation != Operation.REMIX:
        note += f"; source {source.video_id} was made on {source.resolved_snapshot}"
    return note


def _revision_reference(policy, holder: KeyHolder) -> PolicyRevision | None:
    """The deciding revision, from memory: its id and number are all the log and headers need."""
    if policy is None:
        return None
    return PolicyRevision(pk=policy.view.revision_id, number=policy.number, environment_id=holder.environment_id)


def _requested_model(submission: Submission) -> str:
    if submission.request is not None:
        return submission.request.model or ""
    if submission.source is not None and submission.operation == Operation.REMIX:
        return submission.source.resolved_snapshot
    return ""


# Celery checks the task queue's declaration at every publish, copying kombu's queue and exchange to look
# them up: 4% of a POST's instructions. A process's first successful publish declares the queue; later ones
# skip the check. The queue is durable and every worker declares it too, and a publish lost to a queue
# deleted under a running process is sent again by beat's sweep.
PUBLISHING = SimpleNamespace(queue_declared=False)


def enqueue(generation_id: int, step_token: str, request_id: str = "") -> None:
    """Hand a committed generation to the worker; if the broker is away the sweep retries later."""
    from governance.generations.tasks import advance_generation

    args, kwargs = [generation_id], {"step": step_token, "request_id": request_id}
    try:
        # Plain reprs for the message's log fields: Celery's own saferepr costs more than the rest of the message.
        advance_generation.apply_async(
            args=args,
            kwargs=kwargs,
            argsrepr=repr(args),
            kwargsrepr=repr(kwargs),
            declare=[] if PUBLISHING.queue_declared else None,
        )
        PUBLISHING.queue_declared = True
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
