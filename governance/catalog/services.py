"""Changing the catalog: loading packs and re-pointing aliases, each with its audit event."""

import datetime as dt
import json
from pathlib import Path

from django.db import transaction

from governance.audit.services import Actor, record_event
from governance.catalog.events import alias_moved, shutdown_dates_changed
from governance.catalog.models import Alias, AliasDrift, AliasRepoint, Provider, Snapshot

PACKS_DIR = Path(__file__).resolve().parent / "packs"

SNAPSHOT_FIELDS = [
    "family",
    "released_on",
    "deprecated_on",
    "shutdown_on",
    "seconds",
    "sizes",
    "features",
    "extension_seconds",
    "price_per_second",
    "sources",
]
PROVIDER_FIELDS = [
    "name",
    "kind",
    "base_url",
    "base_url_env_var",
    "api_key_env_var",
    "api_version",
    "lists_models",
    "sources",
    "connect_timeout",
    "read_timeout",
]
PROVIDER_DEFAULTS = {"kind": "openai", "base_url_env_var": "", "api_version": "", "lists_models": True, "sources": []}


class CatalogPackError(Exception):
    pass


def available_packs() -> list[str]:
    return sorted(path.stem for path in PACKS_DIR.glob("*.json"))


def read_pack(name_or_path: str) -> dict:
    path = Path(name_or_path)
    if not path.suffix:
        path = PACKS_DIR / f"{name_or_path}.json"
    if not path.exists():
        raise CatalogPackError(f"No catalog pack '{name_or_path}'. Available: {', '.join(available_packs())}.")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise CatalogPackError(f"{path} is not valid JSON: {error}") from error


def _parse_snapshot(entry: dict) -> dict:
    values = {field: entry.get(field) for field in SNAPSHOT_FIELDS}
    for field in ("released_on", "deprecated_on", "shutdown_on"):
        values[field] = dt.date.fromisoformat(values[field]) if values[field] else None
    for field in ("seconds", "sizes", "features", "extension_seconds"):
        values[field] = list(values[field] or [])
    values["price_per_second"] = {size: str(price) for size, price in (values["price_per_second"] or {}).items()}
    values["sources"] = dict(values["sources"] or {})
    return values


@transaction.atomic
def load_pack(pack: dict, *, actor: Actor) -> dict:
    """Create or update a provider's snapshots and aliases from a pack; returns what changed.

    One `catalog.loaded` event records every change to the provider, its snapshots and
    their replacements; alias moves write their own `alias.repointed` events. A shutdown date
    the pack announces or moves for a known snapshot is told to the environments depending on it.
    """
    provider_data = {**PROVIDER_DEFAULTS, **pack["provider"]}
    provider, created = Provider.objects.get_or_create(
        slug=provider_data["slug"], defaults={field: provider_data[field] for field in PROVIDER_FIELDS}
    )
    changes: dict = {
        "provider": provider.slug,
        "provider_created": created,
        "provider_changed": {},
        "created": [],
        "updated": [],
        "replacements": [],
        "repointed": [],
    }
    if not created:
        changes["provider_changed"] = _update(provider, {field: provider_data[field] for field in PROVIDER_FIELDS})
        if "api_version" in changes["provider_changed"]:
            # The API version is part of what runs, like a snapshot: moving it is its own audited change.
            record_event(
                action="provider.api_version_changed",
                actor=actor,
                target=provider,
                payload={"provider": provider.slug, **changes["provider_changed"]["api_version"]},
            )

    snapshots = {}
    previous_shutdown_dates = {}
    for entry in pack["snapshots"]:
        values = _parse_snapshot(entry)
        snapshot, was_created = Snapshot.objects.get_or_create(provider=provider, name=entry["name"], defaults=values)
        if was_created:
            changes["created"].append(snapshot.name)
        elif updated := _update(snapshot, values):
            changes["updated"].append(snapshot.name)
            if "shutdown_on" in updated and snapshot.shutdown_on is not None:
                previous_shutdown_dates[snapshot.name] = updated["shutdown_on"]["from"]
        snapshots[snapshot.name] = snapshot
    for entry in pack["snapshots"]:
        snapshot, replacement = snapshots[entry["name"]], snapshots.get(entry.get("replacement") or "")
        if snapshot.replacement_id != (replacement.pk if replacement else None):
            previous = snapshot.replacement
            _update(snapshot, {"replacement": replacement})
            changes["replacements"].append(
                {
                    "snapshot": snapshot.name,
                    "from": previous.name if previous else None,
                    "to": replacement.name if replacement else None,
                }
            )

    for alias_name, target_name in pack.get("aliases", {}).items():
        if target_name not in snapshots:
            raise CatalogPackError(f"Alias '{alias_name}' points at '{target_name}', which the pack does not define.")
        moved = repoint_alias(
            provider=provider, name=alias_name, snapshot=snapshots[target_name], actor=actor, reason="catalog pack"
        )
        if moved:
            changes["repointed"].append(f"{alias_name} → {target_name}")

    if created or any(changes[key] for key in ("provider_changed", "created", "updated", "replacements")):
        record_event(action="catalog.loaded", actor=actor, target=provider, payload=changes)
    if previous_shutdown_dates:
        shutdown_dates_changed.send(
            sender=Provider,
            provider=provider,
            snapshots=[snapshots[name] for name in previous_shutdown_dates],
            previous_shutdown_dates=previous_shutdown_dates,
            actor=actor,
        )
    return changes


