"""Personal access tokens: a user's credential for the management API, stored as a hash."""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

ACCESS_TOKEN_PREFIX = "sgp_"
SHOWN_PREFIX_LENGTH = 12


def generate_access_token() -> str:
    return ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(32)


class AccessTokenQuerySet(models.QuerySet):
    def active(self) -> "AccessTokenQuerySet":
        return self.filter(revoked_at__isnull=True)


class AccessToken(models.Model):
    """A user's token for /api/v1/, acting with that user's role in each project it covers.

    Only the token's SHA-256 and its visible prefix are stored (as for API keys:
    `projects.models.hash_api_key`). No projects means every project the user may see.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    token_hash = models.CharField(max_length=64, unique=True)
    projects = models.ManyToManyField(
        "projects.Project", blank=True, related_name="+", help_text="None: every project the user may see."
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = AccessTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def credential(self) -> dict:
        """What audit events name it by: never the token itself."""
        return {"access_token": self.name, "prefix": self.prefix}
