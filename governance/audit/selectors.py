"""Reads of the audit trail for the dashboard's event browser."""

from dataclasses import dataclass

from governance.audit.exports import ExportFilters, filtered_events
from governance.audit.models import AuditEvent

PAGE_SIZE = 50


@dataclass(frozen=True)
class EventPage:
    """A page of events, newest first; `older_cursor` is the sequence the next page starts below, if any."""

    events: list[AuditEvent]
    older_cursor: int | None


def event_page(filters: ExportFilters, *, before: int | None = None, size: int = PAGE_SIZE) -> EventPage:
    """Keyset pagination on the chain's sequence: a deep page costs what the first one does."""
    rows = filtered_events(filters).select_related("project", "environment").order_by("-sequence")
    if before is not None:
        rows = rows.filter(sequence__lt=before)
    events = list(rows[: size + 1])
    older_cursor = events[size - 1].sequence if len(events) > size else None
    return EventPage(events[:size], older_cursor)
