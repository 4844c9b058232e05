"""Submitting generations: policy decision, the log row, budget and the hand-off to the worker.

The dashboard's playground submits here too, with its environment's own key and the API's admission step.
"""

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from functools import partial

from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone

from governance.audit.services import Actor
from governance.catalog.connections import connection_for
from governance.catalog.selectors import catalog_view, provider_of
from governance.catalog.values import CatalogView
from governance.generations import tracking
from governance.generations.admission import admit
from governance.generations.archive import forget_archive
from governance.generations.budget_leases import draw_on_lease
from governance.generations.models import TRACKED_STEP, ArchivedFile, Character, Generation, new_video_id
from governance.generations.parsing import character_ids, sha256_text, stored_prompt
from governance.generations.submissions import Submission, parse_submission
from governance.generations.tasks import advance_generation, enqueue_upstream_deletion
from governance.generations.uploads import CheckedUpload
from governance.infra.metrics import GENERATIONS
from governance.infra.request_ids import current_request_id
from governance.lib.inserts import insert_new
from governance.policies.engine import (
    Accept,
    ComparisonRun,
    Decision,
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
from governance.policies.services import budget_reservation, ensure_budget_month, reserve_budget
from governance.projects.models import Environment
from governance.projects.selectors import KeyHolder
from governance.projects.services import create_api_key

# A caller's stable identity for canary routing (a user or tenant id); without it the generation id decides.
SUBJECT_HEADER = "X-Governance-Subject"


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
    """Decide and record one generation; an accepted one waits in the outbox for the dispatcher once committed.

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
    lease = None
    if budget is not None and comparison is None:  # a comparison run's submissions share one transaction
        lease = draw_on_lease(
            environment_id=holder.environment_id, now=now, amount=decision.estimated_cost, budget=budget
        )
    if budget is None or lease is not None:
        generation = record(decision, budget_lease=lease)
    else:
        try:
            generation = _record_within_budget(
                record, decision, holder.environment_id, budget, now, submission.operation
            )
        except _OverBudget:
            generation = record(budget_exceeded(decision.estimated_cost, budget))
    GENERATIONS.labels(generation.status).inc()
    return generation


class _OverBudget(Exception):
    pass


def _record_within_budget(
    record: Callable[..., Generation],
    decision: Accept,
    environment_id: int,
    budget: Decimal,
    now: dt.datetime,
    operation: Operation,
) -> Generation:
    """Record an accepted generation and reserve its cost in one transaction, the reservation last.

    The reservation's UPDATE locks the month's spend row until commit, so every submission to the
    environment queues behind it. Taken last, the lock is held for one round trip and the commit,
    not for building and sending the INSERT too. Over budget, the transaction rolls back, and the
    caller records the refusal.
    """
    if connection.vendor == "postgresql" and operation != Operation.CHARACTER:
        return _record_reserving(record, decision, environment_id, budget, now)
    with transaction.atomic():
        generation = record(decision)
        if not reserve_budget(environment_id=environment_id, now=now, amount=decision.estimated_cost, budget=budget):
            raise _OverBudget
    return generation


def _record_reserving(
    record: Callable[..., Generation], decision: Accept, environment_id: int, budget: Decimal, now: dt.datetime
) -> Generation:
    """On PostgreSQL, one statement reserves the cost and inserts the generation only if the reservation held.

    In autocommit, the month's spend row is then locked only while the server runs that statement and
    commits: no round trip to this process, which may be waiting for a CPU, falls inside the lock.
    A character also writes its own row, so it takes the transaction instead.
    """
    reservation = partial(
        budget_reservation, environment_id=environment_id, now=now, amount=decision.estimated_cost, budget=budget
    )
    try:
        return record(decision, reservation=reservation())
    except _OverBudget:
        if not ensure_budget_month(environment_id=environment_id, now=now):
            raise
    return record(decision, reservation=reservation())  # the month's first submission


def _decide(
    holder: KeyHolder, submission: Submission, now: dt.datetime, bucket: int, comparison: ComparisonRun | None = None
):
    """The engine's decision. The month's spend is not read here: `reserve_budget` checks it atomically."""
    policy = policy_in_force(holder.environment_id)
    if submission.invalid is not None:
        return submission.invalid, policy
    if policy is None:
        return Refusal(code="no_policy", message="This environment has no policy yet; an admin must set one."), None
    provider_id = running_provider(policy.provider_id, comparison)
    source = submission.source
    if comparison is None and source is not None and source.provider_id not in (None, provider_id):
        if submission.operation != Operation.REMIX:
            return _source_elsewhere(source, submission.operation), policy
        provider_id = source.provider_id  # a remix runs where its source was made (a canary's provider)
    view = comparison_policy(policy.view, comparison.snapshot) if comparison else policy.view
    decision = decide(submission.engine_request(bucket), view, catalog_view(provider_id), now, _canary_catalog(view))
    if isinstance(decision, Accept):
        decision = missing_character(holder.environment_id, submission) or decision
    if isinstance(decision, Accept) and provider_id != policy.provider_id and decision.provider_id is None:
        decision = replace(decision, provider_id=provider_id)
    if isinstance(decision, Accept):
        decision = _unreachable_provider(_provider_id(decision, policy, comparison)) or decision
    return decision, policy


def _canary_catalog(view) -> CatalogView | None:
    """The canary's provider's catalog; None (no canary: every request stays on the pinned snapshot) when the canary
    is the policy's own provider, or another provider that is not configured here."""
    if view.canary_provider_id is None:
        return None
    if not connection_for(provider_of(view.canary_provider_id)).usable:
        return None
    return catalog_view(view.canary_provider_id)


def _source_elsewhere(source: Generation, operation: str) -> Refusal:
    """An edit or extension is made at the environment's provider, which cannot read a video another provider made."""
    words = "edited" if operation == Operation.EDIT else "extended"
    return Refusal(
        code="source_at_other_provider",
        message=(
            f"This video was made at {source.provider.name} (a canary), not at this environment's provider, so it "
            f"cannot be {words} here. Remix it, or send the video itself as the source."
        ),
        param="video",
    )


def _unreachable_provider(provider_id: int) -> Refusal | None:
    """A provider without credentials (and no simulator to stand in) is refused before anything is reserved."""
    connection = connection_for(provider_of(provider_id))
    if connection.usable:
        return None
    return Refusal(code="provider_not_configured", message=connection.message)


def _provider_id(decision: Decision, policy, comparison: ComparisonRun | None) -> int | None:
    """The provider that runs the request: a canary's at another provider, a comparison run's, or the policy's."""
    if isinstance(decision, Accept) and decision.provider_id is not None:
        return decision.provider_id
    return running_provider(policy.provider_id if policy else None, comparison)


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
    reservation: tuple[str, list] | None = None,
    budget_lease: int | None = None,
) -> Generation:
    """Build and insert the generation's row; with `reservation` (see `_record_reserving`), only if it held.

    `budget_lease` is the lease its cost was drawn on (`budget_leases.draw_on_lease`).
    """
    generation = Generation(
        video_id=video_id,
        purpose=Generation.PURPOSE_COMPARISON if comparison else "",
        project_id=holder.project_id,
        environment_id=holder.environment_id,
        api_key_id=holder.api_key_id,
        submitted_by=submitted_by,
        operation=submission.operation,
        requested_model=_requested_model(submission),
        provider_id=_provider_id(decision, policy, comparison),
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
        generation.budget_lease = budget_lease
        provider = provider_of(generation.provider_id)
        generation.api_version = provider.api_version
        generation.simulated = connection_for(provider).simulated
        _store_uploads(generation, submission)
    else:
        generation.refuse(decision, now, note=note)
    # The request's one statement, compiled once per process; an accepted generation's outbox entry goes with it.
    outbox_entry = generation.new_outbox_entry() if generation.status == Generation.Status.QUEUED else None
    if not insert_new(generation, provided=reservation, followed_by=outbox_entry):
        raise _OverBudget
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
    return _revision_stand_in(policy.view.revision_id, policy.number, holder.environment_id)


@functools.lru_cache(maxsize=1024)
def _revision_stand_in(revision_id: int, number: int, environment_id: int) -> PolicyRevision:
    """One unsaved stand-in per revision, shared by its generations (building a model instance costs a twentieth
    of a submission). A revision never changes, and nothing writes through the stand-in."""
    return PolicyRevision(pk=revision_id, number=number, environment_id=environment_id)


def _requested_model(submission: Submission) -> str:
    if submission.request is not None:
        return submission.request.model or ""
    if submission.source is not None and submission.operation == Operation.REMIX:
        return submission.source.resolved_snapshot
    return ""


def delete_video(generation: Generation) -> None:
    """Hide a video from the API, delete our archived copies and remove it upstream; the log row stays for the record.

    An unfinished generation is stopped by the worker, which then deletes it upstream; one the tracker follows is
    handed back to its step chain at once, rather than at its next poll.
    """
    with transaction.atomic():
        generation = Generation.objects.select_for_update().get(pk=generation.pk)
        generation.deleted_at = timezone.now()
        generation.add_to_timeline("deleted")
        generation.save(update_fields=["deleted_at", "timeline"])
        tracked = generation.step_token == TRACKED_STEP and generation.status in Generation.UNFINISHED
        if tracked and (step := tracking.hand_over(generation)):
            message = {"step": step, "request_id": generation.request_id}
            transaction.on_commit(
                partial(advance_generation.apply_async, args=[generation.pk], kwargs=message), robust=True
            )
        forget_archive([generation.pk])
        ArchivedFile.objects.filter(generation=generation).delete()
        if generation.upstream_id and generation.is_finished:
            transaction.on_commit(lambda: enqueue_upstream_deletion(generation.pk))


PLAYGROUND_KEY_NAME = "Dashboard playground"


def playground_holder(*, environment: Environment, user) -> KeyHolder:
    """The identity the playground submits with: its environment's own API key, created on first use.

    Generations need a key, and every gateway rule (policy, budget, the log, the API's
    per-environment listing) already hangs on one; the key's secret is never kept, so
    only the dashboard can use it. Who pressed the button is recorded on the generation.
    """
    with transaction.atomic():
        # One playground key per environment, even when two people start the playground at once.
        environment = Environment.objects.select_for_update().select_related("project").get(pk=environment.pk)
        api_key = environment.api_keys.active().filter(name=PLAYGROUND_KEY_NAME).first()
        if api_key is None:
            api_key, _secret = create_api_key(
                environment=environment, name=PLAYGROUND_KEY_NAME, actor=Actor.for_user(user), created_by=user
            )
    return KeyHolder(
        api_key_id=api_key.pk,
        prefix=api_key.prefix,
        environment_id=environment.pk,
        environment_name=environment.name,
        project_id=environment.project_id,
        project_slug=environment.project.slug,
        rate_limit_per_minute=environment.rate_limit_per_minute,
    )


class PlaygroundRateLimited(Exception):
    """The playground's key has used this minute's requests; like the gateway's 429, nothing is logged."""

    def __init__(self, holder: KeyHolder, retry_after: int):
        self.retry_after = retry_after
        super().__init__(
            f"The playground of {holder.project_slug}/{holder.environment_name} has made its "
            f"{holder.rate_limit_per_minute} requests this minute: it counts as one API key of the environment, "
            f"and each may make {holder.rate_limit_per_minute} a minute. Try again in {retry_after} s."
        )


def submit_from_playground(*, user, environment: Environment, fields: dict) -> Generation:
    """Submit as the gateway would a create request with these fields: same limit, parsing, policy, log, worker."""
    holder = playground_holder(environment=environment, user=user)
    retry_after = admit(holder)
    if retry_after is not None:
        raise PlaygroundRateLimited(holder, retry_after)
    submission, _fingerprint = parse_submission(Operation.CREATE, body=fields)
    return submit(holder=holder, submission=submission, submitted_by=user)
