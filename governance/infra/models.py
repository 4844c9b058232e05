from django.db import models


class StateChange(models.Model):
    """A change of the governance state behind the gateway's memory, not known to be announced yet.

    Written in the change's own transaction, so it commits (or rolls back) with the change,
    and deleted once a new state token was published after it committed (`infra.caching`).
    The rows left are the changes a process could not announce while the shared cache was
    away; whoever next reaches the cache announces them. Inserts only: no lock is shared
    between the changes.
    """

    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "infra_statechange"

    def __str__(self) -> str:
        return f"governance state change at {self.changed_at:%Y-%m-%d %H:%M:%S}"
