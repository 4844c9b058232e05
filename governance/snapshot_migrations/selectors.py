"""Reads for the migration pages: plans, what awaits a person's sign-off, a plan's timeline and evidence."""

from collections import Counter
from dataclasses import dataclass

from django.db.models import Prefetch, Q, QuerySet

from governance.audit.models import AuditEvent
from governance.projects import permissions
from governance.projects.models import Membership, Role
from governance.snapshot_migrations import health
from governance.snapshot_migrations.models import ChecklistStep, ComparisonPair, EvidenceFile, MigrationPlan, SignOff
from governance.snapshot_migrations.services import approvals, sign_off_refusal, step_done, verdict_givers


def plans_of(project) -> QuerySet:
    return MigrationPlan.objects.filter(project=project).select_related("environment", "author")


def plan_with_checklist(project, plan_id: int) -> MigrationPlan | None:
    sign_offs = SignOff.objects.select_related("user").order_by("created_at", "pk")
    files = EvidenceFile.objects.select_related("added_by")
    steps = ChecklistStep.objects.prefetch_related(
        "approvers", Prefetch("sign_offs", queryset=sign_offs), Prefetch("evidence_files", queryset=files)
    )
    return (
        MigrationPlan.objects.filter(project=project, pk=plan_id)
        .select_related("project", "environment", "author")
        .prefetch_related(Prefetch("steps", queryset=steps), "comparisons")
        .first()
    )


def awaiting_sign_off(user) -> list[tuple[MigrationPlan, list[ChecklistStep]]]:
    """Plans in review with a step this user may sign now."""
    if not user.is_authenticated:
        return []
    plans = MigrationPlan.objects.filter(state=MigrationPlan.State.IN_REVIEW).exclude(author=user).exclude(editors=user)
    if not user.is_superuser:
        projects = Membership.objects.filter(user=user, role__in=permissions.roles_allowed(permissions.SIGN_OFF))
        projects = projects.values("project")
        plans = plans.filter(project__in=projects)
    waiting = []
    roles: dict[int, str | None] = {}
    for plan in plans.select_related("project", "environment", "author").prefetch_related(
        "steps__approvers", "steps__sign_offs", "comparisons"
    ):
        if plan.project_id not in roles:
            roles[plan.project_id] = permissions.project_role(user, plan.project)
        steps = [s for s in plan.steps.all() if _may_sign_now(s, user, roles[plan.project_id])]
        if steps:
            waiting.append((plan, steps))
    return waiting


def _may_sign_now(step: ChecklistStep, user, role: str | None) -> bool:
    """`sign_off_refusal`'s rules for a plan already known to be in review and not the user's, from prefetched rows."""
    if step_done(step) or role is None or Role.rank(role) < Role.rank(step.required_role):
        return False
    if step.evidence_by_id == user.pk or user.pk in verdict_givers(step):
        return False
    named = list(step.approvers.all())
    if named and user not in named:
        return False
    return not any(s.user_id == user.pk and s.reset_at is None for s in step.sign_offs.all())


def awaiting_count(user) -> int:
    return len(awaiting_sign_off(user))


@dataclass(frozen=True)
class StepView:
    step: ChecklistStep
    approvals: int
    done: bool
    sign_offs: list
    may_sign: bool
    refusal: str


def checklist(plan: MigrationPlan, user) -> list[StepView]:
    rows = []
    for step in plan.steps.all():
        refusal = sign_off_refusal(plan, step, user)
        rows.append(
            StepView(
                step=step,
                approvals=len(approvals(step)),
                done=step_done(step),
                sign_offs=list(step.sign_offs.all()),
                may_sign=refusal is None,
                refusal=refusal.message if refusal else "",
            )
        )
    return rows


def timeline(plan: MigrationPlan) -> QuerySet:
    """Every audited event of the plan and the policy revisions it wrote, oldest first."""
    own = Q(object_type=plan._meta.label_lower, object_id=str(plan.pk))
    revisions = Q(
        action="policy.revised",
        environment_id=plan.environment_id,
        payload__reason__startswith=f"Migration plan #{plan.pk}:",
    )
    return AuditEvent.objects.filter(own | revisions).order_by("sequence")


def comparisons(plan: MigrationPlan) -> list[ComparisonPair]:
    return list(plan.comparisons.select_related("baseline", "candidate", "verdict_by"))


def verdict_summary(pairs: list[ComparisonPair]) -> dict:
    counts = Counter(pair.verdict or "unjudged" for pair in pairs)
    return {key: counts.get(key, 0) for key in [*ComparisonPair.Verdict.values, "unjudged"]}


def benchmark(plan: MigrationPlan) -> dict:
    return health.benchmark_figures(plan)
