from decimal import Decimal

from governance.catalog.models import Alias, Snapshot
from governance.catalog.values import CatalogView, SnapshotInfo
from governance.infra.caching import remembered


def snapshot_info(snapshot: Snapshot) -> SnapshotInfo:
    return SnapshotInfo(
        name=snapshot.name,
        family=snapshot.family,
        released_on=snapshot.released_on,
        deprecated_on=snapshot.deprecated_on,
        shutdown_on=snapshot.shutdown_on,
        replacement=snapshot.replacement.name if snapshot.replacement_id else None,
        seconds=tuple(snapshot.seconds),
        sizes=tuple(snapshot.sizes),
        features=frozenset(snapshot.features),
        extension_seconds=tuple(snapshot.extension_seconds),
        price_per_second={size: Decimal(price) for size, price in snapshot.price_per_second.items()},
    )


def load_catalog_view(provider_id: int) -> CatalogView:
    snapshots = Snapshot.objects.filter(provider_id=provider_id).select_related("replacement")
    aliases = Alias.objects.filter(provider_id=provider_id).select_related("snapshot")
    return CatalogView(
        snapshots={snapshot.name: snapshot_info(snapshot) for snapshot in snapshots},
        aliases={alias.name: alias.snapshot.name for alias in aliases},
    )


def catalog_view(provider_id: int) -> CatalogView:
    """The provider's catalog as the policy engine sees it, from memory."""
    return remembered(("catalog", provider_id), lambda: load_catalog_view(provider_id))
