"""JSON Schema (draft 2020-12, as OpenAPI 3.1 uses) of everything the management API reads and answers.

Each schema with a `title` becomes a named component of the OpenAPI document; the same dicts
check every request body and query before a view runs (`endpoints.py`), and the tests check every
answer against them.
"""

from typing import Any

import jsonschema

from governance.management_api.errors import ApiError
from governance.policies import engine
from governance.policies.models import PolicyRevision
from governance.projects.models import EnvironmentName, Role
from governance.snapshot_migrations.models import MigrationPlan, SignOff, StepKind

BIGGEST_ID = 2**63 - 1
TEXT = {"type": "string", "maxLength": 10_000}
SHORT_TEXT = {"type": "string", "maxLength": 200}
MOMENT = {"type": "string", "format": "date-time"}
DAY = {"type": "string", "format": "date"}
ROLE = {"type": "string", "enum": list(Role.values)}
ENVIRONMENT_NAME = {"type": "string", "enum": list(EnvironmentName.values)}


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def record(title: str, properties: dict, *, optional: tuple[str, ...] = (), description: str = "") -> dict:
    """An object with exactly these properties, every one present unless named in `optional`."""
    schema = {
        "title": title,
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def request(title: str, properties: dict, *, required: tuple[str, ...] = (), description: str = "") -> dict:
    """A request body: these properties, only `required` ones needed, no others accepted."""
    schema = record(title, properties, optional=tuple(name for name in properties if name not in required))
    if description:
        schema["description"] = description
    return schema


def listing(title: str, item: dict, *, paged: bool = False) -> dict:
    properties = {"data": {"type": "array", "items": item}}
    if paged:
        properties["next_before"] = nullable(
            {"type": "integer", "description": "Pass as `before` for the next, older page; null on the last."}
        )
    return record(title, properties)


ID = {"type": "integer", "minimum": 1, "maximum": BIGGEST_ID}
PATH_PARAMETERS: dict[str, dict] = {
    "project": {"type": "string", "pattern": r"^[-a-zA-Z0-9_]{1,50}$", "description": "The project's slug."},
    "environment": ENVIRONMENT_NAME,
    "username": {"type": "string", "pattern": r"^[\w.@+-]{1,150}$"},
    "number": {**ID, "maximum": 2**31 - 1, "description": "The revision's number in its environment."},
    "plan_id": ID,
    "step_id": ID,
    "file_id": ID,
    "video_id": {"type": "string", "pattern": r"^[^/\x00-\x1f\x7f]{1,200}$", "description": "The generation's id."},
    "export_id": {"type": "string", "pattern": r"^[-a-zA-Z0-9_]{1,64}$"},
}

# Answers

ERROR = record(
    "Error",
    {
        "error": record(
            "ErrorBody",
            {
                "code": {"type": "string", "description": "What went wrong, for programs: the service's refusal code."},
                "message": {"type": "string", "description": "What went wrong, for people."},
                "field": nullable({"type": "string", "description": "The request field at fault, if one is."}),
                "details": {
                    "type": "array",
                    "description": "Every problem, when there are several.",
                    "items": record(
                        "ErrorDetail", {"field": nullable({"type": "string"}), "message": {"type": "string"}}
                    ),
                },
            },
            optional=("details",),
        )
    },
)

PROJECT_REF = record("ProjectRef", {"slug": {"type": "string"}, "name": {"type": "string"}, "role": ROLE})
MEMBER = record("Member", {"username": {"type": "string"}, "role": ROLE})
POLICY = record(
    "PolicyRevision",
    {
        "number": {"type": "integer"},
        "provider": {"type": "string", "description": "The provider's slug."},
        "default_model": {"type": "string", "description": "The pinned snapshot, or the alias followed."},
        "pinned_snapshot": nullable({"type": "string", "description": "What `default_model` runs on now."}),
        "allowed_snapshots": {"type": "array", "items": {"type": "string"}},
        "alias_requests": {"type": "string", "enum": list(PolicyRevision.AliasRequests.values)},
        "canary_snapshot": {"type": "string", "description": "Empty: no canary."},
        "canary_provider": nullable({"type": "string", "description": "Another provider's slug, for its canary."}),
        "canary_percent": {"type": "integer", "minimum": 0, "maximum": 100},
        "max_seconds": nullable({"type": "integer"}),
        "allowed_sizes": nullable({"type": "array", "items": {"type": "string"}}),
        "allowed_features": nullable({"type": "array", "items": {"type": "string"}}),
        "allowed_operations": nullable({"type": "array", "items": {"type": "string"}}),
        "monthly_budget": nullable({"type": "string", "description": "USD, as a decimal string."}),
        "reason": {"type": "string"},
        "created_by": nullable({"type": "string"}),
        "written_by_plan": nullable({"type": "integer"}),
        "created_at": MOMENT,
    },
)
ENVIRONMENT = record(
    "Environment",
    {
        "name": ENVIRONMENT_NAME,
        "protected": {"type": "boolean", "description": "Its policy changes only through an approved plan."},
        "rate_limit_per_minute": {"type": "integer"},
        "sign_content": {"type": "boolean"},
        "prompt_in_credentials": {"type": "boolean"},
        "policy": nullable(POLICY),
    },
)
PROJECT = record(
    "Project",
    {
        "slug": {"type": "string"},
        "name": {"type": "string"},
        "role": ROLE,
        "may": {
            "type": "object",
            "description": "Each action of the permission table and whether your role allows it here.",
            "additionalProperties": {"type": "boolean"},
        },
        "environments": {"type": "array", "items": ENVIRONMENT},
    },
)
TOKEN = record(
    "AccessToken",
    {
        "name": {"type": "string"},
        "prefix": {"type": "string"},
        "projects": {
            "anyOf": [{"type": "array", "items": {"type": "string"}}, {"const": "all"}],
            "description": "The projects it is limited to, or all the user's.",
        },
        "created_at": MOMENT,
        "last_used_at": nullable(MOMENT),
    },
)
ME = record(
    "Me",
    {
        "username": {"type": "string"},
        "site_wide": nullable({"type": "string", "enum": ["superuser", "auditor"]}),
        "token": TOKEN,
        "projects": {"type": "array", "items": PROJECT_REF},
    },
)

EVIDENCE_FILE = record(
    "EvidenceFile",
    {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "content_type": {"type": "string"},
        "size": {"type": "integer"},
        "sha256": {"type": "string"},
        "added_by": {"type": "string"},
        "added_at": MOMENT,
        "download": {"type": "string", "description": "Where to fetch it with the same token."},
    },
)
SIGN_OFF = record(
    "SignOff",
    {
        "user": {"type": "string"},
        "decision": {"type": "string", "enum": list(SignOff.Decision.values)},
        "comment": {"type": "string"},
        "plan_version": {"type": "integer"},
        "counts": {"type": "boolean", "description": "False once reset (the plan or the evidence changed, …)."},
        "reset_reason": {"type": "string"},
        "created_at": MOMENT,
    },
)
STEP = record(
    "ChecklistStep",
    {
        "id": {"type": "integer"},
        "position": {"type": "integer"},
        "kind": {"type": "string", "enum": list(StepKind.values)},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "required_role": ROLE,
        "minimum_sign_offs": {"type": "integer"},
        "approvers": {"type": "array", "items": {"type": "string"}, "description": "Empty: anyone with the role."},
        "approvals": {"type": "integer"},
        "done": {"type": "boolean"},
        "evidence": {"type": "string"},
        "links": {"type": "array", "items": {"type": "string"}},
        "files": {"type": "array", "items": EVIDENCE_FILE},
        "evidence_by": nullable({"type": "string"}),
        "sign_offs": {"type": "array", "items": SIGN_OFF},
    },
)
PLAN_FIELDS = {
    "id": {"type": "integer"},
    "project": {"type": "string"},
    "environment": ENVIRONMENT_NAME,
    "state": {"type": "string", "enum": list(MigrationPlan.State.values)},
    "from_snapshot": {"type": "string"},
    "to_snapshot": {"type": "string"},
    "from_provider": nullable({"type": "string"}),
    "to_provider": nullable({"type": "string"}),
    "reason": {"type": "string"},
    "author": {"type": "string"},
    "version": {"type": "integer"},
    "stages": {"type": "array", "items": {"type": "integer"}},
    "observation_window_hours": {"type": "number"},
    "auto_rollback": {"type": "boolean"},
    "stage_percent": nullable({"type": "integer", "description": "The rollout's current share of requests."}),
    "health": {"type": "string", "enum": list(MigrationPlan.Health.values)},
    "created_at": MOMENT,
    "updated_at": MOMENT,
    "finished_at": nullable(MOMENT),
}
PLAN_SUMMARY = record("PlanSummary", PLAN_FIELDS)
PLAN = record(
    "Plan",
    {
        **PLAN_FIELDS,
        "editors": {"type": "array", "items": {"type": "string"}},
        "steps": {"type": "array", "items": STEP},
    },
)
ALERT = record(
    "ShutdownAlert",
    {
        "id": {"type": "integer"},
        "project": {"type": "string"},
        "environment": ENVIRONMENT_NAME,
        "snapshot": {"type": "string"},
        "provider": {"type": "string"},
        "threshold_days": {"type": "integer"},
        "shutdown_on": DAY,
        "headline": {"type": "string"},
        "dependency": {"type": "string"},
        "replacement": nullable({"type": "string"}),
        "created_at": MOMENT,
    },
)
NOTIFICATION = record(
    "InboxItem",
    {
        "id": {"type": "integer"},
        "kind": {"type": "string"},
        "title": {"type": "string"},
        "body": {"type": "string"},
        "url": {"type": "string", "description": "Where to act on it in the dashboard."},
        "project": nullable({"type": "string"}),
        "created_at": MOMENT,
        "read_at": nullable(MOMENT),
    },
)
GENERATION = record(
    "Generation",
    {
        "id": {"type": "string"},
        "project": {"type": "string"},
        "environment": ENVIRONMENT_NAME,
        "operation": {"type": "string"},
        "status": {"type": "string"},
        "requested_model": {"type": "string"},
        "resolved_snapshot": {"type": "string"},
        "provider": nullable({"type": "string"}),
        "policy_revision": nullable({"type": "integer"}),
        "canary_arm": {"type": "string"},
        "purpose": {"type": "string"},
        "seconds": nullable({"type": "integer"}),
        "size": {"type": "string"},
        "prompt_sha256": {"type": "string"},
        "error_code": {"type": "string"},
        "error_message": {"type": "string"},
        "estimated_cost": {"type": "string", "description": "USD, as a decimal string."},
        "submitted_by": nullable({"type": "string"}),
        "created_at": MOMENT,
        "completed_at": nullable(MOMENT),
    },
)
AUDIT_EVENT = record(
    "AuditEvent",
    {
        "sequence": {"type": "integer"},
        "occurred_at": MOMENT,
        "actor_type": {"type": "string"},
        "actor": {"type": "string"},
        "action": {"type": "string"},
        "project": nullable({"type": "string"}),
        "environment": nullable({"type": "string"}),
        "object_type": {"type": "string"},
        "object_id": {"type": "string"},
        "payload": {"type": "object", "description": "The action's facts; `via` names the token behind it."},
        "hash": {"type": "string"},
    },
)
MANIFEST = {
    "title": "ExportManifest",
    "type": "object",
    "description": "The export's manifest, as the Audit page gives it (docs/audit-and-exports.md).",
}

# Requests

NO_BODY = request("Empty", {}, description="Nothing to send; an empty body or {} will do.")
REASON = request("Reason", {"reason": {"type": "string", "maxLength": 2000}})
MEMBERSHIP = request("MembershipRequest", {"role": ROLE}, required=("role",))
NAMES = {"type": "array", "items": {"type": "string", "maxLength": 100}, "maxItems": 100}
POLICY_REQUEST = request(
    "PolicyRevisionRequest",
    {
        "reason": {"type": "string", "minLength": 1, "maxLength": 2000, "description": "Kept with the revision."},
        "provider": {"type": "string", "maxLength": 50, "description": "A provider's slug; default: the current."},
        "default_model": {"type": "string", "maxLength": 100},
        "allowed_snapshots": NAMES,
        "alias_requests": {"type": "string", "enum": list(PolicyRevision.AliasRequests.values)},
        "canary_snapshot": {"type": "string", "maxLength": 100, "description": "Empty: no canary."},
        "canary_provider": nullable({"type": "string", "maxLength": 50}),
        "canary_percent": {"type": "integer", "minimum": 0, "maximum": 100},
        "max_seconds": nullable({"type": "integer", "minimum": 1, "maximum": 32767}),
        "allowed_sizes": nullable(NAMES),
        "allowed_features": nullable(NAMES),
        "allowed_operations": nullable({"type": "array", "items": {"enum": list(engine.OPERATIONS)}}),
        "monthly_budget": nullable({"type": "string", "pattern": r"^\d{1,10}(\.\d{1,2})?$"}),
    },
    required=("reason",),
    description="The next revision: what is not sent stays as in the current revision.",
)
STAGES = {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 100}, "minItems": 1, "maxItems": 20}
WINDOW_HOURS = {"type": "number", "minimum": 0, "maximum": 720}
PLAN_CREATE = request(
    "PlanRequest",
    {
        "environment": ENVIRONMENT_NAME,
        "to_snapshot": {"type": "string", "minLength": 1, "maxLength": 100},
        "to_provider": {"type": "string", "maxLength": 50, "description": "Another provider's slug; default: none."},
        "reason": {"type": "string", "minLength": 1, "maxLength": 5000},
        "stages": STAGES,
        "observation_window_hours": WINDOW_HOURS,
        "auto_rollback": {"type": "boolean"},
    },
    required=("environment", "to_snapshot", "reason"),
)
PLAN_EDIT = request(
    "PlanEditRequest",
    {name: spec for name, spec in PLAN_CREATE["properties"].items() if name != "environment"},
    description="What is not sent stays as it is. Every sign-off given so far is reset.",
)
EVIDENCE = request(
    "EvidenceRequest",
    {"evidence": TEXT, "links": {"type": "array", "items": {"type": "string", "maxLength": 2000}, "maxItems": 50}},
    description="The step's evidence text and links, replaced as the dashboard's form replaces them.",
)
ATTACH_LINK = request(
    "AttachLinkRequest",
    {"link": {"type": "string", "format": "uri", "minLength": 1, "maxLength": 2000}},
    required=("link",),
)
ATTACH_FILE = request(
    "AttachFileRequest",
    {"file": {"type": "string", "contentMediaType": "application/octet-stream"}},
    required=("file",),
)
SIGN_OFF_REQUEST = request(
    "SignOffRequest",
    {
        "decision": {"type": "string", "enum": list(SignOff.Decision.values)},
        "comment": {"type": "string", "minLength": 1, "maxLength": 5000, "description": "What you checked."},
    },
    required=("decision", "comment"),
)
MARK_READ = request(
    "MarkReadRequest",
    {"ids": {"type": "array", "items": ID, "maxItems": 500, "description": "Default: every unread item."}},
)
EXPORT_REQUEST = request(
    "ExportRequest",
    {
        "kind": {"type": "string", "enum": ["generations", "audit"]},
        "format": {"type": "string", "enum": ["csv", "jsonl"]},
        "project": {"type": "string", "maxLength": 50},
        "environment": {"type": "string", "maxLength": 20},
        "snapshot": {"type": "string", "maxLength": 100, "description": "Generations only."},
        "status": {"type": "string", "maxLength": 20, "description": "Generations only."},
        "action": {"type": "string", "maxLength": 64, "description": "Audit only, e.g. migration.signed_off."},
        "since": {"type": "string", "maxLength": 40, "description": "A date or an ISO date-time, UTC by default."},
        "until": {"type": "string", "maxLength": 40, "description": "A date (that whole day) or a date-time."},
    },
    required=("kind", "format"),
)


