"""Any change to these rows invalidates the gateway's in-memory view of them; the apps above hear membership changes."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal

from governance.infra.caching import governance_state_changed
from governance.projects.models import ApiKey, Environment, Project

for model in (
    ApiKey,
    Environment,
    Project,
):
    post_save.connect(governance_state_changed, sender=model, dispatch_uid=f"state-save-{model.__name__}")
    post_delete.connect(governance_state_changed, sender=model, dispatch_uid=f"state-delete-{model.__name__}")

# Sent inside the transaction of a change of someone's role in a project, once it is made, so a receiver's
# own changes and audit events commit or roll back with it. Arguments: project, user, role_before, role
# (None when the user was removed from the project) and actor (the audit Actor who made the change).
membership_changed = Signal()
