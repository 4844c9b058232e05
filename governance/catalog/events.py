"""What the catalog announces to the apps above it (alerts, inboxes, webhooks) without importing them.

Receivers run inside the sender's transaction, so a rolled-back change announces nothing.
"""

from django.dispatch import Signal

# sender=Provider; snapshots=[Snapshot] whose shutdown date was newly announced or moved;
# previous_shutdown_dates={snapshot name: the date before, or None} for the same snapshots.
shutdown_dates_changed = Signal()

# sender=Alias; from_snapshot, to_snapshot (names), reason, and drift=True when the provider,
# not the catalog, ran the alias on another snapshot.
alias_moved = Signal()

# sender=Provider; snapshots=[Snapshot] a sync discovered, waiting for an admin's review.
snapshots_discovered = Signal()
