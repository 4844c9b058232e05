"""Migration plans: authoring, four-eyes sign-off, staged rollout, health gates and rollback.

Every transition writes its audit event (target: the plan) in the same transaction
as the change, and tells the people who need to act. Refused attempts raise
`PlanRefused` after their own audit event is committed, so a refusal is on record
even though nothing changed.
"""

import datetime as dt
import hashlib
from functools import wraps

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import URLValidator
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from governance.audit.services import Actor, record_event
from governance.catalog.models import Provider, Snapshot
from governance.catalog.selectors import load_catalog_view
from governance.generations.services import playground_holder, submit
from governance.generations.submissions import parse_submission
from governance.notifications.services import notify
from governance.policies.engine import ComparisonRun, Operation
from governance.policies.selectors import current_revision
from governance.policies.services import lock_policy, revise_policy
from governance.projects import permissions
from governance.projects.models import Environment, Membership, Project, Role
from governance.snapshot_migrations import events, health
from governance.snapshot_migrations.models import (
    DEFAULT_STAGES,
    DEFAULT_WINDOW,
    ChecklistStep,
    ChecklistTemplateStep,
    ComparisonPair,
    ComparisonPrompt,
    EvidenceFile,
    MigrationPlan,
    SignOff,
    StepKind,
)

State = MigrationPlan.State

DEFAULT_STEPS = [
    dict(
        kind=StepKind.COMPATIBILITY,
        title="Prompt compatibility tests",
        description="Run the project's prompt set on both snapshots and judge every pair.",
        required_role=Role.APPROVER,
        minimum_sign_offs=1,
    ),
    dict(
        kind=StepKind.BENCHMARK,
        title="Performance benchmark",
        description="Success rate, p50/p95 latency and cost per second of both snapshots, side by side.",
        required_role=Role.APPROVER,
        minimum_sign_offs=1,
    ),
    dict(
        kind=StepKind.ACCEPTANCE,
        title="Business acceptance",
        description="The product owner and a second reviewer accept the change for the business.",
        required_role=Role.APPROVER,
        minimum_sign_offs=2,
    ),
    dict(
        kind=StepKind.ROLLOUT,
        title="Gradual rollout plan",
        description="Stages, observation windows, health gates and the rollback are agreed.",
        required_role=Role.ADMIN,
        minimum_sign_offs=1,
    ),
]


class PlanRefused(Exception):
    """A plan action that the rules do not allow; `code` names the rule."""

    def __init__(self, code: str, message: str, *, plan=None, user=None, attempt: str = "", **payload):
        super().__init__(message)
        self.code, self.message = code, message
        self.plan, self.user, self.attempt, self.payload = plan, user, attempt, payload


def refusals_audited(service):
    """Run a plan service in one transaction; a refusal rolls it back and is then audited on its own."""

    @wraps(service)
    def run(*args, **kwargs):
        try:
            with transaction.atomic():
                return service(*args, **kwargs)
        except PlanRefused as refusal:
            if refusal.plan is not None and refusal.user is not None:
                with transaction.atomic():
                    _audit(
                        refusal.plan,
                        "migration.refused",
                        Actor.for_user(refusal.user),
                        attempt=refusal.attempt,
                        code=refusal.code,
                        message=refusal.message,
                        **refusal.payload,
                    )
            raise

    return run


def plan_url(plan: MigrationPlan) -> str:
    return reverse("snapshot_migrations:plan_detail", args=[plan.project.slug, plan.pk])


# Checklist templates


def template_steps(project: Project) -> list[ChecklistTemplateStep]:
    """The project's checklist template, created from the default four steps the first time it is needed."""
    steps = list(project.checklist_template.prefetch_related("approvers"))
    if steps:
        return steps
    for position, step in enumerate(DEFAULT_STEPS, start=1):
        ChecklistTemplateStep.objects.get_or_create(project=project, position=position, defaults=step)
    return list(project.checklist_template.prefetch_related("approvers"))


# Authoring


def _pinned_snapshot(environment: Environment) -> tuple[str, object]:
    revision = current_revision(environment)
    if revision is None:
        raise ValidationError({"environment": "This environment has no policy yet, so there is nothing to migrate."})
    pinned = load_catalog_view(revision.provider_id).resolve(revision.default_model)
    return pinned or revision.default_model, revision


def _clean_rollout(stages: list[int] | None, window: dt.timedelta | None) -> tuple[list[int], dt.timedelta]:
    stages = list(stages or DEFAULT_STAGES)
    errors = {}
    if not stages or any(not 0 < s <= 100 for s in stages) or stages != sorted(set(stages)) or stages[-1] != 100:
        errors["stages"] = "Rising percentages between 1 and 100, ending at 100 (for example 10, 50, 100)."
    window = window if window is not None else DEFAULT_WINDOW
    if window < dt.timedelta(0):
        errors["observation_window"] = "The observation window cannot be negative."
    if errors:
        raise ValidationError(errors)
    return stages, window


def _check_target(environment: Environment, from_snapshot: str, to_snapshot: str, revision, to_provider) -> None:
    catalog = load_catalog_view(to_provider.pk)
    target = catalog.snapshots.get(to_snapshot)
    if target is None:
        raise ValidationError({"to_snapshot": f"'{to_snapshot}' is not a snapshot of {to_provider.name}."})
    if to_snapshot == from_snapshot and to_provider.pk == revision.provider_id:
        raise ValidationError({"to_snapshot": f"{environment} already runs {to_snapshot}."})
    if target.is_shut_down(timezone.now()):
        raise ValidationError(
            {"to_snapshot": f"{to_snapshot} at {to_provider.name} shut down on {target.shutdown_on}; choose another."}
        )


