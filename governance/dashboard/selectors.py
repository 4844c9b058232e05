"""Reads behind the dashboard: the overview matrix, the generation log, the playground's choices.

Every view asks these functions, never the models directly, and they take who may see
which project from `projects.permissions`, so a page cannot show a row its user may not see.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KT
from django.utils import timezone

from governance.catalog.connections import Connection, connection_for
from governance.catalog.models import Alias, Lifecycle, Snapshot
from governance.catalog.selectors import CatalogRows, catalog_view
from governance.generations.models import Character, Generation, LogFilters
from governance.generations.selectors import offered_models
from governance.policies import engine
from governance.policies.models import PolicyRevision
from governance.policies.selectors import policy_in_force
from governance.projects.models import Environment, EnvironmentName, Project
from governance.projects.permissions import can_see_all_projects, visible_projects

ENVIRONMENT_ORDER: list[str] = list(EnvironmentName.values)
SHUTDOWN_WARNING_DAYS = 30
STATS_WINDOW = dt.timedelta(hours=24)
LOG_PAGE_SIZE = 50

ALIAS_HANDLING = {
    engine.ALIAS_FOLLOW: "run on the alias's current snapshot",
    engine.ALIAS_PIN: "run on the pinned snapshot",
    engine.ALIAS_REFUSE: "refused",
}
CALM = (2, 0)  # the urgency of a cell without a problem; lower sorts first


# Visibility


def visible_generations(user) -> QuerySet[Generation]:
    return Generation.objects.filter(project__in=visible_projects(user))


# Overview matrix


@dataclass(frozen=True)
class WindowStats:
    """Generations of one environment over the stats window; refusals are not failures."""

    accepted: int = 0
    completed: int = 0
    failed: int = 0
    refused: int = 0

    @property
    def finished(self) -> int:
        return self.completed + self.failed

    @property
    def failure_percent(self) -> float | None:
        if not self.finished:
            return None
        return round(100 * self.failed / self.finished, 1)


@dataclass(frozen=True)
class EnvironmentCell:
    environment: Environment
    revision: PolicyRevision | None
    pinned: Snapshot | None = None
    followed_alias: str | None = None
    lifecycle: Lifecycle | None = None
    days_left: int | None = None
    stats: WindowStats = field(default_factory=WindowStats)
    problem: str | None = None
    connection: Connection | None = None

    @property
    def alias_handling(self) -> str:
        return ALIAS_HANDLING.get(self.revision.alias_requests, self.revision.alias_requests) if self.revision else ""

    @property
    def urgency(self) -> tuple[int, int]:
        """Shut down (or missing from the catalog) first, then the soonest shutdown, then the calm ones."""
        if not self.problem:
            return CALM
        if self.lifecycle in (None, Lifecycle.SHUT_DOWN) or self.days_left is None:
            return (0, 0)
        return (1, self.days_left)

    @property
    def lifecycle_text(self) -> str:
        if self.pinned is None or self.lifecycle is None:
            return "Not in catalog"
        if self.lifecycle == Lifecycle.SHUT_DOWN:
            return f"Shut down since {self.pinned.shutdown_on:%Y-%m-%d}"
        if self.days_left is None:
            return self.lifecycle.label
        unit = "day" if self.days_left == 1 else "days"
        if self.lifecycle == Lifecycle.DEPRECATED:
            return f"Deprecated · {self.days_left} {unit} left"
        return f"Active · shuts down in {self.days_left} {unit}"


@dataclass(frozen=True)
class ProjectRow:
    project: Project
    cells: list[EnvironmentCell | None]

    @property
    def problems(self) -> list[EnvironmentCell]:
        return [cell for cell in self.cells if cell is not None and cell.problem]

    @property
    def urgency(self) -> tuple[int, int]:
        return min((cell.urgency for cell in self.problems), default=CALM)


@dataclass(frozen=True)
class OverviewMatrix:
    environment_names: list[str]
    rows: list[ProjectRow]

    @property
    def problems(self) -> list[EnvironmentCell]:
        """Every cell with a problem, the most urgent first."""
        return sorted((cell for row in self.rows for cell in row.problems), key=lambda cell: cell.urgency)


def overview_matrix(user, *, now: dt.datetime) -> OverviewMatrix:
    """Projects × environments with each environment's pin, lifecycle and last-24-hour health.

    A fixed number of queries, however large the matrix: problems are computed here
    so the template only shows them.
    """
    projects = list(visible_projects(user).order_by("name"))
    environments = list(Environment.objects.filter(project__in=projects).select_related("project"))
    environment_ids = [environment.pk for environment in environments]
    revisions = _current_revisions(environment_ids)
    catalog = CatalogRows.load_many({revision.provider_id for revision in revisions.values()})
    stats = window_stats(environment_ids, since=now - STATS_WINDOW)
    today = now.astimezone(dt.UTC).date()

    cells: dict[tuple[int, str], EnvironmentCell] = {}
    for environment in environments:
        cell = _cell(environment, revisions.get(environment.pk), catalog, stats, now, today)
        cells[(environment.project_id, environment.name)] = cell
    rows = [
        ProjectRow(project=project, cells=[cells.get((project.pk, name)) for name in ENVIRONMENT_ORDER])
        for project in projects
    ]
    rows.sort(key=lambda row: row.urgency)  # stable: calm projects keep their alphabetical order
    return OverviewMatrix(environment_names=[EnvironmentName(name).label for name in ENVIRONMENT_ORDER], rows=rows)


def window_stats(environment_ids: list[int], *, since: dt.datetime) -> dict[int, WindowStats]:
    """Generation counts per environment since a moment, in one aggregated query."""
    status = Generation.Status
    counts = (
        Generation.objects.filter(environment_id__in=environment_ids, created_at__gte=since)
        .values("environment_id")
        .annotate(
            accepted=Count("pk", filter=~Q(status=status.REFUSED)),
            completed=Count("pk", filter=Q(status=status.COMPLETED)),
            failed=Count("pk", filter=Generation.COUNTS_AS_FAILURE),
            refused=Count("pk", filter=Q(status=status.REFUSED)),
        )
        .order_by()
    )
    return {
        row["environment_id"]: WindowStats(
            accepted=row["accepted"], completed=row["completed"], failed=row["failed"], refused=row["refused"]
        )
        for row in counts
    }


def _current_revisions(environment_ids: list[int]) -> dict[int, PolicyRevision]:
    newest = PolicyRevision.objects.filter(environment=OuterRef("environment")).order_by("-number").values("number")
    revisions = PolicyRevision.objects.filter(
        environment_id__in=environment_ids, number=Subquery(newest[:1])
    ).select_related("provider", "canary_provider")
    return {revision.environment_id: revision for revision in revisions}


def _cell(
    environment: Environment,
    revision: PolicyRevision | None,
    catalog: dict[int, CatalogRows],
    stats: dict[int, WindowStats],
    now: dt.datetime,
    today: dt.date,
) -> EnvironmentCell:
    environment_stats = stats.get(environment.pk, WindowStats())
    if revision is None:
        return EnvironmentCell(environment=environment, revision=None, stats=environment_stats)
    rows = catalog.get(revision.provider_id) or CatalogRows()
    pinned = rows.snapshot_for(revision.default_model)
    followed_alias = revision.default_model if pinned is not None and pinned.name != revision.default_model else None
    if pinned is None:
        return EnvironmentCell(
            environment=environment,
            revision=revision,
            stats=environment_stats,
            problem=f"is pinned to '{revision.default_model}', which is not in the catalog",
        )
    lifecycle = pinned.lifecycle(now)
    days_left = (pinned.shutdown_on - today).days if pinned.shutdown_on and pinned.shutdown_on > today else None
    return EnvironmentCell(
        environment=environment,
        revision=revision,
        pinned=pinned,
        followed_alias=followed_alias,
        lifecycle=lifecycle,
        days_left=days_left,
        connection=connection_for(revision.provider),
        stats=environment_stats,
        problem=_pin_problem(pinned, followed_alias, lifecycle, days_left),
    )


def _pin_problem(
    pinned: Snapshot, followed_alias: str | None, lifecycle: Lifecycle, days_left: int | None
) -> str | None:
    """What is wrong with what the environment runs, as the rest of a sentence that starts with its name."""
    runs = f"follows alias {followed_alias}, now {pinned.name}" if followed_alias else f"is pinned to {pinned.name}"
    if lifecycle == Lifecycle.SHUT_DOWN:
        return f"{runs}, which shut down on {pinned.shutdown_on:%Y-%m-%d}"
    if days_left is not None and days_left <= SHUTDOWN_WARNING_DAYS:
        unit = "day" if days_left == 1 else "days"
        return f"{runs}, which shuts down on {pinned.shutdown_on:%Y-%m-%d} ({days_left} {unit} left)"
    return None


# Generation log


@dataclass(frozen=True)
class LogPageFilters:
    project: Project | None = None
    environment: str = ""
    snapshot: str = ""
    status: str = ""
    operation: str = ""
    created_from: dt.date | None = None
    created_to: dt.date | None = None
    text: str = ""
    before: int | None = None


@dataclass(frozen=True)
class GenerationPage:
    generations: list[Generation]
    older_cursor: int | None
    searched_window: bool = False

    @property
    def has_unfinished(self) -> bool:
        return any(not generation.is_finished for generation in self.generations)


def generation_page(user, filters: LogPageFilters, *, size: int = LOG_PAGE_SIZE) -> GenerationPage:
    """One page of the log, newest first, keyset-paginated on (created_at, id): no COUNT, no OFFSET.

    Every filter but the text is served by an index (see Generation.Meta). Searching prompts
    cannot use one, so it reads at most TEXT_SEARCH_WINDOW candidate rows per page: when those hold
    fewer matches than a page, the page ends there and "Older" carries on from the window's end.
    """
    candidates = _older_than(_log_rows(user, filters), filters.before)
    if not filters.text:
        rows = list(candidates[: size + 1])
        return GenerationPage(generations=rows[:size], older_cursor=rows[size - 1].pk if len(rows) > size else None)
    matches = candidates.filter(prompt__icontains=filters.text)
    # The window's last row, found by reading (not returning) the window: a bounded OFFSET, never a deep one.
    window_end = list(candidates.values_list("created_at", "pk")[TEXT_SEARCH_WINDOW - 1 : TEXT_SEARCH_WINDOW])
    if window_end:
        end_at, end_pk = window_end[0]
        matches = matches.filter(created_at__gte=end_at).exclude(created_at=end_at, pk__lt=end_pk)
    rows = list(matches[: size + 1])
    if len(rows) > size:
        return GenerationPage(generations=rows[:size], older_cursor=rows[size - 1].pk, searched_window=True)
    more = bool(window_end) and _older_than(_log_rows(user, filters), window_end[0][1]).exists()
    return GenerationPage(generations=rows, older_cursor=window_end[0][1] if more else None, searched_window=True)


TEXT_SEARCH_WINDOW = 5_000


def _log_rows(user, filters: LogPageFilters) -> QuerySet[Generation]:
    within = None
    if not can_see_all_projects(user):
        within = visible_projects(user).values_list("pk", flat=True)
    log_filters = LogFilters(
        within_projects=within,
        project=filters.project,
        environment=filters.environment,
        snapshot=filters.snapshot,
        status=filters.status,
        operation=filters.operation,
        since=_start_of_day(filters.created_from) if filters.created_from is not None else None,
        until=_start_of_day(filters.created_to + dt.timedelta(days=1)) if filters.created_to is not None else None,
    )
    return _for_display(Generation.objects.in_log(log_filters)).order_by("-created_at", "-pk")


def _for_display(rows: QuerySet[Generation]) -> QuerySet[Generation]:
    """What a log row shows, in the page's one query: a derived video's source id and a character's name
    (from the request as received, so a refused one has it too) come as columns, not as whole rows."""
    return (
        rows.select_related("project", "environment")
        .defer("parameters", "timeline", "error_message")
        .annotate(
            source_video_id=F("remixed_from__video_id"),
            character_name=KT("parameters__name"),
            provider_name=F("provider__name"),
            policy_number=F("policy_revision__number"),
        )
    )


def _older_than(rows: QuerySet[Generation], cursor: int | None) -> QuerySet[Generation]:
    return rows.older_than(cursor)


def _start_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def snapshot_names() -> list[str]:
    """Every snapshot name in the catalog, for the log's snapshot filter."""
    return sorted(set(Snapshot.objects.values_list("name", flat=True)))


