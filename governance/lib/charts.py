"""Server-rendered SVG charts: geometry computed here, drawn by a template, no JavaScript.

Each chart carries its title, a one-sentence description and its series, so the
template can give the SVG a <title>/<desc> and print the same numbers as a table.
"""

import math
from dataclasses import dataclass, field

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 28
MAX_X_LABELS = 8


@dataclass(frozen=True)
class Series:
    label: str
    css_class: str
    values: list[float | None]


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css_class: str
    title: str


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    css_class: str
    title: str


@dataclass(frozen=True)
class Polyline:
    points: str
    css_class: str


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Chart:
    slug: str
    title: str
    description: str
    unit: str
    labels: list[str]
    series: list[Series]
    bars: list[Bar] = field(default_factory=list)
    polylines: list[Polyline] = field(default_factory=list)
    dots: list[Dot] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom: int = HEIGHT - BOTTOM

    @property
    def table_rows(self) -> list[tuple[str, list[str]]]:
        """The chart's numbers by period, for the table that stands in for the picture."""
        return [
            (label, [_format(series.values[index], self.unit) for series in self.series])
            for index, label in enumerate(self.labels)
        ]


def bar_chart(*, slug: str, title: str, description: str, labels: list[str], series: list[Series], unit: str = ""):
    """Stacked bars, one stack per label."""
    totals = [sum(s.values[index] or 0 for s in series) for index in range(len(labels))]
    top = _nice_ceiling(max(totals, default=0))
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    bars = []
    for index, label in enumerate(labels):
        base = 0.0
        for s in series:
            value = s.values[index] or 0
            if value <= 0:
                continue
            y_top, y_base = _y(base + value, top), _y(base, top)
            bars.append(
                Bar(
                    x=round(LEFT + slot * index + slot * 0.15, 1),
                    y=y_top,
                    width=round(slot * 0.7, 1),
                    height=round(y_base - y_top, 1),
                    css_class=s.css_class,
                    title=f"{label}: {_format(value, unit)} {s.label.lower()}",
                )
            )
            base += value
    return Chart(
        slug=slug,
        title=title,
        description=description,
        unit=unit,
        labels=labels,
        series=series,
        bars=bars,
        y_ticks=_y_ticks(top, unit),
        x_ticks=_x_ticks(labels, slot),
    )


def line_chart(*, slug: str, title: str, description: str, labels: list[str], series: list[Series], unit: str = ""):
    """Lines with a dot per value; a gap where a period has no value."""
    values = [value for s in series for value in s.values if value is not None]
    top = _nice_ceiling(max(values, default=0))
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    polylines, dots = [], []
    for s in series:
        run: list[str] = []
        for index, value in enumerate(s.values):
            if value is None:
                if len(run) > 1:
                    polylines.append(Polyline(" ".join(run), s.css_class))
                run = []
                continue
            x, y = round(LEFT + slot * (index + 0.5), 1), _y(value, top)
            run.append(f"{x},{y}")
            dots.append(Dot(x, y, s.css_class, f"{labels[index]}: {s.label} {_format(value, unit)}"))
        if len(run) > 1:
            polylines.append(Polyline(" ".join(run), s.css_class))
    return Chart(
        slug=slug,
        title=title,
        description=description,
        unit=unit,
        labels=labels,
        series=series,
        polylines=polylines,
        dots=dots,
        y_ticks=_y_ticks(top, unit),
        x_ticks=_x_ticks(labels, slot),
    )


def _y(value: float, top: float) -> float:
    plot_height = HEIGHT - TOP - BOTTOM
    return round(HEIGHT - BOTTOM - plot_height * (value / top), 1)


def _nice_ceiling(value: float) -> float:
    """A round number at or above the largest value, so the axis reads 0, 5, 10 rather than 0, 4.35, 8.7."""
    if value <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _y_ticks(top: float, unit: str) -> list[Tick]:
    return [Tick(position=_y(top * share, top), label=_format(top * share, unit)) for share in (0, 0.5, 1)]


def _x_ticks(labels: list[str], slot: float) -> list[Tick]:
    every = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    return [
        Tick(position=round(LEFT + slot * (index + 0.5), 1), label=label)
        for index, label in enumerate(labels)
        if index % every == 0
    ]


def _format(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "$":
        return f"${value:,.2f}"
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "s":
        return f"{value:.1f} s"
    return f"{value:g}" if value == int(value) else f"{value:.1f}"