@transaction.atomic
def create_plan(
    *,
    environment: Environment,
    to_snapshot: str,
    reason: str,
    author,
    stages: list[int] | None = None,
    observation_window: dt.timedelta | None = None,
    auto_rollback: bool = True,
    to_provider=None,
) -> MigrationPlan:
    """A draft plan moving `environment` from what it runs now to `to_snapshot`, with the project's checklist.

    `to_provider` None means the environment's own provider. A move to another provider's snapshot
    is staged like any other: its stages below 100% canary across providers, and 100% moves the
    environment's policy to the other provider.
    """
    if not reason.strip():
        raise ValidationError({"reason": "Say why the environment should move."})
    from_snapshot, revision = _pinned_snapshot(environment)
    to_provider = to_provider or revision.provider
    _check_target(environment, from_snapshot, to_snapshot, revision, to_provider)
    stages, window = _clean_rollout(stages, observation_window)
    plan = MigrationPlan.objects.create(
        project=environment.project,
        environment=environment,
        from_snapshot=from_snapshot,
        to_snapshot=to_snapshot,
        from_provider=revision.provider,
        to_provider=to_provider,
        reason=reason.strip(),
        author=author,
        stages=stages,
        observation_window=window,
        auto_rollback=auto_rollback,
    )
    for template in template_steps(environment.project):
        step = ChecklistStep.objects.create(
            plan=plan,
            position=template.position,
            kind=template.kind,
            title=template.title,
            description=template.description,
            required_role=template.required_role,
            minimum_sign_offs=template.minimum_sign_offs,
        )
        step.approvers.set(template.approvers.all())
    _audit(plan, "migration.plan_created", Actor.for_user(author), stages=stages, window_hours=_hours(window))
    return plan


@refusals_audited
def edit_plan(
    *,
    plan: MigrationPlan,
    user,
    reason: str,
    to_snapshot: str,
    stages: list[int],
    observation_window: dt.timedelta,
    auto_rollback: bool,
    to_provider=None,
) -> MigrationPlan:
    """Change what the plan proposes; every sign-off given so far is reset and review starts again."""
    plan = _locked(plan)
    if refusal := edit_refusal(plan=plan, user=user):
        raise refusal
    if not reason.strip():
        raise ValidationError({"reason": "Say why the environment should move."})
    _, revision = _pinned_snapshot(plan.environment)
    to_provider = to_provider or revision.provider
    _check_target(plan.environment, plan.from_snapshot, to_snapshot, revision, to_provider)
    stages, window = _clean_rollout(stages, observation_window)
    plan.reason, plan.to_snapshot, plan.stages = reason.strip(), to_snapshot, stages
    plan.to_provider = to_provider
    plan.observation_window, plan.auto_rollback = window, auto_rollback
    reset = _reset_sign_offs(plan, SignOff.objects.filter(step__plan=plan))
    previous_state = plan.state
    if plan.state == State.APPROVED:
        plan.state = State.IN_REVIEW
    plan.version += 1
    plan.updated_at = timezone.now()
    plan.save()
    if user.pk != plan.author_id:
        plan.editors.add(user)
        plan.__dict__.pop("editor_ids", None)  # read again on next use
    _audit(plan, "migration.plan_edited", Actor.for_user(user), sign_offs_reset=reset, state_before=previous_state)
    if reset:
        _tell(_plan_people(plan), plan, "Plan edited: sign-offs reset", f"{user} edited the plan; sign again.")
        _ask_for_review(plan, Actor.for_user(user), f"{user} edited the plan, so its sign-offs were reset.")
    return plan


def edit_refusal(*, plan: MigrationPlan, user) -> PlanRefused | None:
    """Why `user` may not edit the plan now (None if they may): edit_plan's own rule, asked before its form.

    A plan that is rolling out, completed, rolled back or cancelled is a record of what was
    decided and done; moving the environment again is a new plan.
    """
    return _state_refusal(plan, user, "edit", MigrationPlan.EDITABLE) or _author_or_admin_refusal(plan, user, "edit")


@refusals_audited
def require_editable(*, plan: MigrationPlan, user) -> None:
    """Refuse, audited like any refused plan action, unless `user` may edit the plan now."""
    if refusal := edit_refusal(plan=plan, user=user):
        raise refusal


@refusals_audited
def update_evidence(*, plan: MigrationPlan, step: ChecklistStep, user, evidence: str, links: str) -> ChecklistStep:
    """Change a step's evidence; the step's sign-offs were given on the old evidence, so they are reset."""
    plan = _locked(plan)
    _require_state(plan, user, "edit evidence", MigrationPlan.EDITABLE)
    if not permissions.may(user, plan.project, permissions.ADD_EVIDENCE):
        _refuse(
            plan,
            user,
            "edit evidence",
            "role",
            f"Adding evidence needs {permissions.role_needed(permissions.ADD_EVIDENCE)}.",
        )
    step.evidence, step.evidence_links, step.evidence_by = evidence.strip(), links.strip(), user
    step.save(update_fields=["evidence", "evidence_links", "evidence_by"])
    reset = _reset_sign_offs(plan, step.sign_offs.all())
    if reset and plan.state == State.APPROVED:
        plan.state = State.IN_REVIEW
        plan.save(update_fields=["state"])
    _audit(plan, "migration.evidence_updated", Actor.for_user(user), step=step.title, sign_offs_reset=reset)
    if reset:
        _ask_for_review(plan, Actor.for_user(user), _evidence_changed_words(user, step), steps=[step])
    return step


def _evidence_changed_words(user, step: ChecklistStep) -> str:
    return f"{user} changed the evidence of “{step.title}”, so its sign-offs were reset."