# Checking values


_validators: dict[int, jsonschema.Draft202012Validator] = {}


def validator(schema: dict) -> jsonschema.Draft202012Validator:
    if id(schema) not in _validators:
        _validators[id(schema)] = jsonschema.Draft202012Validator(schema)
    return _validators[id(schema)]


def is_valid(schema: dict, value: Any) -> bool:
    return validator(schema).is_valid(value)


def first_problem(schema: dict, value: Any) -> str | None:
    error = next(iter(validator(schema).iter_errors(value)), None)
    return None if error is None else error.message[:300]


def from_query_text(schema: dict, text: str) -> Any:
    """A query value typed as its schema says, when it reads as that type; left as text otherwise (and refused)."""
    kind = schema.get("type")
    if kind == "integer" and text.lstrip("-").isascii() and text.lstrip("-").isdigit() and len(text) <= 20:
        return int(text)
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    return text


def without(schema: dict, names: list[str]) -> dict:
    """The schema without the named properties (a multipart form's file fields, checked on their own)."""
    return {
        **schema,
        "properties": {name: spec for name, spec in schema["properties"].items() if name not in names},
        "required": [name for name in schema.get("required", []) if name not in names],
    }


def require_clean_text(value: Any, where: str = "") -> None:
    """Refuse text no database stores as sent: NUL characters and unpaired surrogates, in keys or values."""
    if isinstance(value, dict):
        for key, item in value.items():
            require_clean_text(key, where)
            require_clean_text(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for item in value:
            require_clean_text(item, where)
    elif isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(400, "invalid_text", "Text must be valid Unicode.", field=where or None) from None
        if "\x00" in value:
            raise ApiError(400, "invalid_text", "Text may not contain NUL characters.", field=where or None)
