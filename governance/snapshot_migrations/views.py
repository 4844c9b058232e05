"""The migration pages: thin views over the plan services; every one checks the role on the server."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from governance.catalog.models import Snapshot
from governance.catalog.selectors import load_catalog_view
from governance.policies.selectors import current_revision
from governance.projects import permissions
from governance.projects.models import Project
from governance.projects.permissions import requires
from governance.snapshot_migrations import selectors, services
from governance.snapshot_migrations.charts import health_charts
from governance.snapshot_migrations.forms import (
    EvidenceForm,
    PlanForm,
    PromptSetForm,
    RolloutForm,
    SignOffForm,
    TemplateStepForm,
)
from governance.snapshot_migrations.models import ComparisonPrompt, EvidenceFile, MigrationPlan
from governance.snapshot_migrations.services import PlanRefused

PLAN_PAGE = "snapshot_migrations/plan.html"


@require_safe
@login_required
def approvals(request: HttpRequest) -> HttpResponse:
    return render(request, "snapshot_migrations/approvals.html", {"waiting": selectors.awaiting_sign_off(request.user)})


@require_safe
@requires(permissions.VIEW_PROJECT)
def plan_list(request: HttpRequest, project: Project, role: str) -> HttpResponse:
    context = {
        "project": project,
        "role": role,
        "plans": selectors.plans_of(project),
        "may": permissions.allowed_actions(role),
    }
    return render(request, "snapshot_migrations/plan_list.html", context)


@require_http_methods(["GET", "POST"])
@requires(permissions.PLAN_MIGRATION)
def plan_create(request: HttpRequest, project: Project, role: str) -> HttpResponse:
    environments = list(project.environments.order_by("pk"))
    snapshots = _snapshot_choices(environments)
    target = request.GET.get("to", "")
    if target not in dict(snapshots) and target.partition(":")[2] in dict(snapshots):
        target = target.partition(":")[2]  # a link naming the environment's own provider
    initial = {"environment": request.GET.get("environment", ""), "to_snapshot": target}
    form_kwargs = {"environments": [e.name for e in environments], "snapshots": snapshots}
    form = PlanForm(request.POST or None, initial=initial, **form_kwargs)
    if request.method == "POST" and form.is_valid():
        environment = next(e for e in environments if e.name == form.cleaned_data["environment"])
        to_provider, to_snapshot = form.target()
        try:
            plan = services.create_plan(
                environment=environment,
                to_snapshot=to_snapshot,
                to_provider=to_provider,
                reason=form.cleaned_data["reason"],
                author=request.user,
                stages=form.cleaned_data["stages"],
                observation_window=form.observation_window(),
                auto_rollback=form.cleaned_data["auto_rollback"],
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, "Plan created as a draft. Add evidence, then submit it for review.")
            return redirect(services.plan_url(plan))
    status = 400 if request.method == "POST" else 200
    context = {"project": project, "role": role, "form": form, "pins": _pins(environments)}
    return render(request, "snapshot_migrations/plan_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
@requires(permissions.PLAN_MIGRATION)
def plan_edit(request: HttpRequest, project: Project, role: str, plan_id: int) -> HttpResponse:
    plan = _plan_or_404(project, plan_id)
    try:
        if request.method == "POST":
            services.require_editable(plan=plan, user=request.user)  # before the form: its errors would hide why
        elif refusal := services.edit_refusal(plan=plan, user=request.user):
            raise refusal
    except PlanRefused as refusal:
        context = {"project": project, "role": role, "plan": plan, "refusal": refusal}
        status = 403 if refusal.code == "role" else 409
        return render(request, "snapshot_migrations/plan_form.html", context, status=status)
    environments = [plan.environment]
    initial = {
        "environment": plan.environment.name,
        "to_snapshot": f"{plan.to_provider.slug}:{plan.to_snapshot}" if plan.crosses_providers else plan.to_snapshot,
        "reason": plan.reason,
        "stages": ", ".join(str(s) for s in plan.stages),
        "window_hours": round(plan.observation_window.total_seconds() / 3600, 2),
        "auto_rollback": plan.auto_rollback,
    }
    form = PlanForm(
        request.POST or None,
        initial=initial,
        environments=[plan.environment.name],
        snapshots=_snapshot_choices(environments),
    )
    form.fields["environment"].disabled = True
    if request.method == "POST" and form.is_valid():
        to_provider, to_snapshot = form.target()
        try:
            services.edit_plan(
                plan=plan,
                user=request.user,
                reason=form.cleaned_data["reason"],
                to_snapshot=to_snapshot,
                to_provider=to_provider,
                stages=form.cleaned_data["stages"],
                observation_window=form.observation_window(),
                auto_rollback=form.cleaned_data["auto_rollback"],
            )
        except PlanRefused as refusal:
            messages.error(request, refusal.message)
            return redirect(services.plan_url(plan))
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, "Plan saved. Any sign-offs given so far were reset.")
            return redirect(services.plan_url(plan))
    status = 400 if request.method == "POST" else 200
    context = {"project": project, "role": role, "form": form, "plan": plan, "pins": _pins(environments)}
    return render(request, "snapshot_migrations/plan_form.html", context, status=status)


@require_safe
@requires(permissions.VIEW_PROJECT)
def plan_detail(request: HttpRequest, project: Project, role: str, plan_id: int) -> HttpResponse:
    plan = selectors.plan_with_checklist(project, plan_id)
    if plan is None:
        raise Http404("No such migration plan.")
    return _render_plan(request, plan, role)


ACTIONS = {
    "submit": lambda plan, user, now, reason: services.submit_for_review(plan=plan, user=user),
    "benchmark": lambda plan, user, now, reason: services.record_benchmark(plan=plan, user=user),
    "cancel": lambda plan, user, now, reason: services.cancel_plan(plan=plan, user=user, reason=reason),
    "start": lambda plan, user, now, reason: services.start_rollout(plan=plan, user=user, now=now),
    "advance": lambda plan, user, now, reason: services.advance_rollout(
        plan=plan, user=user, now=now, override_reason=reason
    ),
    "rollback": lambda plan, user, now, reason: services.roll_back(
        plan=plan, user=user, now=now, reason=reason or "Rolled back by hand."
    ),
}


@require_POST
@requires(permissions.VIEW_PROJECT)
def plan_action(request: HttpRequest, project: Project, role: str, plan_id: int, action: str) -> HttpResponse:
    plan = _plan_or_404(project, plan_id)
    if action not in ACTIONS:
        raise Http404("No such action.")
    form = RolloutForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        ACTIONS[action](plan, request.user, timezone.now(), reason)
    except PlanRefused as refusal:
        return _refused(request, plan, role, refusal)
    return _back_to_plan(request, plan, role)


@require_POST
@requires(permissions.VIEW_PROJECT)
def step_sign_off(request: HttpRequest, project: Project, role: str, plan_id: int, step_id: int) -> HttpResponse:
    plan = _plan_or_404(project, plan_id)
    step = _step_or_404(plan, step_id)
    form = SignOffForm(request.POST)
    decision = form.data.get("decision", "")
    try:
        services.sign_off(
            plan=plan, step=step, user=request.user, decision=decision, comment=form.data.get("comment", "")
        )
    except PlanRefused as refusal:
        return _refused(request, plan, role, refusal)
    return _back_to_plan(request, plan, role)


@require_POST
@requires(permissions.ADD_EVIDENCE)
def step_evidence(request: HttpRequest, project: Project, role: str, plan_id: int, step_id: int) -> HttpResponse:
    plan = _plan_or_404(project, plan_id)
    step = _step_or_404(plan, step_id)
    form = EvidenceForm(request.POST)
    form.is_valid()
    data = form.cleaned_data
    try:
        services.update_evidence(
            plan=plan, step=step, user=request.user, evidence=data.get("evidence", ""), links=data.get("links", "")
        )
    except PlanRefused as refusal:
        return _refused(request, plan, role, refusal)
    return _back_to_plan(request, plan, role)


@require_POST
@requires(permissions.ADD_EVIDENCE)
def step_attach(request: HttpRequest, project: Project, role: str, plan_id: int, step_id: int) -> HttpResponse:
    """Attach one uploaded file to a step's evidence (the management API attaches links and files too)."""
    plan = _plan_or_404(project, plan_id)
    step = _step_or_404(plan, step_id)
    try:
        services.attach_evidence(plan=plan, step=step, user=request.user, file=request.FILES.get("file"))
    except PlanRefused as refusal:
        return _refused(request, plan, role, refusal)
    except ValidationError as error:
        return _refused(request, plan, role, PlanRefused("invalid", " ".join(error.messages)))
    return _back_to_plan(request, plan, role)


