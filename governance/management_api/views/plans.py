"""Migration plans: author, evidence, review and four-eyes sign-off, rollout and rollback, all through
`snapshot_migrations.services`, with the dashboard's refusals (their codes are the error's `code`)."""

import datetime as dt

from django.http import FileResponse

from governance.catalog.models import Provider
from governance.management_api import schemas, serializers
from governance.management_api.endpoints import Call, operation
from governance.management_api.errors import ApiError
from governance.management_api.views.projects import environment_of
from governance.projects import permissions
from governance.projects.models import Project
from governance.snapshot_migrations import selectors, services
from governance.snapshot_migrations.models import ChecklistStep, EvidenceFile, MigrationPlan
from governance.snapshot_migrations.views import evidence_download

TAG = "Migration plans"
ACTION_ERRORS = (400, 401, 403, 404, 409)
STATES = {"type": "string", "enum": list(MigrationPlan.State.values)}
FOUR_EYES = (
    "Four-eyes: the plan's author and editors, and whoever wrote a step's evidence, are refused "
    "(403 `own_plan`, `own_evidence`)."
)


@operation(
    "GET",
    summary="The project's migration plans, newest first (the latest 200)",
    tag=TAG,
    query={"state": STATES},
    response=schemas.listing("PlanList", schemas.PLAN_SUMMARY),
    action=permissions.VIEW_PROJECT,
    errors=(400, 401, 403, 404),
)
def list_plans(call: Call, project: Project) -> dict:
    plans = selectors.plans_of(project).select_related("project", "from_provider", "to_provider")
    if "state" in call.query:
        plans = plans.filter(state=call.query["state"])
    return {"data": [serializers.plan_summary(plan) for plan in plans[:200]]}


@operation(
    "POST",
    summary="Create a draft plan moving an environment to another snapshot, with the project's checklist",
    tag=TAG,
    body=schemas.PLAN_CREATE,
    response=schemas.PLAN,
    status=201,
    action=permissions.PLAN_MIGRATION,
    errors=(400, 401, 403, 404),
)
def create_plan(call: Call, project: Project) -> dict:
    body = call.body
    plan = services.create_plan(
        environment=environment_of(project, body["environment"], field="environment"),
        to_snapshot=body["to_snapshot"],
        to_provider=_provider(body.get("to_provider")),
        reason=body["reason"],
        author=call.user,
        stages=body.get("stages"),
        observation_window=_window(body.get("observation_window_hours")),
        auto_rollback=body.get("auto_rollback", True),
    )
    return _plan(project, plan.pk)


@operation(
    "GET",
    summary="A plan with its checklist: steps, evidence, sign-offs",
    tag=TAG,
    response=schemas.PLAN,
    action=permissions.VIEW_PROJECT,
    errors=(401, 403, 404),
)
def get_plan(call: Call, project: Project, plan_id: int) -> dict:
    return _plan(project, plan_id)


@operation(
    "PATCH",
    summary="Change what a plan proposes (its author, or an admin); every sign-off is reset",
    tag=TAG,
    body=schemas.PLAN_EDIT,
    response=schemas.PLAN,
    action=permissions.PLAN_MIGRATION,
    errors=ACTION_ERRORS,
)
def edit_plan(call: Call, project: Project, plan_id: int) -> dict:
    plan = _plan_row(project, plan_id)
    services.require_editable(plan=plan, user=call.user)  # before the values: their errors would hide why
    body = call.body
    to_provider = _provider(body["to_provider"]) if "to_provider" in body else None
    if "to_provider" not in body and plan.crosses_providers:
        to_provider = plan.to_provider
    window = _window(body["observation_window_hours"]) if "observation_window_hours" in body else None
    services.edit_plan(
        plan=plan,
        user=call.user,
        reason=body.get("reason", plan.reason),
        to_snapshot=body.get("to_snapshot", plan.to_snapshot),
        to_provider=to_provider,
        stages=body.get("stages", plan.stages),
        observation_window=window if window is not None else plan.observation_window,
        auto_rollback=body.get("auto_rollback", plan.auto_rollback),
    )
    return _plan(project, plan.pk)


@operation(
    "PUT",
    summary="Write a step's evidence text and links, as the dashboard's form does; its sign-offs are reset",
    tag=TAG,
    body=schemas.EVIDENCE,
    response=schemas.STEP,
    action=permissions.ADD_EVIDENCE,
    errors=ACTION_ERRORS,
    description="What is not sent stays as it is. " + FOUR_EYES.replace("are refused", "do not sign the step"),
)
def put_evidence(call: Call, project: Project, plan_id: int, step_id: int) -> dict:
    plan, step = _plan_and_step(project, plan_id, step_id)
    evidence = call.body.get("evidence", step.evidence)
    links = "\n".join(call.body["links"]) if "links" in call.body else step.evidence_links
    services.update_evidence(plan=plan, step=step, user=call.user, evidence=evidence, links=links)
    return _step(project, plan.pk, step.pk)


@operation(
    "POST",
    summary="Attach a link (JSON) or a file (multipart, field `file`) to a step's evidence",
    tag=TAG,
    body=schemas.ATTACH_LINK,
    multipart=schemas.ATTACH_FILE,
    response=schemas.STEP,
    status=201,
    action=permissions.ADD_EVIDENCE,
    errors=(*ACTION_ERRORS, 413, 415),
    description=(
        "A pipeline attaches its test report here. What the step had is kept; its sign-offs are reset, "
        "and whoever attached the evidence does not sign the step off. Files are kept with their SHA-256 "
        "(at most EVIDENCE_MAX_BYTES, 20 MiB by default)."
    ),
)
def attach_evidence(call: Call, project: Project, plan_id: int, step_id: int) -> dict:
    plan, step = _plan_and_step(project, plan_id, step_id)
    services.attach_evidence(
        plan=plan, step=step, user=call.user, link=call.body.get("link", ""), file=call.files.get("file")
    )
    return _step(project, plan.pk, step.pk)


