"""Any change to these rows invalidates the gateway's in-memory view of them."""

from django.db.models.signals import post_delete, post_save

from governance.infra.caching import governance_state_changed
from governance.projects.models import ApiKey, Environment, Project

for model in (
    ApiKey,
    Environment,
    Project,
):
    post_save.connect(governance_state_changed, sender=model, dispatch_uid=f"state-save-{model.__name__}")
    post_delete.connect(governance_state_changed, sender=model, dispatch_uid=f"state-delete-{model.__name__}")
