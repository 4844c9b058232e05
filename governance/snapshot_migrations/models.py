"""Migration plans: moving one environment from one snapshot to another, checked, signed off and rolled out."""

import datetime as dt
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.functional import cached_property

from governance.policies.models import PolicyRevision
from governance.projects.models import Role

DEFAULT_STAGES = [10, 50, 100]
DEFAULT_WINDOW = dt.timedelta(hours=24)
WEB_LINK_SCHEMES = ("https://", "http://")


class StepKind(models.TextChoices):
    COMPATIBILITY = "compatibility", "Prompt compatibility tests"
    BENCHMARK = "benchmark", "Performance benchmark"
    ACCEPTANCE = "acceptance", "Business acceptance"
    ROLLOUT = "rollout", "Gradual rollout plan"
    OTHER = "other", "Other"


class ChecklistTemplateStep(models.Model):
    """One step of a project's checklist template; new plans copy the project's steps."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="checklist_template")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16, choices=StepKind.choices, default=StepKind.OTHER)
    title = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    required_role = models.CharField(max_length=16, choices=Role.choices, default=Role.APPROVER)
    minimum_sign_offs = models.PositiveSmallIntegerField(default=1)
    approvers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", help_text="Empty: anyone with the required role."
    )

    class Meta:
        ordering = ["project", "position"]

    def __str__(self) -> str:
        return f"{self.project.slug}: {self.title}"


class MigrationPlan(models.Model):
    """Moving one environment from `from_snapshot` to `to_snapshot`, with its checklist and rollout."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        APPROVED = "approved", "Approved"
        ROLLING_OUT = "rolling_out", "Rolling out"
        COMPLETED = "completed", "Completed"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"
        ROLLED_BACK = "rolled_back", "Rolled back"

    OPEN = [State.DRAFT, State.IN_REVIEW, State.APPROVED, State.ROLLING_OUT]
    EDITABLE = [State.DRAFT, State.IN_REVIEW, State.APPROVED]

    class Health(models.TextChoices):
        UNKNOWN = "unknown", "Not enough data yet"
        HEALTHY = "healthy", "Healthy"
        FAILING = "failing", "Failing"

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="migration_plans")
    environment = models.ForeignKey("projects.Environment", on_delete=models.CASCADE, related_name="migration_plans")
    from_snapshot = models.CharField(max_length=100)
    to_snapshot = models.CharField(max_length=100)
    # The providers of both snapshots. A move to another provider's snapshot canaries across
    # providers in its stages below 100%; its 100% stage moves the environment's policy there.
    from_provider = models.ForeignKey(
        "catalog.Provider", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_provider = models.ForeignKey(
        "catalog.Provider", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Everyone else who changed what the plan proposes: co-authors, so none of them signs it off either.
    editors = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT)
    # Bumped by every edit; sign-offs given on an earlier version no longer count.
    version = models.PositiveIntegerField(default=1)

    stages = models.JSONField(default=list, help_text="Canary percentages in order, ending at 100.")
    observation_window = models.DurationField(default=DEFAULT_WINDOW)
    current_stage = models.SmallIntegerField(default=-1, help_text="Index into stages; -1 before the rollout.")
    stage_started_at = models.DateTimeField(null=True, blank=True)
    rollout_started_at = models.DateTimeField(null=True, blank=True)
    # The stage whose end of window admins were told about, so they are told once per stage.
    window_told_stage = models.SmallIntegerField(default=-1)
    # The pin and allowed snapshots before the rollout, which a rollback restores.
    baseline_policy = models.JSONField(default=dict, blank=True)

    auto_rollback = models.BooleanField(default=True, help_text="Roll back by itself when a health gate fails.")
    max_failure_rate_increase = models.FloatField(
        default=0.05, help_text="The candidate may fail at most this share of jobs more than the baseline."
    )
    max_latency_ratio = models.FloatField(
        default=1.5, help_text="The candidate's p95 latency may be at most this multiple of the baseline's."
    )
    minimum_samples = models.PositiveIntegerField(
        default=20, help_text="Finished candidate generations needed before the gates judge."
    )
    health = models.CharField(max_length=8, choices=Health.choices, default=Health.UNKNOWN)
    health_figures = models.JSONField(default=dict, blank=True)
    health_checked_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["environment"],
                condition=models.Q(state="rolling_out"),
                name="one_rollout_per_environment",
            )
        ]

    def __str__(self) -> str:
        return f"{self.environment}: {self.from_snapshot} → {self.to_snapshot}"

    @property
    def crosses_providers(self) -> bool:
        return self.to_provider_id is not None and self.to_provider_id != self.from_provider_id

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN

    @property
    def stage_percent(self) -> int | None:
        if 0 <= self.current_stage < len(self.stages):
            return self.stages[self.current_stage]
        return None

    @property
    def is_last_stage(self) -> bool:
        return self.current_stage == len(self.stages) - 1

    @cached_property
    def editor_ids(self) -> set[int]:
        """Who edited the plan besides its author; read once per instance (services lock a fresh one)."""
        return set(self.editors.values_list("pk", flat=True))

    def proposed_by(self, user) -> bool:
        """Whether `user` wrote what the plan proposes (its author, or someone who edited it since)."""
        return user.pk == self.author_id or user.pk in self.editor_ids

    def window_ends_at(self) -> dt.datetime | None:
        if self.stage_started_at is None:
            return None
        return self.stage_started_at + self.observation_window

    def superseded_by(self) -> "MigrationPlan | None":
        """The later plan that moved this plan's environment on, or None while this plan's revision is in force.

        That is the first other plan to write a policy revision of the environment after this plan's own last
        one. A plan that never wrote one (not started) is superseded by nothing. Direct edits of an unprotected
        environment's policy supersede no plan: they are not a migration.
        """
        revisions = PolicyRevision.objects.filter(environment_id=self.environment_id, written_by_plan__isnull=False)
        own_last = revisions.filter(written_by_plan=self.pk).order_by("-number").values_list("number", flat=True)
        later = revisions.exclude(written_by_plan=self.pk).filter(number__gt=models.Subquery(own_last[:1]))
        later_plan = later.order_by("number").values_list("written_by_plan", flat=True).first()
        return MigrationPlan.objects.filter(pk=later_plan).first() if later_plan is not None else None

    def may_change_policy_of(self, environment) -> bool:
        """Whether this plan may write `environment`'s policy now (asked by `revise_policy`)."""
        return environment.pk == self.environment_id and self.state in (
            self.State.APPROVED,
            self.State.ROLLING_OUT,
            self.State.COMPLETED,
        )


