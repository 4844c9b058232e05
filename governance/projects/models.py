import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

API_KEY_PREFIX = "sgk_"
AUDITOR_GROUP = "auditors"


class Role(models.TextChoices):
    """Project roles, from least to most trusted."""

    VIEWER = "viewer", "Viewer"
    DEVELOPER = "developer", "Developer"
    APPROVER = "approver", "Approver"
    ADMIN = "admin", "Admin"

    @classmethod
    def rank(cls, role: str) -> int:
        return list(cls.values).index(role)


class Project(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_user")]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.project}"


class EnvironmentName(models.TextChoices):
    DEVELOPMENT = "development", "Development"
    TESTING = "testing", "Testing"
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"


class Environment(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="environments")
    name = models.CharField(max_length=16, choices=EnvironmentName.choices)
    protected = models.BooleanField(
        default=False, help_text="A protected environment's policy changes only through an approved migration plan."
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        default=600,
        help_text="Gateway requests per minute allowed to each API key of this environment; 0 for no limit.",
    )
    sign_content = models.BooleanField(
        default=True,
        help_text="Sign each video and thumbnail with a C2PA manifest (Content Credentials) when it is archived.",
    )
    prompt_in_credentials = models.BooleanField(
        default=False,
        help_text="Put the prompt itself in the signed manifest; otherwise only its SHA-256.",
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_environment_per_project")]

    def __str__(self) -> str:
        return f"{self.project.slug}/{self.name}"


def hash_api_key(raw_key: str) -> str:
    """SHA-256 of the key: keys are 256 random bits, so a slow password hash adds nothing but latency."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


def generate_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


class ApiKeyQuerySet(models.QuerySet):
    def active(self) -> "ApiKeyQuerySet":
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """A key for one project environment. Only its hash and a visible prefix are stored."""

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
