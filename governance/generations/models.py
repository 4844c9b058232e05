import datetime as dt
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.utils import timezone

from governance.generations import upstream
from governance.policies import engine
from governance.projects.models import Environment, Project


def new_video_id() -> str:
    return "video_" + secrets.token_hex(16)


RUNNING_STEP_PREFIX = "running-"
# The step token of a generation whose provider job the tracker polls (tracking.py): no message carries it.
TRACKED_STEP = "tracked"


def new_step_token(*, running: bool = False) -> str:
    """A waiting step's token (the message that may take it carries it) or a running step's (its lease)."""
    if running:
        return RUNNING_STEP_PREFIX + secrets.token_hex(12)
    return secrets.token_hex(16)


def is_running_step(token: str) -> bool:
    return token.startswith(RUNNING_STEP_PREFIX)


@dataclass(frozen=True)
class LogFilters:
    """Which rows of the generation log a reader asked for: the log page, the usage page and the exports alike.

    `within_projects` holds the projects (or their ids) the reader may see; None: every project.
    Times are UTC; `since` is inclusive, `until` exclusive.
    """

    within_projects: Iterable[Project | int] | None = None
    project: Project | None = None
    environment: str = ""
    snapshot: str = ""
    status: str = ""
    operation: str = ""
    since: dt.datetime | None = None
    until: dt.datetime | None = None


class GenerationQuerySet(models.QuerySet):
    def in_log(self, filters: LogFilters) -> "GenerationQuerySet":
        """The rows `filters` select. Project and environment go in as lists of ids, not subqueries or joins,
        so the planner can weigh their indexes against the recent-rows one."""
        rows = self
        if filters.within_projects is not None:
            rows = rows.filter(project__in=list(filters.within_projects))
        if filters.project is not None:
            rows = rows.filter(project=filters.project)
        if filters.environment:
            environments = Environment.objects.filter(name=filters.environment)
            if filters.project is not None:
                environments = environments.filter(project=filters.project)
            rows = rows.filter(environment_id__in=list(environments.values_list("pk", flat=True)))
        if filters.snapshot:
            rows = rows.filter(resolved_snapshot=filters.snapshot)
        if filters.status:
            rows = rows.filter(status=filters.status)
        if filters.operation:
            rows = rows.filter(operation=filters.operation)
        if filters.since is not None:
            rows = rows.filter(created_at__gte=filters.since)
        if filters.until is not None:
            rows = rows.filter(created_at__lt=filters.until)
        return rows

    def older_than(self, cursor: int | None) -> "GenerationQuerySet":
        """Rows after the cursor row in the log's order (newest first by creation, then id): the log's pages.

        The redundant `<=` lets the database start the index scan there.
        """
        if cursor is None:
            return self
        cursor_at = Generation.objects.filter(pk=cursor).values_list("created_at", flat=True).first()
        if cursor_at is None:  # the row is gone (retention): ids still order the log well enough
            return self.filter(pk__lt=cursor)
        return self.filter(created_at__lte=cursor_at).filter(
            models.Q(created_at__lt=cursor_at) | models.Q(created_at=cursor_at, pk__lt=cursor)
        )

    def visible_to_api(self) -> "GenerationQuerySet":
        """What the Videos API shows a key: accepted videos, not deleted (characters are not videos).

        A migration plan's comparison runs are its evidence, not the environment's videos: no key lists,
        reads, remixes or deletes them, whoever's key submitted them.
        """
        return (
            self.exclude(status=Generation.Status.REFUSED)
            .exclude(operation=Generation.Operation.CHARACTER)
            .exclude(purpose=Generation.PURPOSE_COMPARISON)
            .filter(deleted_at__isnull=True)
        )

    def unfinished(self) -> "GenerationQuerySet":
        return self.filter(status__in=Generation.UNFINISHED)

    def awaiting_dispatch(self) -> "GenerationQuerySet":
        """The outbox: accepted generations whose first step nobody has sent yet (they have an `OutboxEntry`)."""
        return self.filter(outbox_entry__isnull=False)

    def delivered_as(self, sha256: str) -> "GenerationQuerySet":
        """Completed videos whose file, as we delivered it or as the provider sent it, has this SHA-256."""
        return self.filter(
            models.Q(status=Generation.Status.COMPLETED, archived_files__variant=ArchivedFile.Variant.VIDEO)
            & (models.Q(archived_files__sha256=sha256) | models.Q(archived_files__upstream_sha256=sha256))
        )

    def health_outcomes(self) -> "GenerationQuerySet":
        """Finished jobs that say how a snapshot performs: completed or failed, not stopped by the client's delete."""
        return self.filter(models.Q(status=Generation.Status.COMPLETED) | Generation.COUNTS_AS_FAILURE)