@refusals_audited
def attach_evidence(
    *, plan: MigrationPlan, step: ChecklistStep, user, link: str = "", file: UploadedFile | None = None
) -> ChecklistStep:
    """Add one link or one file (a pipeline's test report, say) to a step's evidence, keeping what it has.

    Like any change of evidence, it resets the step's sign-offs, and whoever attached it does not sign
    the step off on it (four-eyes). A file is kept with its size and SHA-256, which the audit event names.
    """
    plan = _locked(plan)
    _require_state(plan, user, "attach evidence", MigrationPlan.EDITABLE)
    if not permissions.may(user, plan.project, permissions.ADD_EVIDENCE):
        needed = permissions.role_needed(permissions.ADD_EVIDENCE)
        _refuse(plan, user, "attach evidence", "role", f"Adding evidence needs {needed}.")
    if bool(link) == (file is not None):
        raise ValidationError("Attach either one link or one file.")
    if file is not None:
        attached = {"file": _store_evidence_file(step, user, file)}
    else:
        attached = {"link": _checked_link(link)}
        if attached["link"] not in step.links():
            step.evidence_links = "\n".join([*step.links(), attached["link"]])
    step.evidence_by = user
    step.save(update_fields=["evidence_links", "evidence_by"])
    reset = _reset_sign_offs(plan, step.sign_offs.all())
    if reset and plan.state == State.APPROVED:
        plan.state = State.IN_REVIEW
        plan.save(update_fields=["state"])
    _audit(
        plan, "migration.evidence_attached", Actor.for_user(user), step=step.title, sign_offs_reset=reset, **attached
    )
    if reset:
        _ask_for_review(plan, Actor.for_user(user), _evidence_changed_words(user, step), steps=[step])
    return step


def _checked_link(link: str) -> str:
    link = link.strip()
    try:
        URLValidator(schemes=["http", "https"])(link)
    except ValidationError:
        raise ValidationError({"link": "A link is a web address, such as https://ci.example.com/runs/42."}) from None
    return link


def _store_evidence_file(step: ChecklistStep, user, upload: UploadedFile) -> dict:
    limit = settings.EVIDENCE_MAX_BYTES
    if upload.size > limit:
        message = f"The file is {upload.size:,} bytes; evidence files may be {limit:,} bytes at most."
        raise ValidationError({"file": message})
    if not upload.size:
        raise ValidationError({"file": "The file is empty."})
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    name = clean_file_name(upload.name or "evidence")
    stored = EvidenceFile(
        step=step,
        name=name,
        content_type=(upload.content_type or "application/octet-stream")[:100],
        size=upload.size,
        sha256=digest.hexdigest(),
        added_by=user,
    )
    stored.file.save(name, upload, save=False)
    stored.save()
    return {"name": stored.name, "size": stored.size, "sha256": stored.sha256, "id": stored.pk}


