from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from governance.projects.models import Membership, Project, Role

AUDITOR = "auditor"
MAPPED_ROLES = [*Role.choices, (AUDITOR, "Site-wide auditor")]


class SsoIdentity(models.Model):
    """Who a user is at the OpenID provider: its issuer and their `sub`, the only claim that never changes.

    A user who signs in through the provider is found by this, never by an e-mail address or a username,
    which the provider may give to someone else later.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identity")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255, help_text="The provider's `sub` claim for this user.")
    created_at = models.DateTimeField(default=timezone.now)
    last_verified_at = models.DateTimeField(
        default=timezone.now, help_text="When the provider last confirmed this user: a sign-in, or its userinfo."
    )
    groups = models.JSONField(default=list, blank=True, help_text="The groups claim at that confirmation.")
    auditor_granted = models.BooleanField(
        default=False, help_text="The site-wide auditor role (the `auditors` group) was granted by a group mapping."
    )

    class Meta:
        verbose_name = "single sign-on identity"
        verbose_name_plural = "single sign-on identities"
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="one_user_per_sso_subject")]

    def __str__(self) -> str:
        return f"{self.user} ({self.subject})"


class SsoMembership(models.Model):
    """A project membership that a group mapping granted: single sign-on changes and removes only these."""

    membership = models.OneToOneField(Membership, on_delete=models.CASCADE, related_name="sso")
    granted_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.membership} (from single sign-on)"


class GroupRoleMapping(models.Model):
    """A value of the groups claim and the role it grants: in one project, or site-wide auditor."""

    group = models.CharField(max_length=255, help_text="A value of the provider's groups claim, exactly.")
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, help_text="Empty for the site-wide auditor role."
    )
    role = models.CharField(max_length=16, choices=MAPPED_ROLES)

    class Meta:
        ordering = ["group", "project__slug"]
        constraints = [
            models.UniqueConstraint(fields=["group", "project"], name="one_role_per_group_and_project"),
            models.UniqueConstraint(
                fields=["group"], condition=Q(project__isnull=True), name="one_auditor_mapping_per_group"
            ),
            models.CheckConstraint(
                condition=Q(role=AUDITOR, project__isnull=True) | (~Q(role=AUDITOR) & Q(project__isnull=False)),
                name="auditor_is_site_wide_other_roles_need_a_project",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.group} → {self.project.slug + ':' if self.project else ''}{self.role}"
