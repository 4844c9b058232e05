import datetime as dt
from decimal import Decimal

from django.db import models
from django.utils import timezone

SIMULATOR_BASE_URL = "builtin:simulator"


class ProviderKind(models.TextChoices):
    """Which protocol a provider speaks; each kind has one adapter in `generations/providers/`
    and one dialect of the built-in simulator in `simulator/dialects/`."""

    OPENAI = "openai", "OpenAI Videos API (OpenAI-compatible upstreams: LiteLLM, Bifrost, resellers)"
    LUMEN = "lumen", "Lumen video API (simulated second provider)"
    GEMINI = "gemini", "Google Gemini API"
    VERTEX = "vertex", "Google Vertex AI"
    RUNWAY = "runway", "Runway API"
    AZURE_OPENAI = "azure-openai", "Azure OpenAI (v1 API)"
    BYTEPLUS = "byteplus", "BytePlus ModelArk"
    XAI = "xai", "xAI API"


class Provider(models.Model):
    """An upstream Videos API. Its key lives in the environment variable it names, never here."""

    kind = models.CharField(max_length=16, choices=ProviderKind.choices, default=ProviderKind.OPENAI)
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    base_url = models.CharField(
        max_length=300,
        help_text=(
            "The provider's origin (https://generativelanguage.googleapis.com), an OpenAI-compatible base URL "
            f"for the openai kind, or {SIMULATOR_BASE_URL} for the built-in simulator only."
        ),
    )
    base_url_env_var = models.CharField(
        max_length=100, blank=True, help_text="Environment variable that overrides the base URL (regional, proxy)."
    )
    api_key_env_var = models.CharField(
        max_length=100, blank=True, help_text="Environment variable holding the key (or the credentials file)."
    )
    api_version = models.CharField(
        max_length=40,
        blank=True,
        help_text="The API version pinned for every call (Runway's X-Runway-Version); moved only by a catalog pack.",
    )
    lists_models = models.BooleanField(
        default=True,
        help_text="Whether it lists its models with lifecycle dates over its API; if not, its pack is the source.",
    )
    sources = models.JSONField(
        default=list, blank=True, help_text="Where the pack's facts come from: [{fact, url, checked_on}]."
    )
    connect_timeout = models.FloatField(default=5.0)
    read_timeout = models.FloatField(default=30.0)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_sync_ok = models.BooleanField(
        null=True,
        help_text="Whether the last sync from /v1/models succeeded; empty when never tried or not configured here.",
    )
    last_sync_message = models.CharField(max_length=500, blank=True)

    def __str__(self) -> str:
        return self.name

    @property
    def sync_state(self) -> str:
        """How the last sync went: synced, failed, never, or not_synced (not configured here, so not called)."""
        if self.last_sync_ok is None:
            return "not_synced" if self.last_sync_message else "never"
        return "synced" if self.last_sync_ok else "failed"


class Lifecycle(models.TextChoices):
    ACTIVE = "active", "Active"
    DEPRECATED = "deprecated", "Deprecated"
    SHUT_DOWN = "shut_down", "Shut down"


def lifecycle_on(day: dt.date, deprecated_on: dt.date | None, shutdown_on: dt.date | None) -> Lifecycle:
    """Lifecycle on a given UTC day; a snapshot is shut down from the first moment of its shutdown date."""
    if shutdown_on is not None and day >= shutdown_on:
        return Lifecycle.SHUT_DOWN
    if deprecated_on is not None and day >= deprecated_on:
        return Lifecycle.DEPRECATED
    return Lifecycle.ACTIVE


class Snapshot(models.Model):
    """A dated model version with its lifecycle and capabilities."""

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="snapshots")
    name = models.CharField(max_length=100)
    family = models.CharField(max_length=100)
    released_on = models.DateField(null=True, blank=True)
    deprecated_on = models.DateField(null=True, blank=True)
    shutdown_on = models.DateField(null=True, blank=True)
    replacement = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    seconds = models.JSONField(default=list, help_text="Allowed durations, e.g. [4, 8, 12].")
    sizes = models.JSONField(default=list, help_text='Allowed sizes, e.g. ["720x1280"].')
    features = models.JSONField(
        default=list, help_text='Features, e.g. ["image_reference", "remix", "edits", "extensions", "characters"].'
    )
    extension_seconds = models.JSONField(default=list, blank=True, help_text="Lengths an extension may add.")
    price_per_second = models.JSONField(default=dict, help_text='USD per second by size, e.g. {"720x1280": "0.10"}.')
    sources = models.JSONField(
        default=dict,
        blank=True,
        help_text='Where each lifecycle date comes from: {"shutdown_on": {"url": ..., "checked_on": "2026-12-06"}}.',
    )
    reviewed = models.BooleanField(
        default=True, help_text="Snapshots discovered by a provider sync wait for an admin's review before use."
    )
    discovered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "name"], name="unique_snapshot_per_provider")]
        ordering = ["provider__slug", "family", "released_on", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def key(self) -> str:
        """`provider:snapshot`, the snapshot's readable name across the whole catalog (links, forms)."""
        return f"{self.provider.slug}:{self.name}"

    def lifecycle(self, now: dt.datetime | None = None) -> Lifecycle:
        day = (now or timezone.now()).astimezone(dt.UTC).date()
        return lifecycle_on(day, self.deprecated_on, self.shutdown_on)

    def price_for(self, size: str) -> Decimal | None:
        price = self.price_per_second.get(size)
        return Decimal(price) if price is not None else None


class Alias(models.Model):
    """A moving name such as `sora-2` that points at one snapshot of its provider."""

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="aliases")
    name = models.CharField(max_length=100)
    snapshot = models.ForeignKey(Snapshot, on_delete=models.PROTECT, related_name="aliases")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "name"], name="unique_alias_per_provider")]
        ordering = ["provider__slug", "name"]
        verbose_name_plural = "aliases"

    def __str__(self) -> str:
        return f"{self.name} → {self.snapshot.name}"


class AliasRepoint(models.Model):
    """One move of an alias, kept forever so the catalog can show the alias's history."""

    alias = models.ForeignKey(Alias, on_delete=models.CASCADE, related_name="repoints")
    from_snapshot = models.ForeignKey(Snapshot, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_snapshot = models.ForeignKey(Snapshot, on_delete=models.PROTECT, related_name="+")
    repointed_at = models.DateTimeField(default=timezone.now)
    actor_label = models.CharField(max_length=200)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-repointed_at", "-pk"]


class AliasDrift(models.Model):
    """The provider ran an alias request on another snapshot than the catalog expects."""

    alias = models.ForeignKey(Alias, on_delete=models.CASCADE, related_name="drifts")
    expected_snapshot = models.CharField(max_length=100)
    observed_snapshot = models.CharField(max_length=100)
    generation_video_id = models.CharField(max_length=100, blank=True)
    detected_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-detected_at", "-pk"]
