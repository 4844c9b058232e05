"""The audit trail and its exports, for whoever the Audit page is for: auditors (and superusers) for every
project, project admins for their own. A token limited to some projects audits only those."""

from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse

from governance.audit.selectors import event_page
from governance.audit.services import Actor, acting_through
from governance.exports import exports
from governance.management_api import schemas, serializers
from governance.management_api.endpoints import Call, operation
from governance.management_api.errors import ApiError
from governance.projects.permissions import audit_access, record_refused_visit

TAG = "Audit"
NOT_AN_AUDITOR = "The audit trail is for auditors, and for project admins about their own projects."
EVENT_FILTERS = {
    "project": {"type": "string", "maxLength": 50, "description": "A project's slug."},
    "environment": {"type": "string", "maxLength": 20},
    "action": {"type": "string", "maxLength": 64, "description": "e.g. migration.signed_off"},
    "since": {"type": "string", "maxLength": 40, "description": "A date or an ISO date-time, UTC by default."},
    "until": {"type": "string", "maxLength": 40, "description": "A date (that whole day) or a date-time."},
    "before": {**schemas.ID, "description": "The `next_before` of the page before."},
}
STREAMS = {"text/csv": {"type": "string"}, "application/jsonl": {"type": "string"}}


@operation(
    "GET",
    summary="Audit events, newest first, filtered as the audit export is",
    tag=TAG,
    query=EVENT_FILTERS,
    response=schemas.listing("AuditEventPage", schemas.AUDIT_EVENT, paged=True),
    errors=(400, 401, 403),
)
def list_events(call: Call) -> dict:
    names = ("project", "environment", "action", "since", "until")
    filters = _filters(call, exports.AUDIT, {name: call.query.get(name, "") for name in names})
    page = event_page(filters, before=call.query.get("before"))
    return {"data": [serializers.audit_event(event) for event in page.events], "next_before": page.older_cursor}


@operation(
    "POST",
    summary="Export generations or audit events as CSV or JSON Lines, streamed, with a manifest",
    tag=TAG,
    body=schemas.EXPORT_REQUEST,
    media=tuple(STREAMS),
    response=STREAMS,
    errors=(400, 401, 403),
    description=(
        "The same export as the Audit page's: the `X-Export-Id` header names it, and its manifest is at "
        "/api/v1/audit/exports/{export_id}/manifest once the last byte is sent (docs/audit-and-exports.md)."
    ),
)
def create_export(call: Call) -> StreamingHttpResponse:
    body = dict(call.body)
    kind, file_format = body.pop("kind"), body.pop("format")
    made = exports.Export(
        kind=kind, format=file_format, filters=_filters(call, kind, body), actor=Actor.for_user(call.user)
    )
    response = StreamingHttpResponse(_named(made.stream(), call.token.credential()), content_type=made.content_type)
    response["Content-Disposition"] = f'attachment; filename="{made.filename}"'
    response["X-Export-Id"] = made.export_id
    return response


@operation(
    "GET",
    summary="An export's manifest",
    tag=TAG,
    response=schemas.MANIFEST,
    errors=(401, 403, 404),
)
def get_manifest(call: Call, export_id: str) -> dict:
    access = _access(call)
    found = exports.find_manifest(export_id, made_by=None if access.sees_everything else call.user)
    if found is None:
        raise ApiError.not_found("No export with that id among the ones you may see.")
    return found


def _access(call: Call):
    access = audit_access(call.user)
    if access is None:
        record_refused_visit(
            user=call.user, path=call.request.path, method=call.request.method, reason="not an auditor or project admin"
        )
        raise ApiError(403, "role", NOT_AN_AUDITOR)
    return access


def _filters(call: Call, kind: str, given: dict) -> exports.ExportFilters:
    access = _access(call)
    scope = list(call.token.projects.all())
    within = access.projects if not access.sees_everything else None
    if scope:
        within = [project for project in (within if within is not None else scope) if project in scope]
        if not within:
            raise ApiError(403, "token_scope", "This token is limited to projects you do not audit.")
    try:
        return exports.parse_filters(kind, **given, within_projects=within)
    except exports.ExportError as error:
        raise ApiError(400, "invalid", str(error)) from None


def _named(chunks: Iterable[bytes], credential: dict) -> Iterator[bytes]:
    """The export's bytes, its closing `export.made` event naming the token as every other event of the call."""
    with acting_through(credential):
        yield from chunks