class Generation(models.Model):
    """One request through the gateway, accepted or refused, and everything that happened to it."""

    class Status(models.TextChoices):
        REFUSED = "refused", "Refused"
        QUEUED = "queued", "Queued"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    PURPOSE_COMPARISON = "comparison"

    UNFINISHED = [Status.QUEUED, Status.IN_PROGRESS]
    FINISHED = [Status.REFUSED, Status.COMPLETED, Status.FAILED]

    # A video its client deleted before it finished ends as failed with this code. The client chose to stop
    # it, so failure and success rates (overview, usage, health gates, benchmarks) leave it out.
    DELETED_BY_CLIENT = "deleted"
    # A provider's safety refusal (Veo's responsible-AI filter, a moderation failure) says what was asked,
    # not how the snapshot performs: it is counted apart, not as a failure. So is a quota error, shown in usage.
    CONTENT_FILTERED = upstream.CONTENT_FILTERED
    QUOTA_EXCEEDED = upstream.QUOTA_EXCEEDED
    FILTERED = models.Q(status=Status.FAILED, error_code=CONTENT_FILTERED)
    OUT_OF_QUOTA = models.Q(status=Status.FAILED, error_code=QUOTA_EXCEEDED)
    COUNTS_AS_FAILURE = models.Q(status=Status.FAILED) & ~models.Q(error_code__in=[DELETED_BY_CLIENT, CONTENT_FILTERED])

    # The policy engine names the operations; the log shows them with these labels.
    Operation = engine.Operation
    OPERATION_CHOICES = [
        (Operation.CREATE, "Create"),
        (Operation.REMIX, "Remix"),
        (Operation.EDIT, "Edit"),
        (Operation.EXTEND, "Extension"),
        (Operation.CHARACTER, "Character"),
    ]

    video_id = models.CharField(max_length=40, unique=True, default=new_video_id)
    # No index of their own: the log's indexes lead with them (generation_log_project, generation_env_recent),
    # and each index is one more write on every submission.
    project = models.ForeignKey(
        "projects.Project", on_delete=models.PROTECT, related_name="generations", db_index=False
    )
    environment = models.ForeignKey(
        "projects.Environment", on_delete=models.PROTECT, related_name="generations", db_index=False
    )
    api_key = models.ForeignKey("projects.ApiKey", on_delete=models.PROTECT, related_name="generations")
    # Set when a signed-in user submitted through the dashboard's playground (with its environment's playground key).
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    operation = models.CharField(max_length=16, choices=OPERATION_CHOICES, default=Operation.CREATE)
    requested_model = models.CharField(max_length=100, blank=True)
    resolved_snapshot = models.CharField(max_length=100, blank=True)
    provider = models.ForeignKey("catalog.Provider", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    api_version = models.CharField(
        max_length=40, blank=True, help_text="The provider API version the request ran under, where it has one."
    )
    simulated = models.BooleanField(
        default=False, help_text="Run by the built-in simulator's dialect of the provider, not the provider itself."
    )
    policy_revision = models.ForeignKey(
        "policies.PolicyRevision", null=True, blank=True, on_delete=models.PROTECT, related_name="generations"
    )
    canary_arm = models.CharField(max_length=8, blank=True)
    # "comparison" for a migration plan's comparison run: excluded from canary health, shown apart in the log.
    purpose = models.CharField(max_length=16, blank=True)
    # The source generation of a remix, edit or extension (the lineage). A derived video outlives its
    # source under retention; parameters keep the source's id and the snapshot that made it.
    remixed_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="remixes")

    prompt = models.TextField(blank=True)
    prompt_sha256 = models.CharField(max_length=64, blank=True)
    seconds = models.PositiveSmallIntegerField(null=True, blank=True)
    size = models.CharField(max_length=16, blank=True)
    parameters = models.JSONField(default=dict, help_text="Every parameter as received.")
    input_reference = models.FileField(upload_to="input_references/", max_length=200, blank=True)
    input_reference_sha256 = models.CharField(max_length=64, blank=True)
    # An uploaded source video (edit, extension) or character video, stored once per content hash.
    source_video = models.FileField(upload_to="source_videos/", max_length=200, blank=True)
    source_video_sha256 = models.CharField(max_length=64, blank=True)

    status = models.CharField(max_length=16, choices=Status.choices)
    progress = models.PositiveSmallIntegerField(default=0)
    timeline = models.JSONField(default=list, help_text="[{status, at, note}] in order.")
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    error_param = models.CharField(max_length=64, blank=True)

    upstream_id = models.CharField(
        max_length=255, blank=True, help_text="The provider's id of the job (a Vertex operation's full name fits)."
    )
    upstream_attempts = models.PositiveSmallIntegerField(default=0)
    create_sent_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When a create was sent to a provider that takes no idempotency key; see worker.py.",
    )
    next_check_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The one worker message allowed to take the next step; any other message for this row is stale.
    step_token = models.CharField(max_length=32, blank=True)
    sweeps = models.PositiveSmallIntegerField(
        default=0, help_text="Times the sweep sent the current step again; each time it waits twice as long."
    )
    # The X-Request-ID of the request that created it; the worker logs its steps under the same id.
    request_id = models.CharField(max_length=128, blank=True)
    estimated_cost = models.DecimalField(max_digits=10, decimal_places=4, default=0)
    budget_month = models.DateField(null=True, blank=True)
    # The budget lease (policies.BudgetLease) its cost was drawn from; kept after the lease is settled and gone.
    budget_lease = models.BigIntegerField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    # What each step of the worker writes, always conditionally on the row being unfinished (see
    # `_save_while_unfinished`). The provider's job (its id, the attempts and when it started) is
    # kept by whichever state the step that submitted or polled it ends in.
    UPSTREAM_FIELDS = ("upstream_id", "upstream_attempts", "started_at", "api_version", "simulated")
    PROGRESS_FIELDS = (*UPSTREAM_FIELDS, "status", "progress", "timeline", "next_check_at")
    RETRY_FIELDS = ("upstream_attempts", "timeline", "next_check_at", "create_sent_at")
    FINAL_FIELDS = (*UPSTREAM_FIELDS, "status", "completed_at", "timeline", "next_check_at")
    COMPLETE_FIELDS = (*FINAL_FIELDS, "progress", "expires_at")
    FAIL_FIELDS = (*FINAL_FIELDS, "error_code", "error_message")

    objects = GenerationQuerySet.as_manager()

    class Meta:
        ordering = ["-pk"]
        # The dashboard log reads newest first, (created_at, id) descending, with at most one of these filters
        # leading; each index serves one filter and the order, so a page is a short index range scan.
        indexes = [
            models.Index(fields=["environment", "-id"], name="generation_env_recent"),
            models.Index(fields=["-created_at", "-id"], name="generation_log_recent"),
            models.Index(fields=["project", "-created_at", "-id"], name="generation_log_project"),
            models.Index(fields=["environment", "-created_at", "-id"], name="generation_log_environment"),
            models.Index(fields=["status", "-created_at", "-id"], name="generation_log_status"),
            models.Index(fields=["resolved_snapshot", "-created_at", "-id"], name="generation_log_snapshot"),
            models.Index(fields=["operation", "-created_at", "-id"], name="generation_log_operation"),
            # The tracker reads the generations it polls every second: a small index of only those.
            models.Index(
                fields=["provider", "started_at"], name="generation_tracked", condition=models.Q(step_token="tracked")
            ),
        ]

    def __str__(self) -> str:
        return self.video_id

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def is_comparison(self) -> bool:
        """A migration plan's comparison run, which the policy engine rechecks by its own rules."""
        return self.purpose == self.PURPOSE_COMPARISON

    @property
    def deleted_by_client(self) -> bool:
        """Stopped because its client deleted it before it finished: the client's choice, not a failure."""
        return self.status == self.Status.FAILED and self.error_code == self.DELETED_BY_CLIENT

    @property
    def status_label(self) -> str:
        """The status in words, telling a client's deletion apart from a failure."""
        return "Deleted by the client before it finished" if self.deleted_by_client else self.get_status_display()

    @property
    def latency_seconds(self) -> float | None:
        if self.completed_at is None:
            return None
        return (self.completed_at - self.created_at).total_seconds()

    @property
    def cost(self):
        """What the generation cost: its estimate once completed, nothing otherwise."""
        return self.estimated_cost if self.status == self.Status.COMPLETED else 0

    @property
    def source(self) -> "Generation | None":
        """The generation this one remixes, edits or extends."""
        return self.remixed_from

    def add_to_timeline(self, status: str, note: str = "") -> None:
        entry = {"status": status, "at": timezone.now().isoformat()}
        if note:
            entry["note"] = note
        self.timeline = [*self.timeline, entry]

    def refuse(self, refusal: engine.Refusal, now: dt.datetime, *, note: str = "") -> None:
        """A new generation the gateway refused (the request, the policy or the budget), before it is first saved."""
        self.status = self.Status.REFUSED
        self.error_code, self.error_message = refusal.code, refusal.message
        self.error_param = refusal.param or ""
        self.completed_at = now
        self.add_to_timeline(self.status, note)

    def accept(
        self, decision: engine.Accept, now: dt.datetime, *, budget_month: dt.date | None, note: str = ""
    ) -> None:
        """A new generation the policy accepted, queued for the worker, before it is first saved.

        Its first step's token is set here. Its row is inserted with its `OutboxEntry` (`new_outbox_entry()`), in one
        statement, and the dispatcher sends its first step (tasks.dispatch_outbox). Its next check is when the sweep
        sends that step again if nobody has taken it by then.
        """
        self.status = self.Status.QUEUED
        self.resolved_snapshot = decision.snapshot
        self.canary_arm = decision.arm
        self.seconds, self.size = decision.seconds, decision.size
        if self.operation == self.Operation.CHARACTER:  # a character is not a video: it has no length
            self.seconds = None
        self.estimated_cost = decision.estimated_cost
        self.budget_month = budget_month
        self.next_check_at = now + dt.timedelta(seconds=settings.GENERATION_STALL_SECONDS)
        self.step_token = new_step_token()
        self.add_to_timeline(self.status, note)

    def new_outbox_entry(self) -> "OutboxEntry":
        """The message that sends this accepted generation's first step, inserted with its row."""
        return OutboxEntry(
            generation=self, step_token=self.step_token, request_id=self.request_id, accepted_at=self.created_at
        )

    def note_create_sent(self) -> bool:
        """A create is about to go to a provider that takes no idempotency key: remembered before it is sent,
        so that a repeated step knows a job may exist there. False if a final state was saved first."""
        self.create_sent_at = timezone.now()
        return self._save_while_unfinished(("create_sent_at",))

    def start_upstream(self, upstream_id: str, note: str, *, api_version: str = "", simulated: bool = False) -> None:
        """The provider took the job; saved with the state the step ends in (`UPSTREAM_FIELDS`), with what ran it:
        the provider's API version and whether the simulator's dialect of it answered."""
        self.api_version, self.simulated = api_version, simulated
        self.upstream_id = upstream_id
        self.upstream_attempts = 0
        self.started_at = timezone.now()
        self.add_to_timeline("submitted", note)

    def note_progress(self, status: str, progress: int, *, next_check_at: dt.datetime) -> bool:
        """The provider's report on an unfinished job. False if a final state was saved first."""
        if status == self.Status.IN_PROGRESS and self.status != status:
            self.add_to_timeline(status)
        self.status = status
        self.progress = progress
        self.next_check_at = next_check_at
        return self._save_while_unfinished(self.PROGRESS_FIELDS)

    def note_retry(self, attempts: int, note: str, *, next_check_at: dt.datetime) -> bool:
        """A provider call failed and is tried again. False if a final state was saved first."""
        self.upstream_attempts = attempts
        self.add_to_timeline("retrying", note)
        self.next_check_at = next_check_at
        return self._save_while_unfinished(self.RETRY_FIELDS)

    def complete(self, *, expires_at: dt.datetime | None = None) -> bool:
        """The video is ready (and archived). False if a final state was saved first."""
        self.status = self.Status.COMPLETED
        self.progress = 100
        self.completed_at = timezone.now()
        self.next_check_at = None
        if expires_at is not None:
            self.expires_at = expires_at
        self.add_to_timeline(self.Status.COMPLETED)
        return self._save_while_unfinished(self.COMPLETE_FIELDS)

    def fail(self, code: str, message: str) -> bool:
        """A final failure. False if a final state was saved first.

        A provider's code is whatever its JSON held: kept as text, cut to the column, so saving never fails on it,
        and the timeline notes the same text.
        """
        code = str(code)[: self._meta.get_field("error_code").max_length]
        self.status = self.Status.FAILED
        self.error_code, self.error_message = code, message
        self.completed_at = timezone.now()
        self.next_check_at = None
        self.add_to_timeline(self.Status.FAILED, code)
        return self._save_while_unfinished(self.FAIL_FIELDS)

    def _save_while_unfinished(self, fields: tuple[str, ...]) -> bool:
        """Write fields only while the row is unfinished, so a late duplicate step cannot undo a final state."""
        values = {field: getattr(self, field) for field in fields}
        return bool(Generation.objects.filter(pk=self.pk, status__in=self.UNFINISHED).update(**values))


