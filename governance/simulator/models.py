import datetime as dt
import secrets

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from governance.simulator.snapshots import ALL_SNAPSHOTS, FALLBACK_PACE, Pace

SHARE = [MinValueValidator(0.0), MaxValueValidator(1.0)]

# A prompt holding this marker is refused by every dialect's safety filter, as a provider's
# responsible-AI filter refuses a prompt: the job is accepted, then ends failed.
SAFETY_MARKER = "[unsafe]"
SAFETY_ERROR_CODE = "content_filtered"
SAFETY_MESSAGE = "The prompt was blocked by the provider's safety filter (simulated: the prompt holds [unsafe])."


class SimulatorProfile(models.Model):
    """How one snapshot behaves: speed, job failures and request faults (for demos and fault tests)."""

    snapshot = models.CharField(max_length=100, unique=True)
    latency_seconds = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0)],
        help_text="Seconds from acceptance to a finished job. Empty: the snapshot's default pace per second of video.",
    )
    failure_rate = models.FloatField(
        null=True,
        blank=True,
        validators=SHARE,
        help_text="Share of jobs that end failed. Empty: the default batch rate.",
    )
    error_rate = models.FloatField(default=0.0, validators=SHARE, help_text="Share of API requests answering 500.")
    rate_limit_rate = models.FloatField(
        default=0.0, validators=SHARE, help_text="Share of API requests answering 429 with Retry-After: 1."
    )
    accept_then_timeout = models.BooleanField(
        default=False, help_text="Create the job, then hang the create answer so the client times out after acceptance."
    )
    read_timeout_seconds = models.FloatField(
        default=3.0, validators=[MinValueValidator(0.0)], help_text="How long the create answer hangs."
    )

    def __str__(self) -> str:
        return self.snapshot

    @classmethod
    def for_snapshot(cls, snapshot: str) -> "SimulatorProfile":
        """The stored profile, or an unsaved one holding the defaults."""
        return cls.objects.filter(snapshot=snapshot).first() or cls(snapshot=snapshot)

    @property
    def default_pace(self) -> Pace:
        known = ALL_SNAPSHOTS.get(self.snapshot)
        return known.pace if known else FALLBACK_PACE

    def latency_for(self, seconds: int) -> float:
        if self.latency_seconds is not None:
            return self.latency_seconds
        return self.default_pace.latency_per_video_second * seconds

    @property
    def job_failure_rate(self) -> float:
        return self.failure_rate if self.failure_rate is not None else self.default_pace.failure_rate


def new_video_id() -> str:
    return f"video_{secrets.token_hex(16)}"


class VideoStatus(models.TextChoices):
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"


TERMINAL_STATUSES = {VideoStatus.COMPLETED, VideoStatus.FAILED}


class SimulatedVideoQuerySet(models.QuerySet):
    def live(self) -> "SimulatedVideoQuerySet":
        return self.filter(deleted_at__isnull=True)