def log_row(user, video_id: str) -> Generation | None:
    """One row of the log, for its live progress updates."""
    return _for_display(visible_generations(user)).filter(video_id=video_id).first()


# Generation detail


DELETED_STEP = "deleted"  # the timeline step `delete_video` adds


@dataclass(frozen=True)
class TimelineEntry:
    status: str
    at: dt.datetime | None
    note: str

    @property
    def stopped_for_deletion(self) -> bool:
        """The worker's "failed" step after the client deleted the video: the client's choice, not a failure."""
        return self.status == Generation.Status.FAILED and self.note == Generation.DELETED_BY_CLIENT

    @property
    def label(self) -> str:
        if self.status == DELETED_STEP:
            return "Deleted by the client"
        if self.stopped_for_deletion:
            return "Stopped"
        return Generation.Status(self.status).label if self.status in Generation.Status.values else self.status

    @property
    def badge(self) -> str:
        return DELETED_STEP if self.stopped_for_deletion else self.status


def generation_detail(user, video_id: str) -> Generation | None:
    return (
        visible_generations(user)
        .select_related(
            "project",
            "environment",
            "policy_revision__created_by",
            "api_key",
            "provider",
            "remixed_from",
            "submitted_by",
        )
        .filter(video_id=video_id)
        .first()
    )