class OutboxEntry(models.Model):
    """An accepted generation whose first step nobody has sent yet: the outbox, one narrow row per generation.

    Inserted in the statement that inserts the generation (`insert_new(..., followed_by=...)`), so nothing accepted
    is without it; the dispatcher publishes its step and deletes it. The generation's own row is not written at
    dispatch: a second version of its 44 columns across its indexes, on the table's newest pages where the
    requests insert, was most of what a dispatch cost the database (docs/benchmarks.md).
    """

    generation = models.OneToOneField(
        Generation, on_delete=models.CASCADE, primary_key=True, related_name="outbox_entry"
    )
    step_token = models.CharField(max_length=32)
    request_id = models.CharField(max_length=128, blank=True)
    accepted_at = models.DateTimeField()

    class Meta:
        db_table = "generations_outbox"

    def __str__(self) -> str:
        return f"first step of generation {self.generation_id}"


class IdempotencyRecord(models.Model):
    """A client's Idempotency-Key, scoped to its API key, and the generation it produced.

    Committed before the work starts, so a concurrent retry sees it and gets a 409
    instead of waiting; `generation` is set in the same transaction as the generation.
    """

    api_key = models.ForeignKey("projects.ApiKey", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    generation = models.ForeignKey(Generation, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["api_key", "key"], name="one_idempotency_key_per_api_key")]


