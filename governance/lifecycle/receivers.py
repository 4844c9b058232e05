"""Catalog events become alerts, and migration plans' events become messages: connected once, when the app is ready."""

from governance.catalog.events import alias_moved, shutdown_dates_changed, snapshots_discovered
from governance.lifecycle import migration_news, services
from governance.snapshot_migrations.events import plan_decided, review_requested, rollout_moved


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


def _on_review_requested(sender, *, plan, steps, actor, why, **kwargs) -> None:
    migration_news.announce_review_request(plan=plan, steps=steps, actor=actor, why=why)


def _on_plan_decided(sender, *, plan, actor, decision, step, comment, **kwargs) -> None:
    migration_news.announce_decision(plan=plan, actor=actor, decision=decision, step=step, comment=comment)


def _on_rollout_moved(sender, *, plan, actor, move, percent, reason, **kwargs) -> None:
    migration_news.announce_rollout_move(plan=plan, actor=actor, move=move, percent=percent, reason=reason)


snapshots_discovered.connect(_on_snapshots_discovered, dispatch_uid="lifecycle-snapshots-discovered")
shutdown_dates_changed.connect(_on_shutdown_dates_changed, dispatch_uid="lifecycle-shutdown-dates")
alias_moved.connect(_on_alias_moved, dispatch_uid="lifecycle-alias-moved")
review_requested.connect(_on_review_requested, dispatch_uid="lifecycle-review-requested")
plan_decided.connect(_on_plan_decided, dispatch_uid="lifecycle-plan-decided")
rollout_moved.connect(_on_rollout_moved, dispatch_uid="lifecycle-rollout-moved")