def _update(instance, values: dict) -> dict:
    """Save the fields whose value differs; returns them as {field: {"from": old, "to": new}}."""
    changed = {
        field: {"from": getattr(instance, field), "to": value}
        for field, value in values.items()
        if getattr(instance, field) != value
    }
    for field in changed:
        setattr(instance, field, values[field])
    if changed:
        instance.save(update_fields=list(changed))
    return changed


@transaction.atomic
def repoint_alias(*, provider: Provider, name: str, snapshot: Snapshot, actor: Actor, reason: str = "") -> bool:
    """Point an alias at a snapshot, recording the move; returns False when nothing moved."""
    alias = Alias.objects.select_for_update().filter(provider=provider, name=name).first()
    previous = alias.snapshot if alias else None
    if previous == snapshot:
        return False
    if alias is None:
        alias = Alias.objects.create(provider=provider, name=name, snapshot=snapshot)
    else:
        alias.snapshot = snapshot
        alias.save(update_fields=["snapshot"])
    AliasRepoint.objects.create(
        alias=alias, from_snapshot=previous, to_snapshot=snapshot, actor_label=actor.label, reason=reason
    )
    record_event(
        action="alias.repointed",
        actor=actor,
        target=alias,
        payload={
            "provider": provider.slug,
            "alias": name,
            "from": previous.name if previous else None,
            "to": snapshot.name,
            "reason": reason,
        },
    )
    if previous is not None:
        alias_moved.send(
            sender=Alias,
            alias=alias,
            from_snapshot=previous.name,
            to_snapshot=snapshot.name,
            reason=reason,
            drift=False,
        )
    return True


@transaction.atomic
def record_alias_drift(*, alias: Alias, observed: str, generation_video_id: str = "") -> AliasDrift | None:
    """The provider ran `alias` on `observed` although the catalog points it elsewhere: record and announce it.

    The same drift (alias, expected, observed) is recorded once a day, so a busy
    environment does not flood inboxes with the same news.
    """
    expected = alias.snapshot.name
    if observed == expected:
        return None
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    seen = AliasDrift.objects.filter(
        alias=alias, expected_snapshot=expected, observed_snapshot=observed, detected_at__gte=today
    )
    if seen.exists():
        return None
    drift = AliasDrift.objects.create(
        alias=alias, expected_snapshot=expected, observed_snapshot=observed, generation_video_id=generation_video_id
    )
    record_event(
        action="alias.drift_detected",
        actor=Actor.system("worker"),
        target=alias,
        payload={
            "provider": alias.provider.slug,
            "alias": alias.name,
            "expected": expected,
            "observed": observed,
            "generation": generation_video_id,
        },
    )
    alias_moved.send(
        sender=Alias,
        alias=alias,
        from_snapshot=expected,
        to_snapshot=observed,
        reason=f"the provider answered generation {generation_video_id} with {observed}",
        drift=True,
    )
    return drift