def clean_file_name(name: str) -> str:
    """An uploaded file's name as we show it: its last path part, printable, at most 200 characters."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip().encode("utf-8", "replace").decode("utf-8")
    return name[-200:] or "evidence"


def has_evidence(step: ChecklistStep) -> bool:
    """Whether a step has anything an approver could check: text, a link or a file."""
    return bool(step.evidence.strip() or step.links() or step.evidence_files.exists())


def _reset_sign_offs(plan: MigrationPlan, sign_offs) -> int:
    return sign_offs.filter(reset_at__isnull=True).update(reset_at=timezone.now())


# Review and sign-off


@refusals_audited
def submit_for_review(*, plan: MigrationPlan, user) -> MigrationPlan:
    plan = _locked(plan)
    _require_state(plan, user, "submit for review", [State.DRAFT])
    _require_author_or_admin(plan, user, "submit for review")
    _transition(plan, State.IN_REVIEW, Actor.for_user(user))
    _tell(signers_needed(plan), plan, "A migration plan awaits your sign-off", plan.reason)
    _ask_for_review(plan, Actor.for_user(user), f"{user} submitted the plan for review.")
    return plan


@refusals_audited
def cancel_plan(*, plan: MigrationPlan, user, reason: str = "") -> MigrationPlan:
    plan = _locked(plan)
    _require_state(plan, user, "cancel", MigrationPlan.EDITABLE)
    _require_author_or_admin(plan, user, "cancel")
    _transition(plan, State.CANCELLED, Actor.for_user(user), reason=reason)
    _tell(_plan_people(plan), plan, "Migration plan cancelled", reason)
    return plan


@refusals_audited
def sign_off(*, plan: MigrationPlan, step: ChecklistStep, user, decision: str, comment: str) -> SignOff:
    """Approve or reject one step. Four-eyes: never on one's own plan, never twice on one step.

    A rejection rejects the plan; the last approval a checklist needs approves it.
    """
    plan = _locked(plan)
    refusal = sign_off_refusal(plan, step, user)
    if refusal is None and decision not in SignOff.Decision.values:
        refusal = PlanRefused("bad_decision", "Choose approve or reject.")
    if refusal is None and not comment.strip():
        refusal = PlanRefused("comment_required", "A sign-off needs a comment saying what you checked.")
    if refusal is None and decision == SignOff.Decision.APPROVE and not has_evidence(step):
        message = (
            "This step has no evidence yet: approve it once it has some (comparison verdicts, the recorded "
            "benchmark, or text and links). Rejecting needs none."
        )
        refusal = PlanRefused("evidence_missing", message)
    if refusal is not None:
        _refuse(plan, user, "sign off", refusal.code, refusal.message, step=step.title)
    return _record_sign_off(plan, step, user, decision, comment.strip())


def sign_off_refusal(plan: MigrationPlan, step: ChecklistStep, user) -> PlanRefused | None:
    """Why `user` may not sign `step` of `plan` now, or None when they may."""
    if plan.state != State.IN_REVIEW:
        return PlanRefused("not_in_review", f"The plan is {plan.get_state_display().lower()}, not in review.")
    if step.plan_id != plan.pk:
        return PlanRefused("wrong_plan", "That step belongs to another plan.")
    if user.pk == plan.author_id:
        return PlanRefused("own_plan", "You authored this plan; someone else must sign it off (four-eyes).")
    if plan.proposed_by(user):
        return PlanRefused("own_plan", "You edited this plan; someone else must sign it off (four-eyes).")
    if step.evidence_by_id == user.pk:
        return PlanRefused("own_evidence", "You wrote this step's evidence; someone else must sign it off (four-eyes).")
    if user.pk in verdict_givers(step):
        message = (
            "You judged this plan's comparison pairs, which are this step's evidence; "
            "someone else must sign it off (four-eyes)."
        )
        return PlanRefused("own_evidence", message)
    if not permissions.has_role(user, plan.project, step.required_role):
        return PlanRefused("role", f"This step needs the {step.required_role} role in {plan.project.slug}.")
    named = list(step.approvers.all())
    if named and user not in named:
        return PlanRefused("not_named", "This step names its approvers and you are not one of them.")
    if step.sign_offs.filter(user=user, reset_at__isnull=True).exists():
        return PlanRefused("already_signed", "You already signed this step; it needs a different person.")
    return None


def _record_sign_off(plan: MigrationPlan, step: ChecklistStep, user, decision: str, comment: str) -> SignOff:
    decision = SignOff.Decision(decision)
    signed = SignOff.objects.create(step=step, user=user, decision=decision, comment=comment, plan_version=plan.version)
    actor = Actor.for_user(user)
    _audit(plan, "migration.signed_off", actor, step=step.title, decision=decision.value, comment=comment)
    if decision == SignOff.Decision.REJECT:
        _transition(plan, State.REJECTED, actor, step=step.title, comment=comment)
        _tell(_plan_people(plan), plan, "Migration plan rejected", f"{user} rejected “{step.title}”: {comment}")
        events.plan_decided.send(MigrationPlan, plan=plan, actor=actor, decision="rejected", step=step, comment=comment)
    elif all(step_done(s) for s in plan.steps.all()):
        _transition(plan, State.APPROVED, actor)
        _tell(_plan_people(plan) | _admins(plan.project), plan, "Migration plan approved", "Ready to roll out.")
        events.plan_decided.send(MigrationPlan, plan=plan, actor=actor, decision="approved", step=None, comment="")
    return signed


def verdict_givers(step: ChecklistStep) -> set[int]:
    """Who judged the plan's comparison pairs, when they are `step`'s evidence (a prompt compatibility step).

    A verdict is evidence: its giver is an author of the step, as whoever wrote its text is.
    Reads the plan's comparisons through `step.plan`, so a prefetch of them serves every step.
    """
    if step.kind != StepKind.COMPATIBILITY:
        return set()
    return {pair.verdict_by_id for pair in step.plan.comparisons.all() if pair.verdict_by_id is not None}


def approvals(step: ChecklistStep) -> list[SignOff]:
    return [s for s in step.sign_offs.all() if s.reset_at is None and s.decision == SignOff.Decision.APPROVE]


def step_done(step: ChecklistStep) -> bool:
    return len({s.user_id for s in approvals(step)}) >= step.minimum_sign_offs


def signers_needed(plan: MigrationPlan) -> set:
    """Everyone who could give a sign-off the plan still needs."""
    people = set()
    proposers = {plan.author_id, *plan.editor_ids}
    members = Membership.objects.filter(project=plan.project).select_related("user")
    for step in plan.steps.prefetch_related("approvers", "sign_offs"):
        if step_done(step):
            continue
        signed = {s.user_id for s in step.sign_offs.all() if s.reset_at is None}
        named = list(step.approvers.all())
        candidates = named or [m.user for m in members if Role.rank(m.role) >= Role.rank(step.required_role)]
        authors = {step.evidence_by_id, *verdict_givers(step)}
        people |= {u for u in candidates if u.pk not in proposers | authors and u.pk not in signed}
    return people


NOT_STARTED = [State.IN_REVIEW, State.APPROVED]


@transaction.atomic
def withdraw_sign_offs(*, project: Project, user, role: str | None, actor: Actor) -> int:
    """`user` left `project` (`role` None) or now has `role`: their sign-offs of plans not started yet that they
    could no longer give stop counting. Returns how many.

    Runs in the membership change's own transaction (through `projects.signals.membership_changed`), so
    each withdrawn sign-off's audit event commits with the change. A sign-off is kept on record, reset with
    the reason; an approved plan missing a sign-off now returns to review, and the plan's people are told.
    """
    counted = SignOff.objects.filter(
        user=user, reset_at__isnull=True, step__plan__project=project, step__plan__state__in=NOT_STARTED
    )
    plan_ids = set(counted.values_list("step__plan_id", flat=True))
    withdrawn = 0
    for plan in MigrationPlan.objects.filter(pk__in=plan_ids).order_by("pk"):
        withdrawn += _withdraw_from_plan(_locked(plan), user, role, actor)
    return withdrawn


def _withdraw_from_plan(plan: MigrationPlan, user, role: str | None, actor: Actor) -> int:
    if plan.state not in NOT_STARTED:
        return 0
    name = user.get_username()
    change = f"{name} left {plan.project.slug}" if role is None else f"{name} is now {role}"
    signed = SignOff.objects.filter(step__plan=plan, user=user, reset_at__isnull=True).select_related("step")
    gone = [s for s in signed if not permissions.has_role(user, plan.project, s.step.required_role)]
    for sign_off in gone:
        why = change if role is None else f"{change}, below the {sign_off.step.required_role} role the step needs"
        sign_off.reset_at, sign_off.reset_reason = timezone.now(), f"no longer counts: {why}"
        sign_off.save(update_fields=["reset_at", "reset_reason"])
        _audit(plan, "migration.sign_off_withdrawn", actor, step=sign_off.step.title, signer=name, why=why)
    if not gone:
        return 0
    steps = ", ".join(f"“{title}”" for title in dict.fromkeys(sign_off.step.title for sign_off in gone))
    body = f"{name}'s sign-off of {steps} no longer counts: {change}."
    if plan.state == State.APPROVED and not all(step_done(step) for step in plan.steps.all()):
        _transition(plan, State.IN_REVIEW, actor, reason=body)
        body += " The plan is back in review and needs that sign-off again, from someone else."
    _tell((_plan_people(plan) | signers_needed(plan)) - {user}, plan, "A sign-off no longer counts", body)
    _ask_for_review(plan, actor, body, steps=list({sign_off.step_id: sign_off.step for sign_off in gone}.values()))
    return len(gone)


# Rollout


@refusals_audited
def start_rollout(*, plan: MigrationPlan, user, now: dt.datetime | None = None) -> MigrationPlan:
    """Send the first stage's share of requests to the candidate."""
    now = now or timezone.now()
    plan = _locked(plan)
    _require_state(plan, user, "start the rollout", [State.APPROVED])
    _require_rollout_role(plan, user, "start the rollout")
    revision = current_revision(plan.environment)
    running = load_catalog_view(revision.provider_id).resolve(revision.default_model)
    if running != plan.from_snapshot or revision.provider_id != (plan.from_provider_id or revision.provider_id):
        message = f"{plan.environment} now runs {running}, not {plan.from_snapshot}; write a new plan from there."
        _refuse(plan, user, "start the rollout", "stale_plan", message)
    if MigrationPlan.objects.filter(environment=plan.environment, state=State.ROLLING_OUT).exists():
        _refuse(plan, user, "start the rollout", "another_rollout", "Another plan is rolling out in this environment.")
    plan.baseline_policy = {
        "provider_id": revision.provider_id,
        "default_model": revision.default_model,
        "allowed_snapshots": revision.allowed_snapshots,
    }
    plan.rollout_started_at = now
    _enter_stage(plan, 0, user, now)
    _transition(plan, State.ROLLING_OUT, Actor.for_user(user), percent=plan.stage_percent)
    _announce_move(plan, Actor.for_user(user), "started")
    _tell(
        _plan_people(plan),
        plan,
        f"Rollout started at {plan.stage_percent}%",
        f"Observed for {duration_words(plan.observation_window)}.",
    )
    return plan