@operation(
    "GET",
    summary="Download a file attached as evidence",
    tag=TAG,
    media="application/octet-stream",
    response={"type": "string", "contentMediaType": "application/octet-stream"},
    action=permissions.VIEW_PROJECT,
    errors=(401, 403, 404),
)
def evidence_file(call: Call, project: Project, plan_id: int, step_id: int, file_id: int) -> FileResponse:
    plan = _plan_row(project, plan_id)
    attached = EvidenceFile.objects.filter(step__plan=plan, step_id=step_id, pk=file_id).first()
    if attached is None:
        raise ApiError.not_found("No such evidence file.")
    return evidence_download(attached)


@operation(
    "POST",
    summary="Approve or reject one step, with your own token",
    tag=TAG,
    body=schemas.SIGN_OFF_REQUEST,
    response=schemas.PLAN,
    action=permissions.VIEW_PROJECT,
    errors=ACTION_ERRORS,
    description=(
        FOUR_EYES + " Others are refused as in the browser: the step's role (403 `role`), named approvers "
        "(403 `not_named`), a second sign-off (403 `already_signed`), a plan not in review (409 `not_in_review`), "
        "an approval without evidence (409 `evidence_missing`). A rejection rejects the plan; the last approval "
        "approves it."
    ),
)
def sign_off_step(call: Call, project: Project, plan_id: int, step_id: int) -> dict:
    plan, step = _plan_and_step(project, plan_id, step_id)
    services.sign_off(
        plan=plan, step=step, user=call.user, decision=call.body["decision"], comment=call.body["comment"]
    )
    return _plan(project, plan.pk)


def _plan_action(name: str, summary: str, perform, *, body: dict = schemas.NO_BODY, description: str = ""):
    """One of the plan's buttons (submit, cancel, start, advance, roll back) as an endpoint: the service decides."""

    def act(call: Call, project: Project, plan_id: int) -> dict:
        perform(_plan_row(project, plan_id), call.user, call.body.get("reason", "").strip())
        return _plan(project, plan_id)

    act.__name__ = name
    return operation(
        "POST",
        summary=summary,
        tag=TAG,
        body=body,
        response=schemas.PLAN,
        action=permissions.VIEW_PROJECT,
        errors=ACTION_ERRORS,
        description=description,
    )(act)


submit_plan = _plan_action(
    "submit_plan",
    "Submit a draft for review (its author, or an admin); the approvers it needs are told",
    lambda plan, user, reason: services.submit_for_review(plan=plan, user=user),
)
cancel_plan = _plan_action(
    "cancel_plan",
    "Cancel a plan not yet rolling out (its author, or an admin)",
    lambda plan, user, reason: services.cancel_plan(plan=plan, user=user, reason=reason),
    body=schemas.REASON,
)
start_rollout = _plan_action(
    "start_rollout",
    "Start an approved plan's rollout at its first stage (admins)",
    lambda plan, user, reason: services.start_rollout(plan=plan, user=user),
)
advance_rollout = _plan_action(
    "advance_rollout",
    "Advance the rollout to its next stage, or complete it after the last (admins)",
    lambda plan, user, reason: services.advance_rollout(plan=plan, user=user, override_reason=reason),
    body=schemas.REASON,
    description="Before the stage's observation window ends, only with a `reason` (an admin's override).",
)
roll_back = _plan_action(
    "roll_back",
    "Roll back to the from-snapshot (approvers and admins)",
    lambda plan, user, reason: services.roll_back(plan=plan, user=user, reason=reason or "Rolled back by hand."),
    body=schemas.REASON,
)


def _provider(slug: str | None) -> Provider | None:
    if not slug:
        return None
    provider = Provider.objects.filter(slug=slug).first()
    if provider is None:
        raise ApiError(400, "invalid", f"No provider has the slug '{slug}'.", field="to_provider")
    return provider


def _window(hours: float | None) -> dt.timedelta | None:
    return dt.timedelta(hours=hours) if hours is not None else None


def _plan_row(project: Project, plan_id: int) -> MigrationPlan:
    plan = MigrationPlan.objects.filter(project=project, pk=plan_id).select_related("project", "environment").first()
    if plan is None:
        raise ApiError.not_found(f"{project.slug} has no migration plan {plan_id}.")
    return plan


def _plan_and_step(project: Project, plan_id: int, step_id: int) -> tuple[MigrationPlan, ChecklistStep]:
    plan = _plan_row(project, plan_id)
    step = plan.steps.filter(pk=step_id).first()
    if step is None:
        raise ApiError.not_found(f"Plan {plan_id} has no step {step_id}.")
    return plan, step


def _plan(project: Project, plan_id: int) -> dict:
    """The plan as it is now, read afresh after any change."""
    return serializers.plan(selectors.plan_with_checklist(project, plan_id))


def _step(project: Project, plan_id: int, step_id: int) -> dict:
    plan = selectors.plan_with_checklist(project, plan_id)
    return serializers.step(plan, next(step for step in plan.steps.all() if step.pk == step_id))