class SimulatedVideo(models.Model):
    """One accepted (and, at a real provider, paid) video job.

    Status is not advanced by a worker: it is derived from the time elapsed since
    creation against the job's latency, and the terminal state is saved the first time
    it is observed. Latency and fate are fixed when the job is accepted. Deleting only
    hides the row, so every job ever accepted still counts.
    """

    QUEUED_SHARE = 0.1  # share of the latency a job spends queued before it starts

    video_id = models.CharField(max_length=40, unique=True, default=new_video_id, editable=False)
    model = models.CharField(max_length=100, help_text="The snapshot that runs the job.")
    requested_model = models.CharField(max_length=100, help_text="The model name as the client asked for it.")
    prompt = models.TextField()
    seconds = models.PositiveSmallIntegerField()
    size = models.CharField(max_length=20)
    input_reference = models.JSONField(null=True, blank=True)
    characters = models.JSONField(null=True, blank=True)
    storyboard = models.JSONField(null=True, blank=True)
    style = models.JSONField(null=True, blank=True)
    remixed_from_video_id = models.CharField(max_length=40, null=True, blank=True)
    operation = models.CharField(max_length=16, default="create", help_text="create, remix, edit or extend.")
    dialect = models.CharField(
        max_length=16, default="openai", help_text="Which provider's protocol accepted the job (simulator/dialects)."
    )
    native = models.JSONField(
        default=dict, blank=True, help_text="The provider-specific fields as the dialect received them."
    )
    blocked_by_safety = models.BooleanField(
        default=False, help_text=f"The prompt holds {SAFETY_MARKER!r}: the job ends refused by the safety filter."
    )
    source_video_id = models.CharField(
        max_length=40, blank=True, help_text="The video edited or extended; empty for an uploaded source."
    )
    idempotency_key = models.CharField(max_length=255, null=True, blank=True, unique=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    latency_seconds = models.FloatField()
    destined_to_fail = models.BooleanField(default=False)
    status = models.CharField(max_length=20, choices=VideoStatus.choices, default=VideoStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="As last saved; live progress is derived.")
    error = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = SimulatedVideoQuerySet.as_manager()

    class Meta:
        ordering = ["-pk"]

    def __str__(self) -> str:
        return self.video_id

    @property
    def is_finished(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def observe(self, now: dt.datetime) -> None:
        """Bring status and progress up to `now`; save the terminal state when first reached."""
        if self.is_finished:
            return
        elapsed = max(0.0, (now - self.created_at).total_seconds())
        if elapsed >= self.latency_seconds:
            self._finish()
            return
        queued_for = self.latency_seconds * self.QUEUED_SHARE
        if elapsed < queued_for:
            self.status, self.progress = VideoStatus.QUEUED, 0
        else:
            share = (elapsed - queued_for) / (self.latency_seconds - queued_for)
            self.status, self.progress = VideoStatus.IN_PROGRESS, min(99, int(100 * share))

    def _finish(self) -> None:
        if self.blocked_by_safety:
            self.status, self.progress, self.completed_at = VideoStatus.FAILED, 0, None
            self.error = {"code": SAFETY_ERROR_CODE, "message": SAFETY_MESSAGE}
        elif self.destined_to_fail:
            self.status, self.progress, self.completed_at = VideoStatus.FAILED, 0, None
            self.error = {
                "code": "generation_failed",
                "message": f"Video generation failed on {self.model}. Try again; the simulator fails a share of jobs.",
            }
        else:
            self.status, self.progress, self.error = VideoStatus.COMPLETED, 100, None
            self.completed_at = self.created_at + dt.timedelta(seconds=self.latency_seconds)
        # Only the first observer writes; a concurrent one finds the row already finished.
        SimulatedVideo.objects.filter(pk=self.pk).exclude(status__in=TERMINAL_STATUSES).update(
            status=self.status, progress=self.progress, error=self.error, completed_at=self.completed_at
        )

    def as_openai(self) -> dict:
        """OpenAI's `video` object, as of the last `observe()`."""
        return {
            "id": self.video_id,
            "object": "video",
            "model": self.model,
            "status": self.status,
            "progress": self.progress,
            "created_at": int(self.created_at.timestamp()),
            "completed_at": int(self.completed_at.timestamp()) if self.completed_at else None,
            "expires_at": None,
            "prompt": self.prompt,
            "seconds": str(self.seconds),
            "size": self.size,
            "remixed_from_video_id": self.remixed_from_video_id,
            "error": self.error,
        }


def new_character_id() -> str:
    return "char_" + secrets.token_hex(12)


class SimulatedCharacter(models.Model):
    """A character (cameo) made from an uploaded video, as the Videos API keeps one."""

    character_id = models.CharField(max_length=40, unique=True, default=new_character_id, editable=False)
    name = models.CharField(max_length=200)
    model = models.CharField(max_length=100)
    video_sha256 = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.character_id

    def as_openai(self) -> dict:
        return {"id": self.character_id, "name": self.name, "created_at": int(self.created_at.timestamp())}


class SimulatedModelListing(models.Model):
    """A change to what the simulator's `GET /v1/models` lists: a shutdown date announced, or a new model.

    The catalog's provider sync reads that endpoint; tests and demos change the
    listing here to see an announcement travel through the product.
    """

    name = models.CharField(max_length=100, unique=True)
    shutdown_date = models.DateField(null=True, blank=True)
    released_on = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name