@refusals_audited
def advance_rollout(
    *, plan: MigrationPlan, user, now: dt.datetime | None = None, override_reason: str = ""
) -> MigrationPlan:
    """The next stage, or completion after the last; before the window ends only an admin override may."""
    now = now or timezone.now()
    plan = _locked(plan)
    _require_state(plan, user, "advance the rollout", [State.ROLLING_OUT])
    _require_rollout_role(plan, user, "advance the rollout")
    if plan.health == MigrationPlan.Health.FAILING:
        _refuse(plan, user, "advance the rollout", "health_gate_failing", "A health gate is failing; advancing waits.")
    ends = plan.window_ends_at()
    if ends is not None and now < ends:
        left = duration_words(ends - now)
        if not override_reason.strip():
            message = f"The observation window has {left} left; an admin may override it with a reason."
            _refuse(plan, user, "advance the rollout", "window_open", message)
        _audit(plan, "migration.window_overridden", Actor.for_user(user), reason=override_reason, left=left)
    if plan.is_last_stage:
        return _complete(plan, user, now)
    _enter_stage(plan, plan.current_stage + 1, user, now)
    _audit(plan, "migration.rollout_advanced", Actor.for_user(user), percent=plan.stage_percent)
    _announce_move(plan, Actor.for_user(user), "advanced")
    _tell(_plan_people(plan), plan, f"Rollout at {plan.stage_percent}%", f"{plan.to_snapshot} now takes more traffic.")
    return plan


def _enter_stage(plan: MigrationPlan, index: int, user, now: dt.datetime) -> None:
    plan.current_stage, plan.stage_started_at = index, now
    plan.health, plan.health_figures = MigrationPlan.Health.UNKNOWN, {}
    plan.save()
    percent = plan.stage_percent
    if plan.crosses_providers and percent == 100:
        _cut_over(plan, user)
        return
    at = f" at {plan.to_provider.name}" if plan.crosses_providers else ""
    revise_policy(
        environment=plan.environment,
        provider=current_revision(plan.environment).provider,
        actor=Actor.for_user(user),
        reason=f"Migration plan #{plan.pk}: {percent}% of requests to {plan.to_snapshot}{at}.",
        created_by=user,
        through_plan=plan,
        canary_snapshot=plan.to_snapshot,
        canary_provider_id=plan.to_provider_id if plan.crosses_providers else None,
        canary_percent=percent,
    )


def _cut_over(plan: MigrationPlan, user) -> None:
    """Move every request to the other provider's snapshot: pinned and the only one allowed there. The policy's
    size and feature limits keep only what the new snapshot offers (none left: no limit beyond the snapshot's)."""
    target = Snapshot.objects.get(provider=plan.to_provider, name=plan.to_snapshot)
    revision = current_revision(plan.environment)
    revise_policy(
        environment=plan.environment,
        provider=plan.to_provider,
        actor=Actor.for_user(user),
        reason=f"Migration plan #{plan.pk}: cut over to {plan.to_snapshot} at {plan.to_provider.name}.",
        created_by=user,
        through_plan=plan,
        default_model=plan.to_snapshot,
        allowed_snapshots=allowed_after_move(
            revision.allowed_snapshots, plan.from_snapshot, plan.to_snapshot, crosses_providers=True
        ),
        canary_snapshot="",
        canary_percent=0,
        allowed_sizes=[size for size in revision.allowed_sizes or [] if size in target.sizes] or None,
        allowed_features=[name for name in revision.allowed_features or [] if name in target.features] or None,
    )


def _complete(plan: MigrationPlan, user, now: dt.datetime) -> MigrationPlan:
    revision = current_revision(plan.environment)
    if plan.crosses_providers:
        if revision.provider_id != plan.to_provider_id:
            _cut_over(plan, user)
        return _finish(plan, user, now)
    revise_policy(
        environment=plan.environment,
        provider=revision.provider,
        actor=Actor.for_user(user),
        reason=f"Migration plan #{plan.pk} completed: {plan.environment} pinned to {plan.to_snapshot}.",
        created_by=user,
        through_plan=plan,
        default_model=plan.to_snapshot,
        allowed_snapshots=allowed_after_move(
            revision.allowed_snapshots, plan.from_snapshot, plan.to_snapshot, crosses_providers=False
        ),
        canary_snapshot="",
        canary_percent=0,
    )
    return _finish(plan, user, now)


def allowed_after_move(
    allowed: list[str], from_snapshot: str, to_snapshot: str, *, crosses_providers: bool
) -> list[str]:
    """The allowed snapshots a completed plan leaves: the new snapshot in the old one's place, the others kept;
    at another provider the new snapshot alone (the others are not that provider's)."""
    if crosses_providers:
        return [to_snapshot]
    moved = [to_snapshot if snapshot == from_snapshot else snapshot for snapshot in allowed]
    return list(dict.fromkeys([*moved, to_snapshot]))


