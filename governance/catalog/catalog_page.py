"""Reads behind the catalog page: providers and their snapshots, a comparison of two, timelines, alias history.

The catalog is public to every signed-in user, so nothing here filters by project.
"""

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet

from governance.catalog.connections import Connection, connection_for
from governance.catalog.models import AliasDrift, AliasRepoint, Lifecycle, Provider, Snapshot

TIMELINE_WIDTH = 1000
TIMELINE_LABEL_WIDTH = 220
TIMELINE_ROW_HEIGHT = 30
TIMELINE_AXIS_HEIGHT = 30
TIMELINE_MARGIN = dt.timedelta(days=45)


@dataclass(frozen=True)
class SnapshotStatus:
    """A snapshot with its lifecycle on a given day, as the catalog shows it."""

    snapshot: Snapshot
    lifecycle: Lifecycle
    days_left: int | None

    @property
    def lifecycle_text(self) -> str:
        if self.lifecycle == Lifecycle.SHUT_DOWN:
            return f"Shut down since {self.snapshot.shutdown_on:%Y-%m-%d}"
        if self.lifecycle == Lifecycle.DEPRECATED:
            if self.days_left is None:
                return "Deprecated"
            return f"Deprecated · {self.days_left} day{'' if self.days_left == 1 else 's'} left"
        if self.days_left is not None:
            return f"Active · shuts down in {self.days_left} day{'' if self.days_left == 1 else 's'}"
        return "Active"


def snapshot_status(snapshot: Snapshot, now: dt.datetime) -> SnapshotStatus:
    today = now.astimezone(dt.UTC).date()
    shutdown_on = snapshot.shutdown_on
    days_left = (shutdown_on - today).days if shutdown_on and shutdown_on > today else None
    return SnapshotStatus(snapshot=snapshot, lifecycle=snapshot.lifecycle(now), days_left=days_left)


@dataclass(frozen=True)
class TimelineBar:
    """One stretch of a snapshot's life on the timeline, in SVG user units."""

    x: float
    width: float
    phase: str  # a Lifecycle value, for the colour
    label: str


@dataclass(frozen=True)
class TimelineRow:
    name: str
    y: float
    bars: list[TimelineBar]
    summary: str


@dataclass(frozen=True)
class TimelineTick:
    x: float
    label: str


@dataclass(frozen=True)
class Timeline:
    """A provider's snapshots from release to shutdown, drawn on one date axis with today marked."""

    rows: list[TimelineRow]
    ticks: list[TimelineTick]
    today_x: float
    width: int
    height: int
    label_width: int


@dataclass(frozen=True)
class ProviderCatalog:
    provider: Provider
    snapshots: list[SnapshotStatus]
    aliases: list
    timeline: Timeline | None
    connection: Connection


def catalog(*, now: dt.datetime) -> list[ProviderCatalog]:
    """Every provider with its snapshots (lifecycle today), aliases and lifecycle timeline, in three queries."""
    providers = list(Provider.objects.order_by("name").prefetch_related("aliases__snapshot"))
    snapshots = Snapshot.objects.select_related("replacement").order_by("family", "released_on", "name")
    by_provider: dict[int, list[SnapshotStatus]] = {}
    for snapshot in snapshots:
        by_provider.setdefault(snapshot.provider_id, []).append(snapshot_status(snapshot, now))
    today = now.astimezone(dt.UTC).date()
    return [
        ProviderCatalog(
            provider=provider,
            snapshots=by_provider.get(provider.pk, []),
            aliases=list(provider.aliases.all()),
            timeline=lifecycle_timeline([status.snapshot for status in by_provider.get(provider.pk, [])], today),
            connection=connection_for(provider),
        )
        for provider in providers
    ]


def lifecycle_timeline(snapshots: list[Snapshot], today: dt.date) -> Timeline | None:
    """Geometry for the timeline: released → deprecated (active), deprecated → shut down, and after shutdown."""
    dated = [snapshot for snapshot in snapshots if snapshot.released_on]
    if not dated:
        return None
    dates = [today] + [day for s in dated for day in (s.released_on, s.deprecated_on, s.shutdown_on) if day]
    start, end = min(dates) - TIMELINE_MARGIN, max(dates) + TIMELINE_MARGIN
    span = (end - start).days
    plot_width = TIMELINE_WIDTH - TIMELINE_LABEL_WIDTH

    def x(day: dt.date) -> float:
        return round(TIMELINE_LABEL_WIDTH + plot_width * (day - start).days / span, 1)

    rows = []
    for index, snapshot in enumerate(dated):
        rows.append(
            TimelineRow(
                name=snapshot.name,
                y=TIMELINE_AXIS_HEIGHT + index * TIMELINE_ROW_HEIGHT,
                bars=_timeline_bars(snapshot, x, end),
                summary=_timeline_summary(snapshot),
            )
        )
    ticks = []
    month = dt.date(start.year, start.month, 1)
    step = max(1, round(span / 30 / 8))  # about eight labelled months, whatever the span
    while month <= end:
        if month >= start:
            ticks.append(TimelineTick(x=x(month), label=f"{month:%b %Y}"))
        month = _add_months(month, step)
    return Timeline(
        rows=rows,
        ticks=ticks,
        today_x=x(today),
        width=TIMELINE_WIDTH,
        height=TIMELINE_AXIS_HEIGHT + len(rows) * TIMELINE_ROW_HEIGHT + 10,
        label_width=TIMELINE_LABEL_WIDTH,
    )