LINEAGE_DEPTH = 20


@dataclass(frozen=True)
class Lineage:
    """Where a video came from (oldest first) and what was made from it, within what the user may see."""

    sources: list[Generation]
    derived: list[Generation]


def lineage(user, generation: Generation) -> Lineage:
    sources: list[Generation] = []
    current = generation
    visible = visible_generations(user).select_related("policy_revision")
    while current.remixed_from_id and len(sources) < LINEAGE_DEPTH:
        current = visible.filter(pk=current.remixed_from_id).first()
        if current is None:
            break
        sources.insert(0, current)
    derived = list(visible.filter(remixed_from=generation).order_by("pk")[:LINEAGE_DEPTH])
    return Lineage(sources=sources, derived=derived)


def character_made_by(generation: Generation) -> Character | None:
    """The character a `character` request made (none when it was refused)."""
    if generation.operation != Generation.Operation.CHARACTER:
        return None
    return Character.objects.filter(generation=generation).first()


def generation_by_video_id(video_id: str) -> Generation | None:
    """Any user's generation, visible or not: only to tell a refused visit from a missing one."""
    return Generation.objects.select_related("project", "environment").filter(video_id=video_id).first()


def timeline_entries(generation: Generation) -> list[TimelineEntry]:
    """The generation's status timeline with its timestamps parsed, in the order they happened."""
    return [
        TimelineEntry(status=entry.get("status", ""), at=_parse_moment(entry.get("at")), note=entry.get("note", ""))
        for entry in generation.timeline
        if isinstance(entry, dict)
    ]