def _finish(plan: MigrationPlan, user, now: dt.datetime) -> MigrationPlan:
    plan.finished_at = now
    _transition(plan, State.COMPLETED, Actor.for_user(user))
    _announce_move(plan, Actor.for_user(user), "completed")
    _tell(_plan_people(plan), plan, "Migration completed", f"{plan.environment} now runs {plan.to_snapshot}.")
    return plan


@refusals_audited
def roll_back(
    *, plan: MigrationPlan, user=None, reason: str, now: dt.datetime | None = None, figures: dict | None = None
) -> MigrationPlan:
    """Restore the from-snapshot and clear the canary, effective for the next generation and queued ones.

    `user` None is the health gate rolling back by itself. A plan superseded by a later plan never rolls
    back (that would undo the later one): a person is refused, the health gate records why it did not.
    """
    now = now or timezone.now()
    plan = _locked(plan)
    actor = Actor.for_user(user) if user is not None else Actor.system("health gate")
    if user is None and plan.state != State.ROLLING_OUT:
        return plan  # rolled back or completed by hand since the gate looked
    if user is not None:
        _require_state(plan, user, "roll back", [State.ROLLING_OUT, State.COMPLETED])
        if not permissions.may(user, plan.project, permissions.ROLL_BACK):
            _refuse(
                plan, user, "roll back", "role", f"Rolling back needs {permissions.role_needed(permissions.ROLL_BACK)}."
            )
    lock_policy(plan.environment)  # no later plan writes a revision between this check and the rollback's
    if (later := plan.superseded_by()) is not None:
        if user is None:
            return _keep_superseded(plan, later, reason, figures or {})
        _refuse(plan, user, "roll back", "superseded", superseded_words(plan, later), superseded_by=later.pk)
    baseline = plan.baseline_policy or {"default_model": plan.from_snapshot, "allowed_snapshots": [plan.from_snapshot]}
    provider_id = baseline.get("provider_id") or current_revision(plan.environment).provider_id
    revise_policy(
        environment=plan.environment,
        provider=Provider.objects.get(pk=provider_id),
        actor=actor,
        reason=f"Migration plan #{plan.pk} rolled back to {plan.from_snapshot}: {reason}",
        created_by=user,
        through_plan=plan,
        default_model=baseline["default_model"],
        allowed_snapshots=baseline["allowed_snapshots"],
        canary_snapshot="",
        canary_percent=0,
    )
    plan.finished_at = now
    _transition(plan, State.ROLLED_BACK, actor, reason=reason, percent=plan.stage_percent, figures=figures or {})
    _announce_move(plan, actor, "rolled_back", reason=reason)
    _tell(_plan_people(plan) | _admins(plan.project), plan, "Migration rolled back", reason)
    return plan


def superseded_words(plan: MigrationPlan, later: MigrationPlan) -> str:
    """Why a superseded plan does not roll back, for the refusal and the plan's page."""
    return (
        f"Plan #{later.pk} ({later.from_snapshot} → {later.to_snapshot}) has moved {plan.environment} on since; "
        f"rolling plan #{plan.pk} back would silently undo it. Only the plan whose policy revision is in force "
        f"may roll back: roll back plan #{later.pk}, or write a new plan."
    )


def _keep_superseded(plan: MigrationPlan, later: MigrationPlan, reason: str, figures: dict) -> MigrationPlan:
    """The health gate would roll back a plan another plan has superseded: it does not, and says so."""
    why = superseded_words(plan, later)
    _audit(plan, "migration.rollback_skipped", Actor.system("health gate"), reason=reason, why=why, figures=figures)
    _tell(_plan_people(plan) | _admins(plan.project), plan, "Automatic rollback not done: plan superseded", why)
    return plan


# Health gates


def check_health(*, plan: MigrationPlan, now: dt.datetime | None = None) -> MigrationPlan:
    """Judge the current stage's window; a failing gate rolls back (when enabled) or blocks advancing."""
    now = now or timezone.now()
    judgement = health.judge(plan, now)
    was = plan.health
    MigrationPlan.objects.filter(pk=plan.pk).update(
        health=judgement.status, health_figures=judgement.figures, health_checked_at=now
    )
    plan.health, plan.health_figures, plan.health_checked_at = judgement.status, judgement.figures, now
    if judgement.status != MigrationPlan.Health.FAILING or was == MigrationPlan.Health.FAILING:
        return plan
    if plan.auto_rollback:
        return roll_back(
            plan=plan, reason=f"Health gate failed: {judgement.reason}", now=now, figures=judgement.figures
        )
    with transaction.atomic():
        _audit(plan, "migration.health_gate_failed", Actor.system("health gate"), reason=judgement.reason)
        _tell(
            _plan_people(plan) | _admins(plan.project), plan, "Health gate failing: rollout blocked", judgement.reason
        )
    return plan


def check_rollouts(*, now: dt.datetime | None = None) -> int:
    """Evaluate every rollout in progress; the periodic task's one job. Returns how many were checked."""
    now = now or timezone.now()
    plans = list(MigrationPlan.objects.filter(state=State.ROLLING_OUT).select_related("project", "environment"))
    for plan in plans:
        plan = check_health(plan=plan, now=now)
        if plan.state == State.ROLLING_OUT:
            _tell_when_window_ends(plan, now)
    return len(plans)


def _tell_when_window_ends(plan: MigrationPlan, now: dt.datetime) -> None:
    """Once per stage, when its observation window is over, tell the admins the rollout may advance."""
    ends = plan.window_ends_at()
    if ends is None or now < ends or plan.window_told_stage == plan.current_stage:
        return
    with transaction.atomic():
        told = MigrationPlan.objects.filter(pk=plan.pk, state=State.ROLLING_OUT).exclude(
            window_told_stage=plan.current_stage
        )
        if told.update(window_told_stage=plan.current_stage):
            health_words = plan.get_health_display().lower()
            window = duration_words(plan.observation_window)
            body = f"The {plan.stage_percent}% stage was observed for {window}; health: {health_words}."
            _tell(_admins(plan.project), plan, "Observation window over: ready to advance", body)


# Comparison runs


