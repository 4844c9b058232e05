"""The catalog as plain values: what the policy engine reads instead of the ORM."""

import datetime as dt
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from decimal import Decimal


def resolve_name(name: str, snapshots: Container[str], aliases: Mapping[str, str]) -> str | None:
    """The snapshot a name means right now: itself, or an alias's target. The one rule, for the engine and the pages."""
    if name in snapshots:
        return name
    return aliases.get(name)


@dataclass(frozen=True)
class SnapshotInfo:
    name: str
    family: str = ""
    released_on: dt.date | None = None
    deprecated_on: dt.date | None = None
    shutdown_on: dt.date | None = None
    replacement: str | None = None
    seconds: tuple[int, ...] = ()
    sizes: tuple[str, ...] = ()
    features: frozenset[str] = frozenset()
    extension_seconds: tuple[int, ...] = ()
    price_per_second: Mapping[str, Decimal] = field(default_factory=dict)

    def is_shut_down(self, now: dt.datetime) -> bool:
        return self.shutdown_on is not None and now.astimezone(dt.UTC).date() >= self.shutdown_on

    def is_deprecated(self, now: dt.datetime) -> bool:
        return self.deprecated_on is not None and now.astimezone(dt.UTC).date() >= self.deprecated_on


@dataclass(frozen=True)
class CatalogView:
    """The snapshots and aliases of one provider, by name."""

    snapshots: Mapping[str, SnapshotInfo]
    aliases: Mapping[str, str]

    def resolve(self, name: str) -> str | None:
        """The snapshot a name means right now: itself, or an alias's target."""
        return resolve_name(name, self.snapshots, self.aliases)