def _timeline_bars(snapshot: Snapshot, x, end: dt.date) -> list[TimelineBar]:
    active_until = snapshot.deprecated_on or snapshot.shutdown_on or end
    bars = [TimelineBar(x(snapshot.released_on), x(active_until) - x(snapshot.released_on), "active", "active")]
    if snapshot.deprecated_on:
        deprecated_until = snapshot.shutdown_on or end
        width = x(deprecated_until) - x(snapshot.deprecated_on)
        bars.append(TimelineBar(x(snapshot.deprecated_on), width, "deprecated", "deprecated"))
    if snapshot.shutdown_on:
        bars.append(TimelineBar(x(snapshot.shutdown_on), x(end) - x(snapshot.shutdown_on), "shut_down", "shut down"))
    return [bar for bar in bars if bar.width > 0]


def _timeline_summary(snapshot: Snapshot) -> str:
    parts = [f"released {snapshot.released_on:%Y-%m-%d}"]
    if snapshot.deprecated_on:
        parts.append(f"deprecated {snapshot.deprecated_on:%Y-%m-%d}")
    if snapshot.shutdown_on:
        parts.append(f"shut down {snapshot.shutdown_on:%Y-%m-%d}")
    return f"{snapshot.name}: " + ", ".join(parts)


def _add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    return dt.date(day.year + month_index // 12, month_index % 12 + 1, 1)


# Comparison


@dataclass(frozen=True)
class ComparedItem:
    """A duration, size or feature, and whether only one of the two snapshots has it."""

    value: str
    only_here: bool


@dataclass(frozen=True)
class ComparisonRow:
    label: str
    first: str | list[ComparedItem]
    second: str | list[ComparedItem]
    differs: bool

    @property
    def is_list(self) -> bool:
        return isinstance(self.first, list)


@dataclass(frozen=True)
class Comparison:
    first: SnapshotStatus
    second: SnapshotStatus
    rows: list[ComparisonRow]

    @property
    def difference_count(self) -> int:
        return sum(row.differs for row in self.rows)


def comparable_snapshots() -> QuerySet[Snapshot]:
    return Snapshot.objects.select_related("provider", "replacement").order_by("provider__name", "family", "name")


def compare(first: Snapshot, second: Snapshot, *, now: dt.datetime) -> Comparison:
    """Two snapshots side by side: every capability and price, each row marked when the two differ."""
    first_status, second_status = snapshot_status(first, now), snapshot_status(second, now)
    rows = [
        _text_row("Provider", first.provider.name, second.provider.name),
        _text_row("Family", first.family, second.family),
        _text_row("Lifecycle today", first_status.lifecycle_text, second_status.lifecycle_text),
        _text_row("Released", _day(first.released_on), _day(second.released_on)),
        _text_row("Deprecated", _day(first.deprecated_on), _day(second.deprecated_on)),
        _text_row("Shut down", _day(first.shutdown_on), _day(second.shutdown_on)),
        _text_row("Replacement", _name(first.replacement), _name(second.replacement)),
        _list_row("Durations (seconds)", [str(s) for s in first.seconds], [str(s) for s in second.seconds]),
        _list_row("Sizes", first.sizes, second.sizes),
        _list_row("Features", first.features, second.features),
    ]
    sizes = list(dict.fromkeys([*first.sizes, *second.sizes, *first.price_per_second, *second.price_per_second]))
    for size in sizes:
        rows.append(_text_row(f"Price at {size}", _price(first, size), _price(second, size)))
    return Comparison(first=first_status, second=second_status, rows=rows)


def _text_row(label: str, first: str, second: str) -> ComparisonRow:
    return ComparisonRow(label=label, first=first, second=second, differs=first != second)


def _list_row(label: str, first: list[str], second: list[str]) -> ComparisonRow:
    first_items = [ComparedItem(value, value not in second) for value in first]
    second_items = [ComparedItem(value, value not in first) for value in second]
    return ComparisonRow(label=label, first=first_items, second=second_items, differs=set(first) != set(second))


def _day(day: dt.date | None) -> str:
    return f"{day:%Y-%m-%d}" if day else "—"


def _name(snapshot: Snapshot | None) -> str:
    return snapshot.name if snapshot else "—"


def _price(snapshot: Snapshot, size: str) -> str:
    price = snapshot.price_for(size)
    return f"${price}/s" if price is not None else "not offered"


# Alias history


def alias_history() -> QuerySet[AliasRepoint]:
    """Every re-point of every alias, newest first."""
    return AliasRepoint.objects.select_related("alias__provider", "from_snapshot", "to_snapshot").order_by(
        "-repointed_at", "-pk"
    )


def alias_drifts() -> QuerySet[AliasDrift]:
    """Drift the worker saw at the provider, newest first (the latest hundred)."""
    return AliasDrift.objects.select_related("alias__provider").order_by("-detected_at", "-pk")[:100]
