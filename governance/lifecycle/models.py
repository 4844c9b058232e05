import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

# Days before a shutdown at which each dependent environment is alerted; 0 is the day it happens.
ALERT_THRESHOLDS = (90, 60, 30, 7, 0)

ALIAS_DEPENDENCY_PREFIX = "follows alias "
DEPENDENCY_SENTENCES = {
    "pinned": "This environment's policy pins it.",
    "allowed": "This environment's policy allows it.",
    "canary": "This environment's policy runs it as the canary.",
}


def dependency_sentence(how: str) -> str:
    """How an environment depends on a snapshot ("pinned", "follows alias sora-2", ...) as a sentence."""
    if how.startswith(ALIAS_DEPENDENCY_PREFIX):
        return f"This environment follows the alias {how.removeprefix(ALIAS_DEPENDENCY_PREFIX)}."
    return DEPENDENCY_SENTENCES.get(how, f"This environment's policy depends on it ({how}).")


class ShutdownAlert(models.Model):
    """One alert to one environment about one snapshot at one threshold before one shutdown date, once only.

    The date is part of the key: when a provider moves the shutdown, each threshold fires again for the new date.
    """

    environment = models.ForeignKey("projects.Environment", on_delete=models.CASCADE, related_name="shutdown_alerts")
    snapshot = models.ForeignKey("catalog.Snapshot", on_delete=models.CASCADE, related_name="shutdown_alerts")
    threshold_days = models.PositiveSmallIntegerField()
    shutdown_on = models.DateField()
    dependency = models.CharField(max_length=200, help_text="How the environment depends on the snapshot.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["environment", "snapshot", "shutdown_on", "threshold_days"],
                name="one_shutdown_alert_per_date_and_threshold",
            )
        ]
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.environment}: {self.snapshot} ({self.threshold_days} days before {self.shutdown_on:%Y-%m-%d})"

    @property
    def dependency_sentence(self) -> str:
        return dependency_sentence(self.dependency)

    @property
    def headline(self) -> str:
        """The alert in words, with the shutdown date it was raised for."""
        if self.threshold_days == 0:
            return f"{self.snapshot.name} has shut down ({self.shutdown_on:%Y-%m-%d})"
        return f"{self.snapshot.name} shuts down within {self.threshold_days} days ({self.shutdown_on:%Y-%m-%d})"


def new_webhook_message_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


class WebhookQuerySet(models.QuerySet):
    def active(self) -> "WebhookQuerySet":
        """Webhooks that receive events: not deleted."""
        return self.filter(deleted_at__isnull=True)


class Webhook(models.Model):
    """An HTTPS endpoint a project wants events posted to: signed JSON, or a message in Slack or Teams.

    A signed webhook's secret must be usable to sign, so it is stored encrypted (see `signing.py`), never in
    clear. A Slack or Teams destination is not signed: its URL is its secret (whoever has it may post to the
    channel), so that URL is stored encrypted instead and `url` keeps only a masked form to show.
    Deleting a webhook keeps its row, without its secrets, so its delivery log still says what was sent where.
    """

    class Kind(models.TextChoices):
        SIGNED = "signed", "Signed JSON (Standard Webhooks)"
        SLACK = "slack", "Slack incoming webhook"
        TEAMS = "teams", "Microsoft Teams (Workflows webhook)"

    CHAT_KINDS = (Kind.SLACK, Kind.TEAMS)

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="webhooks")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.SIGNED)
    url = models.URLField(max_length=500, help_text="Where it posts; for Slack and Teams, only a masked form.")
    description = models.CharField(max_length=200, blank=True)
    encrypted_secret = models.TextField(blank=True)
    encrypted_url = models.TextField(blank=True, help_text="Slack and Teams: the URL, which is their secret.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = WebhookQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.url} (deleted)" if self.is_deleted else self.url

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def is_chat(self) -> bool:
        """A Slack or Teams destination: sent messages for people, unsigned, its URL a secret."""
        return self.kind in self.CHAT_KINDS


class WebhookDelivery(models.Model):
    """One event for one webhook, with every attempt's outcome: the delivery log."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"  # its webhook was deleted before it could be sent

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    message_id = models.CharField(max_length=40, unique=True, default=new_webhook_message_id)
    event_type = models.CharField(max_length=64)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "webhook deliveries"
