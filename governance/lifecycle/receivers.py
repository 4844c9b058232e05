"""Catalog events become alerts: connected once, when the app is ready."""

from governance.catalog.events import alias_moved, shutdown_dates_changed, snapshots_discovered
from governance.lifecycle import services


def _on_shutdown_dates_changed(sender, *, provider, snapshots, previous_shutdown_dates=None, **kwargs) -> None:
    """Announce the new dates, then raise the thresholds they bring due now, whichever path changed them."""
    services.announce_shutdown_dates(
        provider=provider, snapshots=snapshots, previous_shutdown_dates=previous_shutdown_dates
    )
    services.raise_shutdown_alerts()


def _on_alias_moved(sender, *, alias, from_snapshot, to_snapshot, reason, drift, **kwargs) -> None:
    services.announce_alias_move(
        alias=alias, from_snapshot=from_snapshot, to_snapshot=to_snapshot, reason=reason, drift=drift
    )


def _on_snapshots_discovered(sender, *, provider, snapshots, **kwargs) -> None:
    services.ask_for_review(provider=provider, snapshots=snapshots)


snapshots_discovered.connect(_on_snapshots_discovered, dispatch_uid="lifecycle-snapshots-discovered")
shutdown_dates_changed.connect(_on_shutdown_dates_changed, dispatch_uid="lifecycle-shutdown-dates")
alias_moved.connect(_on_alias_moved, dispatch_uid="lifecycle-alias-moved")
