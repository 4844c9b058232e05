"""The generation log, read with its own filters (`LogFilters`), within the token's projects."""

import datetime as dt

from governance.generations.models import Generation, LogFilters
from governance.management_api import schemas, serializers
from governance.management_api.endpoints import Call, operation
from governance.management_api.errors import ApiError
from governance.management_api.tokens import projects_in_reach
from governance.projects.models import Project

TAG = "Generations"
PAGE_SIZE = 50
FILTERS = {
    "project": {"type": "string", "maxLength": 50, "description": "A project's slug."},
    "environment": schemas.ENVIRONMENT_NAME,
    "snapshot": {"type": "string", "maxLength": 100, "description": "The resolved snapshot."},
    "status": {"type": "string", "enum": list(Generation.Status.values)},
    "operation": {"type": "string", "enum": [str(value) for value, _ in Generation.OPERATION_CHOICES]},
    "created_from": {**schemas.DAY, "description": "From this day on (UTC)."},
    "created_to": {**schemas.DAY, "description": "Up to and including this day (UTC)."},
    "before": {**schemas.ID, "description": "The `next_before` of the page before."},
    "limit": {"type": "integer", "minimum": 1, "maximum": 200, "description": f"Default {PAGE_SIZE}."},
}


@operation(
    "GET",
    summary="The generation log, newest first, with the log page's filters",
    tag=TAG,
    query=FILTERS,
    response=schemas.listing("GenerationPage", schemas.GENERATION, paged=True),
    errors=(400, 401, 404),
)
def list_generations(call: Call) -> dict:
    query = call.query
    filters = LogFilters(
        within_projects=list(projects_in_reach(call.token).values_list("pk", flat=True)),
        project=_project(call, query.get("project")),
        environment=query.get("environment", ""),
        snapshot=query.get("snapshot", ""),
        status=query.get("status", ""),
        operation=query.get("operation", ""),
        since=_day(query, "created_from"),
        until=_day(query, "created_to", after=True),
    )
    size = query.get("limit", PAGE_SIZE)
    rows = Generation.objects.in_log(filters).older_than(query.get("before")).order_by("-created_at", "-pk")
    rows = list(_for_reading(rows)[: size + 1])
    next_before = rows[size - 1].pk if len(rows) > size else None
    return {"data": [serializers.generation(row) for row in rows[:size]], "next_before": next_before}


@operation(
    "GET",
    summary="One generation from the log",
    tag=TAG,
    response=schemas.GENERATION,
    errors=(401, 404),
)
def get_generation(call: Call, video_id: str) -> dict:
    rows = Generation.objects.filter(video_id=video_id, project__in=projects_in_reach(call.token))
    row = _for_reading(rows).first()
    if row is None:
        raise ApiError.not_found(f"No generation {video_id} in your projects.")
    return serializers.generation(row)


def _for_reading(rows):
    return rows.select_related("project", "environment", "provider", "policy_revision", "submitted_by").defer(
        "parameters", "timeline"
    )


def _project(call: Call, slug: str | None) -> Project | None:
    if slug is None:
        return None
    project = projects_in_reach(call.token).filter(slug=slug).first()
    if project is None:
        raise ApiError.not_found(f"No project '{slug}' among yours.")
    return project


def _day(query: dict, name: str, *, after: bool = False) -> dt.datetime | None:
    if name not in query:
        return None
    try:
        day = dt.date.fromisoformat(query[name]) + dt.timedelta(days=1 if after else 0)
    except (ValueError, OverflowError):
        raise ApiError(400, "invalid", f"{name}: a day such as 2026-01-31.", field=name) from None
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
