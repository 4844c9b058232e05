"""What migration plans hear from the layers below them."""

from django.dispatch import receiver

from governance.projects.signals import membership_changed
from governance.snapshot_migrations.services import withdraw_sign_offs


@receiver(membership_changed, dispatch_uid="migration-plans-withdraw-sign-offs")
def withdraw_sign_offs_of_changed_member(sender, *, project, user, role, actor, **kwargs) -> None:
    """A signer removed, or demoted below a step's role, before a plan's rollout: their sign-off stops counting."""
    withdraw_sign_offs(project=project, user=user, role=role, actor=actor)
