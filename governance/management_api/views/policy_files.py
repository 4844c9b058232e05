"""Policy as code over the API: a project's policies as a YAML file, how a file differs, and applying one.

The same services as `manage.py governance export|plan|apply` (governance/policy_files), so a file
gets the same checks, line-numbered errors, revisions, plan drafts and audit events either way.
Applying acts as the token's user, who needs the role that edits policies.
"""

from governance.management_api import schemas
from governance.management_api.endpoints import Call, operation
from governance.management_api.errors import ApiError
from governance.policy_files import report
from governance.policy_files.schema import FileError, PolicyFileInvalid
from governance.policy_files.services import ApplyRefused, apply_changes, export_project, plan_changes, project_of_file
from governance.projects import permissions
from governance.projects.models import Project

TAG = "Policy as code"
FILE_TEXT = {"type": "string", "maxLength": 1_000_000, "description": "The policy file's YAML text."}
FILE_NAME = {"type": "string", "maxLength": 200, "description": "Its name, as errors and revisions cite it."}
POLICY_FILE = schemas.record("PolicyFile", {"project": {"type": "string"}, "file": FILE_TEXT})
PLAN_REQUEST = schemas.request("PolicyFilePlanRequest", {"file": FILE_TEXT, "file_name": FILE_NAME}, required=("file",))
APPLY_REQUEST = schemas.request(
    "PolicyFileApplyRequest",
    {"file": FILE_TEXT, "file_name": FILE_NAME, "reason": {"type": "string", "minLength": 1, "maxLength": 2000}},
    required=("file", "reason"),
)
REPORT = {"type": "array", "items": {"type": "string"}, "description": "The lines `manage.py governance` prints."}
PLAN_ANSWER = schemas.record("PolicyFilePlan", {"differs": {"type": "boolean"}, "report": REPORT})
APPLY_ANSWER = schemas.record(
    "PolicyFileApplied",
    {
        "revisions": {
            "type": "array",
            "items": schemas.record("AppliedRevision", {"environment": {"type": "string"}, "number": schemas.ID}),
        },
        "plans": {"type": "array", "items": schemas.ID, "description": "The ids of the migration plan drafts opened."},
        "report": REPORT,
    },
)
DEFAULT_NAME = "policies.yaml"


@operation(
    "GET",
    summary="The project's policies in force, as a policy file",
    tag=TAG,
    response=POLICY_FILE,
    action=permissions.VIEW_PROJECT,
    errors=(401, 403, 404),
)
def export_policy_file(call: Call, project: Project) -> dict:
    return {"project": project.slug, "file": export_project(project)}


@operation(
    "POST",
    summary="How a policy file differs from what is in force",
    tag=TAG,
    body=PLAN_REQUEST,
    response=PLAN_ANSWER,
    action=permissions.VIEW_PROJECT,
    errors=(400, 401, 403, 404),
    description="A file with errors is refused with 400 `invalid_policy_file`, each error in `details` with its line.",
)
def plan_policy_file(call: Call, project: Project) -> dict:
    text, name = _file_of(call, project)
    plan = plan_changes(project, text, file_name=name)
    if plan.errors:
        raise _invalid(plan.errors, name)
    return {"differs": plan.differs, "report": report.plan_report(plan)}


@operation(
    "POST",
    summary="Apply a policy file: revisions where unprotected, migration plan drafts where protected",
    tag=TAG,
    body=APPLY_REQUEST,
    response=APPLY_ANSWER,
    action=permissions.EDIT_POLICY,
    errors=(400, 401, 403, 404),
    description="All or nothing: a file with errors is refused with 400 `invalid_policy_file` and changes nothing.",
)
def apply_policy_file(call: Call, project: Project) -> dict:
    text, name = _file_of(call, project)
    reason = call.body["reason"]
    try:
        applied = apply_changes(project, text, user=call.user, reason=reason, file_name=name)
    except PolicyFileInvalid as invalid:
        raise _invalid(invalid.errors, name) from None
    except ApplyRefused as refusal:
        raise ApiError(403, "refused", refusal.message) from None
    outcomes = [outcome for outcome in applied.outcomes if outcome.wrote]
    return {
        "revisions": [
            {"environment": outcome.change.environment.name, "number": outcome.revision.number}
            for outcome in outcomes
            if outcome.revision is not None
        ],
        "plans": [outcome.draft.pk for outcome in outcomes if outcome.draft is not None],
        "report": report.apply_report(applied, user=call.user, reason=reason.strip()),
    }


def _file_of(call: Call, project: Project) -> tuple[str, str]:
    """The file's text and name, refused unless it describes the project of the URL."""
    text, name = call.body["file"], call.body.get("file_name") or DEFAULT_NAME
    try:
        described = project_of_file(text)
    except PolicyFileInvalid as invalid:
        raise _invalid(invalid.errors, name) from None
    if described.pk != project.pk:
        raise ApiError(400, "wrong_project", f"The file describes {described.slug}, not {project.slug}.", field="file")
    return text, name


def _invalid(errors: list[FileError], name: str) -> ApiError:
    details = [{"field": error.path or None, "message": error.shown(name)} for error in errors]
    count = f"{len(errors)} error{'s' if len(errors) != 1 else ''}"
    return ApiError(400, "invalid_policy_file", f"{name}: {count}; nothing applied.", field="file", details=details)