class ChecklistStep(models.Model):
    """One step of one plan's checklist, copied from the project's template."""

    plan = models.ForeignKey(MigrationPlan, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16, choices=StepKind.choices, default=StepKind.OTHER)
    title = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    required_role = models.CharField(max_length=16, choices=Role.choices, default=Role.APPROVER)
    minimum_sign_offs = models.PositiveSmallIntegerField(default=1)
    approvers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    evidence = models.TextField(blank=True)
    # Who last wrote the evidence by hand: they do not sign the step off on it (four-eyes).
    evidence_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    evidence_links = models.TextField(blank=True, help_text="One link per line.")

    class Meta:
        ordering = ["plan", "position"]

    def __str__(self) -> str:
        return self.title

    def links(self) -> list[str]:
        return [line.strip() for line in self.evidence_links.splitlines() if line.strip()]

    def shown_links(self) -> list[tuple[str, bool]]:
        """Each link with whether the page makes it clickable: web addresses only, so a `javascript:` or
        `data:` line typed by an author reaches the approvers who would click it as text."""
        return [(link, link.lower().startswith(WEB_LINK_SCHEMES)) for link in self.links()]


def evidence_file_path(instance: "EvidenceFile", filename: str) -> str:
    """Stored under the plan and step, by a name of our own: what the uploader called it is kept in `name`."""
    return f"evidence/plan-{instance.step.plan_id}/step-{instance.step_id}/{uuid.uuid4().hex}"


class EvidenceFile(models.Model):
    """A file attached to a step as its evidence (a pipeline's test report, say), kept with its SHA-256."""

    step = models.ForeignKey(ChecklistStep, on_delete=models.CASCADE, related_name="evidence_files")
    file = models.FileField(upload_to=evidence_file_path, max_length=200)
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["step", "added_at", "pk"]

    def __str__(self) -> str:
        return self.name


class SignOff(models.Model):
    """One person's approval or rejection of one step; reset (kept, no longer counted) when the plan is edited,
    or when its signer leaves the project or loses the step's role before the rollout starts."""

    class Decision(models.TextChoices):
        APPROVE = "approve", "Approve"
        REJECT = "reject", "Reject"

    step = models.ForeignKey(ChecklistStep, on_delete=models.CASCADE, related_name="sign_offs")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    comment = models.TextField()
    plan_version = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    reset_at = models.DateTimeField(null=True, blank=True)
    # Why it stopped counting, when not because the plan or the step's evidence changed (the signer left, say).
    reset_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["step", "created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["step", "user"], condition=models.Q(reset_at__isnull=True), name="one_sign_off_per_person"
            )
        ]


class ComparisonPrompt(models.Model):
    """A project's prompt set for prompt compatibility tests."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="comparison_prompts")
    prompt = models.TextField()
    seconds = models.PositiveSmallIntegerField(default=4)
    size = models.CharField(max_length=16, default="720x1280")

    class Meta:
        ordering = ["project", "pk"]

    def __str__(self) -> str:
        return self.prompt[:60]


class ComparisonPair(models.Model):
    """One prompt run on both snapshots of a plan, and the reviewer's verdict."""

    class Verdict(models.TextChoices):
        EQUIVALENT = "equivalent", "Equivalent"
        BETTER = "better", "Better"
        WORSE = "worse", "Worse"
        BROKEN = "broken", "Broken"

    plan = models.ForeignKey(MigrationPlan, on_delete=models.CASCADE, related_name="comparisons")
    prompt = models.TextField()
    baseline = models.ForeignKey("generations.Generation", on_delete=models.PROTECT, related_name="+")
    candidate = models.ForeignKey("generations.Generation", on_delete=models.PROTECT, related_name="+")
    verdict = models.CharField(max_length=12, choices=Verdict.choices, blank=True)
    verdict_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["plan", "pk"]

    @property
    def is_finished(self) -> bool:
        """Both runs have reached a final state (completed, failed, refused or deleted)."""
        return self.baseline.is_finished and self.candidate.is_finished