DEFAULT_PROMPTS = [
    "A red fox trotting through fresh snow at dawn, slow tracking shot",
    "Close-up of hands kneading bread dough on a floured wooden table",
    "A city street at night in the rain, neon reflections, handheld camera",
]


@refusals_audited
def run_comparison(*, plan: MigrationPlan, user) -> list[ComparisonPair]:
    """Run each of the project's comparison prompts on both snapshots, through the gateway's own path.

    Both generations are in the log, marked as comparison runs, submitted with the
    environment's playground key on behalf of `user`; the worker runs them as usual.
    A plan to another provider's snapshot runs its candidate at that provider.
    """
    plan = _locked(plan)
    _require_state(plan, user, "run a comparison", MigrationPlan.EDITABLE)
    if not permissions.may(user, plan.project, permissions.RUN_COMPARISON):
        needed = permissions.role_needed(permissions.RUN_COMPARISON)
        _refuse(plan, user, "run a comparison", "role", f"Running comparisons needs {needed}.")
    prompts = list(ComparisonPrompt.objects.filter(project=plan.project)) or [
        ComparisonPrompt(prompt=text) for text in DEFAULT_PROMPTS
    ]
    holder = playground_holder(environment=plan.environment, user=user)
    arms = [
        ComparisonRun(plan.from_snapshot),
        ComparisonRun(plan.to_snapshot, plan.to_provider_id if plan.crosses_providers else None),
    ]
    pairs = []
    for prompt in prompts:
        runs = []
        for comparison in arms:
            fields = {"prompt": prompt.prompt, "model": comparison.snapshot, "seconds": str(prompt.seconds)}
            submission, _ = parse_submission(Operation.CREATE, body={**fields, "size": prompt.size})
            runs.append(submit(holder=holder, submission=submission, submitted_by=user, comparison=comparison))
        pairs.append(
            ComparisonPair.objects.create(plan=plan, prompt=prompt.prompt, baseline=runs[0], candidate=runs[1])
        )
    _audit(plan, "migration.comparison_run", Actor.for_user(user), pairs=len(pairs))
    return pairs


@refusals_audited
def record_benchmark(*, plan: MigrationPlan, user) -> ChecklistStep:
    """Fix today's benchmark figures as the benchmark step's evidence (its sign-offs are reset)."""
    plan = _locked(plan)
    _require_state(plan, user, "record the benchmark", MigrationPlan.EDITABLE)
    if not permissions.may(user, plan.project, permissions.ADD_EVIDENCE):
        needed = permissions.role_needed(permissions.ADD_EVIDENCE)
        _refuse(plan, user, "record the benchmark", "role", f"Recording evidence needs {needed}.")
    step = plan.steps.filter(kind=StepKind.BENCHMARK).first()
    if step is None:
        _refuse(plan, user, "record the benchmark", "no_step", "This plan's checklist has no benchmark step.")
    lines = []
    for source, figures in health.benchmark_figures(plan).items():
        for snapshot, arm in figures.items():
            lines.append(f"{source}, {snapshot}: {health.figures_in_words(arm)}")
    step.evidence = "\n".join(lines)
    step.save(update_fields=["evidence"])
    reset = _reset_sign_offs(plan, step.sign_offs.all())
    if reset and plan.state == State.APPROVED:
        plan.state = State.IN_REVIEW
        plan.save(update_fields=["state"])
    _audit(plan, "migration.evidence_updated", Actor.for_user(user), step=step.title, sign_offs_reset=reset)
    if reset:
        _ask_for_review(plan, Actor.for_user(user), _evidence_changed_words(user, step), steps=[step])
    return step


@refusals_audited
def judge_pair(*, plan: MigrationPlan, pair: ComparisonPair, user, verdict: str) -> ComparisonPair:
    """A reviewer's verdict on one finished pair; the verdicts become the compatibility step's evidence.

    Whoever gives one is thereby an author of that evidence and does not sign the step off (`verdict_givers`).
    """
    plan = _locked(plan)
    _require_state(plan, user, "judge a comparison", MigrationPlan.EDITABLE)
    if not permissions.may(user, plan.project, permissions.JUDGE_COMPARISON) or plan.proposed_by(user):
        message = "Pairs are judged by approvers other than the plan's author and editors."
        _refuse(plan, user, "judge a comparison", "role", message)
    if pair.plan_id != plan.pk or verdict not in ComparisonPair.Verdict.values:
        _refuse(plan, user, "judge a comparison", "bad_verdict", "Choose equivalent, better, worse or broken.")
    pair = ComparisonPair.objects.select_related("baseline", "candidate").get(pk=pair.pk)  # its runs as they are now
    if not pair.is_finished:
        message = (
            f"This pair's runs have not both finished (baseline {pair.baseline.get_status_display().lower()}, "
            f"candidate {pair.candidate.get_status_display().lower()}); judge it once they have."
        )
        _refuse(plan, user, "judge a comparison", "unfinished", message)
    pair.verdict, pair.verdict_by = verdict, user
    pair.save(update_fields=["verdict", "verdict_by"])
    _audit(plan, "migration.comparison_judged", Actor.for_user(user), prompt=pair.prompt[:100], verdict=verdict)
    step = plan.steps.filter(kind=StepKind.COMPATIBILITY).first()
    if step is not None:
        step.evidence = _verdict_evidence(plan)
        step.save(update_fields=["evidence"])
        reset = _reset_sign_offs(plan, step.sign_offs.all())
        if reset and plan.state == State.APPROVED:
            plan.state = State.IN_REVIEW
            plan.save(update_fields=["state"])
        if reset:
            _ask_for_review(plan, Actor.for_user(user), _evidence_changed_words(user, step), steps=[step])
    return pair


def _verdict_evidence(plan: MigrationPlan) -> str:
    pairs = list(plan.comparisons.all())
    counts = {v: sum(1 for p in pairs if p.verdict == v) for v in ComparisonPair.Verdict.values}
    unjudged = sum(1 for p in pairs if not p.verdict)
    judged = ", ".join(f"{n} {v}" for v, n in counts.items())
    return f"Comparison run of {len(pairs)} prompt pairs: {judged}; {unjudged} not judged yet."


