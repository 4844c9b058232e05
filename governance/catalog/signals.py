"""Any change to these rows invalidates the gateway's in-memory view of them."""

from django.db.models.signals import post_delete, post_migrate, post_save

from governance.catalog.models import Alias, Provider, Snapshot
from governance.infra.caching import governance_state_changed

for model in (
    Alias,
    Provider,
    Snapshot,
):
    post_save.connect(governance_state_changed, sender=model, dispatch_uid=f"state-save-{model.__name__}")
    post_delete.connect(governance_state_changed, sender=model, dispatch_uid=f"state-delete-{model.__name__}")

# A data migration or bulk update changes rows without model signals; any migrate run announces it.
post_migrate.connect(governance_state_changed, dispatch_uid="state-after-migrate")
