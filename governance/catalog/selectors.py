from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from governance.catalog.models import Alias, Provider, Snapshot
from governance.catalog.values import CatalogView, SnapshotInfo, resolve_name
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


def provider_of(provider_id: int) -> Provider:
    """A provider's row, from memory (its connection is read from the environment on each use)."""
    return remembered(("provider", provider_id), lambda: Provider.objects.get(pk=provider_id))


@dataclass(frozen=True)
class CatalogRows:
    """One provider's snapshots as rows and its aliases by name, for pages that describe or edit policies.

    Names resolve by the engine's rule (`resolve_name`), so a page never says another snapshot runs.
    """

    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, provider_id: int) -> "CatalogRows":
        return cls.load_many([provider_id]).get(provider_id, cls())

    @classmethod
    def load_many(cls, provider_ids: Iterable[int]) -> dict[int, "CatalogRows"]:
        """Several providers' catalogs in two queries."""
        ids = set(provider_ids)
        catalogs: dict[int, CatalogRows] = {provider_id: cls() for provider_id in ids}
        for snapshot in Snapshot.objects.filter(provider_id__in=ids).select_related("replacement"):
            catalogs[snapshot.provider_id].snapshots[snapshot.name] = snapshot
        aliases = Alias.objects.filter(provider_id__in=ids).values_list("provider_id", "name", "snapshot__name")
        for provider_id, name, target in aliases:
            catalogs[provider_id].aliases[name] = target
        return catalogs

    def resolve(self, name: str) -> str | None:
        return resolve_name(name, self.snapshots, self.aliases)

    def snapshot_for(self, name: str) -> Snapshot | None:
        """The snapshot row a name means right now, if any."""
        resolved = self.resolve(name)
        return self.snapshots.get(resolved) if resolved else None