def new_character_id() -> str:
    return "char_" + secrets.token_hex(16)


class Character(models.Model):
    """A character (cameo) made in one project environment, usable and visible only there."""

    character_id = models.CharField(max_length=40, unique=True, default=new_character_id)
    project = models.ForeignKey("projects.Project", on_delete=models.PROTECT, related_name="characters")
    environment = models.ForeignKey("projects.Environment", on_delete=models.PROTECT, related_name="characters")
    generation = models.OneToOneField(Generation, on_delete=models.PROTECT, related_name="character")
    name = models.CharField(max_length=200)
    resolved_snapshot = models.CharField(max_length=100)
    # Set by the worker once the provider made the character; until then a video using it waits.
    upstream_id = models.CharField(max_length=100, blank=True)
    video_sha256 = models.CharField(max_length=64, blank=True)
    api_key = models.ForeignKey("projects.ApiKey", on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.character_id})"


class ArchivedFile(models.Model):
    """One file of a completed generation, kept in our archive storage as it is delivered (signed or not).

    Every later download streams this file; the provider's link may have expired or the provider gone.
    """

    class Variant(models.TextChoices):
        VIDEO = "video", "Video"
        THUMBNAIL = "thumbnail", "Thumbnail"

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="archived_files")
    variant = models.CharField(max_length=16, choices=Variant.choices)
    name = models.CharField(max_length=255, help_text="The file's name in the archive storage.")
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True, help_text="Of the file as we deliver it.")
    upstream_sha256 = models.CharField(max_length=64, db_index=True, help_text="Of the file as the provider sent it.")
    upstream_size = models.PositiveBigIntegerField()
    signed = models.BooleanField(default=False)
    certificate_fingerprint = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the claim-signing certificate that signed it."
    )
    unsigned_reason = models.CharField(max_length=200, blank=True)
    upstream_manifest = models.BooleanField(
        default=False, help_text="The provider's file carried a C2PA manifest; it is kept as an ingredient."
    )
    perceptual_hashes = models.JSONField(default=list, help_text="Perceptual hashes (hex) of a few frames.")
    archived_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["generation_id", "variant"]
        constraints = [models.UniqueConstraint(fields=["generation", "variant"], name="one_archived_file_per_variant")]

    def __str__(self) -> str:
        return self.name