@require_safe
@requires(permissions.VIEW_PROJECT)
def evidence_file(
    request: HttpRequest, project: Project, role: str, plan_id: int, step_id: int, file_id: int
) -> FileResponse:
    """A file attached as evidence, always as a download: never shown in our pages' origin as it came."""
    plan = _plan_or_404(project, plan_id)
    attached = EvidenceFile.objects.filter(step__plan=plan, step_id=step_id, pk=file_id).first()
    if attached is None:
        raise Http404("No such evidence file.")
    return evidence_download(attached)


def evidence_download(attached: EvidenceFile) -> FileResponse:
    response = FileResponse(
        attached.file.open("rb"), as_attachment=True, filename=attached.name, content_type="application/octet-stream"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@require_POST
@requires(permissions.RUN_COMPARISON)
def comparison_run(request: HttpRequest, project: Project, role: str, plan_id: int) -> HttpResponse:
    plan = _plan_or_404(project, plan_id)
    try:
        pairs = services.run_comparison(plan=plan, user=request.user)
    except PlanRefused as refusal:
        return _refused(request, plan, role, refusal)
    started = f"{len(pairs)} comparison pair{'s' if len(pairs) != 1 else ''}"
    messages.success(request, f"Started {started}; they finish in the background.")
    return _back_to_plan(request, plan, role)


@require_POST
@requires(permissions.JUDGE_COMPARISON)
def comparison_verdict(request: HttpRequest, project: Project, role: str, plan_id: int, pair_id: int) -> HttpResponse:
    plan = _plan_or_404(project, plan_id)
    pair = plan.comparisons.filter(pk=pair_id).first()
    if pair is None:
        raise Http404("No such comparison pair.")
    try:
        services.judge_pair(plan=plan, pair=pair, user=request.user, verdict=request.POST.get("verdict", ""))
    except PlanRefused as refusal:
        return _refused(request, plan, role, refusal)
    return _back_to_plan(request, plan, role)


def _render_plan(request: HttpRequest, plan: MigrationPlan, role: str, *, refusal: str = "") -> HttpResponse:
    plan = selectors.plan_with_checklist(plan.project, plan.pk)
    now = timezone.now()
    ends = plan.window_ends_at()
    pairs = selectors.comparisons(plan)
    context = {
        "project": plan.project,
        "role": role,
        "plan": plan,
        "checklist": selectors.checklist(plan, request.user),
        "timeline": selectors.timeline(plan),
        "pairs": pairs,
        "comparisons_running": any(not pair.is_finished for pair in pairs),
        "verdicts": selectors.verdict_summary(pairs),
        "benchmark": selectors.benchmark(plan),
        "health_charts": health_charts(plan, now),
        "window_left": (ends - now) if ends and ends > now else None,
        "superseded_by": plan.superseded_by(),
        "refusal": refusal,
        "may": permissions.allowed_actions(role),
        "is_author": request.user.pk == plan.author_id,
        "proposed_it": plan.proposed_by(request.user),
        "sign_off_form": SignOffForm(),
        "verdict_choices": plan.comparisons.model.Verdict.choices,
    }
    template = PLAN_PAGE
    if request.htmx and not request.htmx.history_restore_request:
        template += "#plan-body"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _refused(request: HttpRequest, plan: MigrationPlan, role: str, refusal: PlanRefused) -> HttpResponse:
    if request.htmx:
        # htmx swaps only 2xx answers; the refusal is the fragment's alert (and audited by the service).
        return _render_plan(request, plan, role, refusal=refusal.message)
    messages.error(request, refusal.message)
    return redirect(services.plan_url(plan))


def _back_to_plan(request: HttpRequest, plan: MigrationPlan, role: str) -> HttpResponse:
    if request.htmx:
        return _render_plan(request, plan, role)
    return redirect(services.plan_url(plan))


def _plan_or_404(project: Project, plan_id: int) -> MigrationPlan:
    plan = MigrationPlan.objects.filter(project=project, pk=plan_id).select_related("project", "environment").first()
    if plan is None:
        raise Http404("No such migration plan.")
    return plan


def _step_or_404(plan: MigrationPlan, step_id: int):
    step = plan.steps.filter(pk=step_id).first()
    if step is None:
        raise Http404("No such step.")
    return step


def _snapshot_choices(environments) -> list[tuple[str, str]]:
    """Targets a plan may choose: the snapshots of the environments' own providers by name, then the
    reviewed, running snapshots of every other provider as `<provider slug>:<name>`, named with their provider."""
    own_providers = {revision.provider_id for e in environments if (revision := current_revision(e)) is not None}
    choices = [(name, name) for name in sorted({n for pk in own_providers for n in load_catalog_view(pk).snapshots})]
    today = timezone.now().date()
    others = (
        Snapshot.objects.exclude(provider_id__in=own_providers)
        .filter(reviewed=True)
        .exclude(shutdown_on__lte=today)
        .select_related("provider")
        .order_by("provider__name", "name")
    )
    choices += [(s.key, f"{s.name} ({s.provider.name}, another provider)") for s in others]
    return choices


def _pins(environments) -> dict:
    pins = {}
    for environment in environments:
        revision = current_revision(environment)
        if revision is not None:
            pins[environment.name] = load_catalog_view(revision.provider_id).resolve(revision.default_model)
    return pins


def _add_errors(form: PlanForm, error: ValidationError) -> None:
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, field_errors in error.error_dict.items():
        form.add_error(field if field in form.fields else None, field_errors)


@require_http_methods(["GET", "POST"])
@requires(permissions.EDIT_CHECKLIST)
def checklist_settings(request: HttpRequest, project: Project, role: str) -> HttpResponse:
    """The project's checklist template and comparison prompt set; new plans copy them."""
    members = [
        m.user
        for m in project.memberships.select_related("user").filter(
            role__in=permissions.roles_allowed(permissions.SIGN_OFF)
        )
    ]
    steps = services.template_steps(project)
    forms_by_step = {
        step.pk: TemplateStepForm(
            prefix=f"step-{step.pk}",
            members=members,
            initial={
                "title": step.title,
                "kind": step.kind,
                "description": step.description,
                "required_role": step.required_role,
                "minimum_sign_offs": step.minimum_sign_offs,
                "approvers": [str(u.pk) for u in step.approvers.all()],
            },
        )
        for step in steps
    }
    new_form = TemplateStepForm(prefix="new", members=members)
    prompts = "\n".join(p.prompt for p in ComparisonPrompt.objects.filter(project=project))
    prompt_form = PromptSetForm(initial={"prompts": prompts})
    if request.method == "POST":
        answer = _save_checklist_settings(request, project, steps, members, forms_by_step)
        if isinstance(answer, HttpResponse):
            return answer
        new_form = answer if answer.prefix == "new" else new_form
    context = {
        "project": project,
        "role": role,
        "rows": [(step, forms_by_step[step.pk]) for step in steps],
        "new_form": new_form,
        "prompt_form": prompt_form,
    }
    return render(
        request, "snapshot_migrations/checklist.html", context, status=400 if request.method == "POST" else 200
    )


def _save_checklist_settings(request, project: Project, steps, members, forms_by_step):
    """Apply one posted change; a redirect when it worked, else the form with its errors."""
    here = redirect("snapshot_migrations:checklist_settings", project.slug)
    action, step_id = request.POST.get("action", ""), request.POST.get("step", "")
    step = next((s for s in steps if str(s.pk) == step_id), None)
    if action == "prompts":
        services.set_prompt_set(
            project=project, user=request.user, prompts=request.POST.get("prompts", "").splitlines()
        )
        messages.success(request, "Prompt set saved.")
        return here
    if action == "remove" and step is not None:
        try:
            services.remove_template_step(project=project, user=request.user, step=step)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        return here
    form = TemplateStepForm(request.POST, prefix=f"step-{step.pk}" if step else "new", members=members)
    if action not in ("save", "add") or (action == "save" and step is None):
        raise Http404("No such change.")
    if not form.is_valid():
        if step is not None:
            forms_by_step[step.pk] = form
        return form
    services.save_template_step(
        project=project, user=request.user, values=form.values(), approvers=form.chosen_approvers(), step=step
    )
    messages.success(request, "Checklist template saved; new plans use it.")
    return here