# Shared steps


def _locked(plan: MigrationPlan) -> MigrationPlan:
    return MigrationPlan.objects.select_for_update().select_related("project", "environment", "author").get(pk=plan.pk)


def _transition(plan: MigrationPlan, state: str, actor: Actor, **payload) -> None:
    before = plan.state
    plan.state = state
    plan.updated_at = timezone.now()
    plan.save()
    _audit(plan, "migration.state_changed", actor, state_from=before, state_to=state, **payload)


def _audit(plan: MigrationPlan, action: str, actor: Actor, **payload) -> None:
    record_event(
        action=action,
        actor=actor,
        target=plan,
        project=plan.project,
        environment=plan.environment,
        payload={"plan": plan.pk, "from": plan.from_snapshot, "to": plan.to_snapshot, **payload},
    )


def _refuse(plan: MigrationPlan, user, attempt: str, code: str, message: str, **payload):
    """Refuse; `refusals_audited` records the attempt once the service's transaction is rolled back."""
    raise PlanRefused(code, message, plan=plan, user=user, attempt=attempt, **payload)


def _require_state(plan: MigrationPlan, user, attempt: str, states) -> None:
    if refusal := _state_refusal(plan, user, attempt, states):
        raise refusal


def _state_refusal(plan: MigrationPlan, user, attempt: str, states) -> PlanRefused | None:
    if plan.state in states:
        return None
    message = f"Cannot {attempt}: the plan is {plan.get_state_display().lower()}."
    return PlanRefused("wrong_state", message, plan=plan, user=user, attempt=attempt)


def _require_author_or_admin(plan: MigrationPlan, user, attempt: str) -> None:
    if refusal := _author_or_admin_refusal(plan, user, attempt):
        raise refusal


def _author_or_admin_refusal(plan: MigrationPlan, user, attempt: str) -> PlanRefused | None:
    if user.pk == plan.author_id or permissions.may(user, plan.project, permissions.MANAGE_PLANS):
        return None
    return PlanRefused("role", f"Only the author or an admin may {attempt}.", plan=plan, user=user, attempt=attempt)


def _require_rollout_role(plan: MigrationPlan, user, attempt: str) -> None:
    if not permissions.may(user, plan.project, permissions.RUN_ROLLOUT):
        _refuse(plan, user, attempt, "role", f"To {attempt} needs {permissions.role_needed(permissions.RUN_ROLLOUT)}.")


def _plan_people(plan: MigrationPlan) -> set:
    people = {plan.author}
    for step in plan.steps.prefetch_related("approvers", "sign_offs__user"):
        people |= set(step.approvers.all()) | {s.user for s in step.sign_offs.all()}
    return people


def _admins(project: Project) -> set:
    return {m.user for m in Membership.objects.filter(project=project, role=Role.ADMIN).select_related("user")}


def _tell(people: set, plan: MigrationPlan, title: str, body: str = "") -> None:
    notify(
        people,
        kind="migration",
        title=f"{title}: {plan.environment} {plan.from_snapshot} → {plan.to_snapshot}",
        body=body,
        url=plan_url(plan),
        project=plan.project,
    )


def _ask_for_review(plan: MigrationPlan, actor: Actor, why: str, steps=None) -> None:
    """Announce (`events.review_requested`) the steps of a plan in review that still need sign-offs.

    `steps` None means every step of the plan; steps already done are left out, and nothing is announced
    for a plan that is not in review or needs no more sign-offs.
    """
    if plan.state != State.IN_REVIEW:
        return
    waiting = [step for step in (plan.steps.all() if steps is None else steps) if not step_done(step)]
    if waiting:
        events.review_requested.send(MigrationPlan, plan=plan, actor=actor, steps=waiting, why=why)


def _announce_move(plan: MigrationPlan, actor: Actor, move: str, reason: str = "") -> None:
    """Announce (`events.rollout_moved`) a rollout that started, advanced, completed or rolled back."""
    events.rollout_moved.send(
        MigrationPlan, plan=plan, actor=actor, move=move, percent=plan.stage_percent, reason=reason
    )


def _hours(window: dt.timedelta) -> float:
    return round(window.total_seconds() / 3600, 2)


def duration_words(delta: dt.timedelta) -> str:
    """A window or what is left of it as people read it: '24 h 0 min', '21 h 59 min', '5 min'."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


# The project's checklist template and prompt set


@transaction.atomic
def save_template_step(*, project: Project, user, values: dict, approvers: list, step=None) -> ChecklistTemplateStep:
    """Add or change one step of the project's checklist template; plans already made keep their own steps."""
    template_steps(project)
    if step is None:
        last = project.checklist_template.order_by("-position").first()
        step = ChecklistTemplateStep(project=project, position=(last.position + 1) if last else 1)
    for field, value in values.items():
        setattr(step, field, value)
    step.save()
    step.approvers.set(approvers)
    record_event(
        action="migration.template_step_saved",
        actor=Actor.for_user(user),
        target=step,
        project=project,
        payload={**{k: str(v) for k, v in values.items()}, "approvers": [u.get_username() for u in approvers]},
    )
    return step


@transaction.atomic
def remove_template_step(*, project: Project, user, step: ChecklistTemplateStep) -> None:
    if project.checklist_template.count() <= 1:
        raise ValidationError("A checklist needs at least one step.")
    record_event(
        action="migration.template_step_removed",
        actor=Actor.for_user(user),
        target=step,
        project=project,
        payload={"title": step.title},
    )
    step.delete()


@transaction.atomic
def set_prompt_set(*, project: Project, user, prompts: list[str]) -> None:
    """Replace the project's comparison prompts (one prompt each; the default length and size)."""
    prompts = [text.strip() for text in prompts if text.strip()]
    ComparisonPrompt.objects.filter(project=project).delete()
    ComparisonPrompt.objects.bulk_create(ComparisonPrompt(project=project, prompt=text) for text in prompts)
    record_event(
        action="migration.prompt_set_saved", actor=Actor.for_user(user), project=project, payload={"prompts": prompts}
    )
