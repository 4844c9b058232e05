from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from governance.policies import engine


class PolicyRevision(models.Model):
    """One immutable version of an environment's policy; the newest one is in force."""

    class AliasRequests(models.TextChoices):
        FOLLOW = engine.ALIAS_FOLLOW, "Resolve to the alias's current snapshot"
        PIN = engine.ALIAS_PIN, "Resolve to this environment's pinned snapshot"
        REFUSE = engine.ALIAS_REFUSE, "Refuse alias requests"

    environment = models.ForeignKey("projects.Environment", on_delete=models.CASCADE, related_name="policy_revisions")
    number = models.PositiveIntegerField()
    provider = models.ForeignKey("catalog.Provider", on_delete=models.PROTECT, related_name="+")
    default_model = models.CharField(
        max_length=100, help_text="The pinned snapshot, or an alias the environment follows."
    )
    allowed_snapshots = models.JSONField(default=list)
    alias_requests = models.CharField(max_length=8, choices=AliasRequests.choices, default=AliasRequests.REFUSE)
    canary_snapshot = models.CharField(max_length=100, blank=True)
    canary_provider = models.ForeignKey(
        "catalog.Provider",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The canary's provider when it is not the policy's own (a canary across providers).",
    )
    canary_percent = models.PositiveSmallIntegerField(default=0)
    max_seconds = models.PositiveSmallIntegerField(null=True, blank=True)
    allowed_sizes = models.JSONField(null=True, blank=True, help_text="Empty means any size the snapshot supports.")
    allowed_features = models.JSONField(
        null=True, blank=True, help_text="Empty means any feature the snapshot supports."
    )
    monthly_budget = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    allowed_operations = models.JSONField(
        null=True, blank=True, help_text="Empty means every operation the snapshot supports."
    )
    reason = models.TextField()
    # The migration plan (its number, #N) that wrote the revision; empty for a direct edit. A number, not a key:
    # plans live in a layer above policies. It tells which plan's revision is in force (only that one rolls back).
    written_by_plan = models.PositiveIntegerField(null=True, blank=True)
    # The policy file that wrote the revision (`governance apply`): its name and the SHA-256 of its bytes. Empty for
    # the Policy editor and plans. The pages tell an environment set from a file, and one changed since (drift).
    source_file = models.CharField(max_length=200, blank=True)
    source_sha256 = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["environment", "number"], name="unique_revision_number"),
            models.CheckConstraint(condition=models.Q(canary_percent__lte=100), name="canary_percent_at_most_100"),
        ]
        ordering = ["environment", "-number"]

    def __str__(self) -> str:
        return f"{self.environment} policy r{self.number}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValidationError("Policy revisions are immutable; write a new revision instead.")
        super().save(*args, **kwargs)

    @property
    def from_file(self) -> bool:
        return bool(self.source_sha256)

    def as_view(self) -> engine.PolicyView:
        return engine.PolicyView(
            revision_id=self.pk,
            number=self.number,
            default_model=self.default_model,
            allowed_snapshots=frozenset(self.allowed_snapshots),
            alias_requests=self.alias_requests,
            canary_snapshot=self.canary_snapshot or None,
            canary_percent=self.canary_percent,
            canary_provider_id=self.canary_provider_id,
            max_seconds=self.max_seconds,
            allowed_sizes=frozenset(self.allowed_sizes) if self.allowed_sizes else None,
            allowed_features=frozenset(self.allowed_features) if self.allowed_features else None,
            monthly_budget=self.monthly_budget,
            allowed_operations=frozenset(self.allowed_operations) if self.allowed_operations else None,
        )


class BudgetUsage(models.Model):
    """Money committed by accepted generations per environment and calendar month (UTC).

    `spent` is what generations cost that reserved on this row or whose lease was settled, less refunds; `leased`
    is what gateway processes hold in budget leases not yet settled (`BudgetLease`). What is accepted counts
    against both, so a leased slice is never spent twice; what a month's generations cost so far is
    `generations.budget_leases.month_spend`.
    """

    environment = models.ForeignKey("projects.Environment", on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="First day of the month.")
    spent = models.DecimalField(max_digits=14, decimal_places=4, default=0)
    leased = models.DecimalField(
        max_digits=14, decimal_places=4, default=0, help_text="Held by budget leases not yet settled."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["environment", "month"], name="one_budget_row_per_month")]


class BudgetLease(models.Model):
    """A slice of an environment's monthly budget that one gateway process spends from its memory.

    Without leases every budgeted submission updates the month's spend row, and submissions to one environment
    queue on that row's lock through each commit. Taking a lease adds its amount to the month's `leased`; the
    process then pays for each submission it accepts from the slice, marking the generation with the lease,
    without writing the spend row. Submissions begun before `expires_at` may draw on it. Some time after that,
    settling moves what those generations cost into `spent` and gives the rest back (`generations.budget_leases`).
    A process that dies holding a lease is settled the same way.
    """

    environment = models.ForeignKey("projects.Environment", on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="First day of the month.")
    amount = models.DecimalField(max_digits=14, decimal_places=4)
    taken_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    holder = models.CharField(max_length=200, help_text="The process that took it: host and pid.")

    def __str__(self) -> str:
        return f"{self.amount} of {self.month:%Y-%m} to {self.holder} until {self.expires_at:%H:%M:%S}"
