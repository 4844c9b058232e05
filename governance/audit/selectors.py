"""Reads of the audit trail: which events a set of filters selects, and the event browser's pages."""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from django.db.models import QuerySet

from governance.audit.models import AuditEvent

PAGE_SIZE = 50


class EventFilters(Protocol):
    """What selects events. The exports' filters are one; audit itself knows no app above it.

    `within_projects` limits a project admin to their own projects (None: every project).
    """

    project: Any
    environment: str
    action: str
    since: dt.datetime | None
    until: dt.datetime | None
    within_projects: Iterable[Any] | None


def filtered_events(filters: EventFilters) -> QuerySet[AuditEvent]:
    """The events that `filters` select: one rule for the audit export and the event browser."""
    rows = AuditEvent.objects.all()
    if filters.within_projects is not None:
        rows = rows.filter(project__in=filters.within_projects)
    if filters.project is not None:
        rows = rows.filter(project=filters.project)
    if filters.environment:
        rows = rows.filter(environment__name=filters.environment)
    if filters.action:
        rows = rows.filter(action=filters.action)
    if filters.since:
        rows = rows.filter(occurred_at__gte=filters.since)
    if filters.until:
        rows = rows.filter(occurred_at__lt=filters.until)
    return rows


@dataclass(frozen=True)
class EventPage:
    """A page of events, newest first; `older_cursor` is the sequence the next page starts below, if any."""

    events: list[AuditEvent]
    older_cursor: int | None


def event_page(filters: EventFilters, *, before: int | None = None, size: int = PAGE_SIZE) -> EventPage:
    """Keyset pagination on the chain's sequence: a deep page costs what the first one does."""
    rows = filtered_events(filters).select_related("project", "environment").order_by("-sequence")
    if before is not None:
        rows = rows.filter(sequence__lt=before)
    events = list(rows[: size + 1])
    older_cursor = events[size - 1].sequence if len(events) > size else None
    return EventPage(events[:size], older_cursor)