def _parse_moment(value) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


# Playground


@dataclass(frozen=True)
class PlaygroundChoices:
    models: list[str]
    seconds: list[int]
    sizes: list[str]


def playground_choices_for(environment: Environment, now: dt.datetime | None = None) -> PlaygroundChoices:
    """What the environment's policy accepts today, as the policy engine itself decides it.

    A model is offered if a request for it alone is accepted (`offered_models(as_submitted=True)`); a length
    or size if it is accepted with at least one offered model. Without a policy, everything is offered
    (and refused on submission with the reason).
    """
    policy = policy_in_force(environment.pk)
    if policy is None:
        return playground_choices()
    catalog = catalog_view(policy.provider_id)
    now = now or timezone.now()

    def accepts(**request) -> bool:
        return isinstance(engine.decide(engine.GenerationRequest(**request), policy.view, catalog, now), engine.Accept)

    models = [model.name for model in offered_models(environment.pk, now=now, as_submitted=True)]
    snapshots = catalog.snapshots.values()
    seconds = sorted({value for snapshot in snapshots for value in snapshot.seconds})
    sizes = sorted({size for snapshot in snapshots for size in snapshot.sizes}, key=_size_order)
    return PlaygroundChoices(
        models=models,
        seconds=[value for value in seconds if any(accepts(model=name, seconds=value) for name in models)],
        sizes=[size for size in sizes if any(accepts(model=name, size=size) for name in models)],
    )


def playground_choices() -> PlaygroundChoices:
    """What the catalog offers anywhere; the chosen environment's policy decides what it accepts."""
    snapshots = list(Snapshot.objects.values("name", "seconds", "sizes"))
    aliases = set(Alias.objects.values_list("name", flat=True))
    return PlaygroundChoices(
        models=sorted(aliases) + sorted({snapshot["name"] for snapshot in snapshots}),
        seconds=sorted({value for snapshot in snapshots for value in snapshot["seconds"]}),
        sizes=sorted({size for snapshot in snapshots for size in snapshot["sizes"]}, key=_size_order),
    )


def _size_order(size: str) -> tuple[int, str]:
    width, _, height = size.partition("x")
    return (int(width) * int(height) if width.isdigit() and height.isdigit() else 0, size)
